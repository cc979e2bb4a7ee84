"""Alert rules and signed webhooks end to end (issue 16), with a real local HTTP receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import orjson
import pytest
from aiohttp import web

from engine.board import Quote
from sbws.market.records import Batch
from sbws.server.app import make_app
from sbws.server.keys import NODE
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, make_user, opening_batch, receive_type, wait_for
from tests.serverproc import free_port

SECRET = "a-long-enough-webhook-secret"
SPREAD = "lal-bos:spread:-3.5"
SKIP = ("heartbeat", "sportsbooks", "market_update", "arbitrage_update")


class Receiver:
    """A webhook endpoint that answers with the statuses it is given, then 200, and keeps every request."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []

    async def handle(self, request):
        self.requests.append((dict(request.headers), await request.read(), time.monotonic()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)


@pytest.fixture
async def receiver():
    rec = Receiver([500])
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rec.url = f"http://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


@pytest.fixture
def settings(tmp_path):
    return fast_settings(tmp_path, allow_private_webhooks=True)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


async def evaluations(client, n: int) -> None:  # type: ignore[no-untyped-def]
    """Until the alerter has evaluated the rules ``n`` more times (an absence is proven by evaluations, not by time)."""
    alerter = client.server.app[NODE].alerter
    target = alerter.evaluations + n
    await wait_for(lambda: alerter.evaluations >= target, timeout=10)


async def test_alert_push_signed_webhook_retry_no_duplicate_and_mute(client, settings, feed, receiver):
    token = make_user(settings.db, "alice")
    ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    hook = await client.post("/api/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=auth(token))
    assert hook.status == 201
    hook_id = (await hook.json())["webhook"]["id"]
    assert "secret" not in (await hook.json())["webhook"]
    made = await client.post("/api/alerts", json={"kind": "arbitrage", "minEdge": 1, "sports": ["NBA"],
                                                  "webhook": hook_id}, headers=auth(token))
    assert made.status == 201
    rule = (await made.json())["rule"]
    assert rule["kind"] == "arbitrage" and rule["minEdge"] == 1 and rule["webhook"] == hook_id

    alert = (await receive_type(ws, "alert", skip=SKIP))["alert"]
    [arb_id] = list(app_state(client).live("arbitrage"))
    assert alert["ruleId"] == rule["id"] and alert["kind"] == "arbitrage" and alert["item"]["id"] == arb_id
    # The receiver answered 500 first: the delivery is retried after a backoff, and signed each time.
    await wait_for(lambda: len(receiver.requests) >= 2, timeout=10)
    (h1, body1, at1), (h2, body2, at2) = receiver.requests[:2]
    assert body1 == body2 and h1["X-Sbws-Delivery"] == h2["X-Sbws-Delivery"] and at2 - at1 >= 0.25
    want = "sha256=" + hmac.new(SECRET.encode(), body2, hashlib.sha256).hexdigest()
    assert h2["X-Sbws-Signature"] == want and int(h2["X-Sbws-Timestamp"]) > 0
    payload = orjson.loads(body2)
    assert payload["type"] == "alert" and payload["alert"]["id"] == alert["id"] and payload["alert"]["item"]["id"] == arb_id
    deliveries = []
    for _ in range(100):  # the second attempt is recorded just after the receiver answered it
        deliveries = (await (await client.get(f"/api/webhooks/{hook_id}/deliveries", headers=auth(token))).json())["deliveries"]
        if len(deliveries) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted((d["attempt"], d["status"]) for d in deliveries) == [(1, 500), (2, 200)]

    # No duplicate for the same opportunity while it stays open: the rules are evaluated again, nothing is sent.
    await evaluations(client, 2)
    assert len(receiver.requests) == 2
    listing = await (await client.get("/api/alerts", headers=auth(token))).json()
    assert [r["id"] for r in listing["rules"]] == [rule["id"]] and [a["id"] for a in listing["recent"]] == [alert["id"]]

    # Muted: the opportunity closes and reopens without an alert; unmuted, it alerts again.
    muted = await client.patch(f"/api/alerts/{rule['id']}", json={"mutedUntil": int(time.time() * 1000) + 600_000},
                               headers=auth(token))
    assert muted.status == 200 and (await muted.json())["rule"]["mutedUntil"] > 0
    ts = time.time()
    feed.push(Batch(ts, [], [], [Quote(SPREAD, 0, "pinnacle", 1.90, ts)], (), (), ()))
    await wait_for(lambda: not app_state(client).live("arbitrage"))
    await evaluations(client, 1)  # the alerter saw it closed
    feed.push(Batch(ts, [], [], [Quote(SPREAD, 0, "pinnacle", 2.10, time.time())], (), (), ()))
    await wait_for(lambda: bool(app_state(client).live("arbitrage")))
    await evaluations(client, 2)
    assert len(receiver.requests) == 2
    await client.patch(f"/api/alerts/{rule['id']}", json={"mutedUntil": None}, headers=auth(token))
    again = (await receive_type(ws, "alert", skip=SKIP, timeout=10))["alert"]
    assert again["id"] != alert["id"] and again["item"]["id"] == arb_id
    await wait_for(lambda: len(receiver.requests) == 3, timeout=10)


async def test_rules_are_private_and_validated(client, settings):
    alice, bob = make_user(settings.db, "alice"), make_user(settings.db, "bob")
    hook = await (await client.post("/api/webhooks", json={"url": "https://hooks.example.com/x", "secret": SECRET},
                                    headers=auth(alice))).json()
    rule = await (await client.post("/api/alerts", json={"kind": "value", "minEv": 2}, headers=auth(alice))).json()
    rule_id, hook_id = rule["rule"]["id"], hook["webhook"]["id"]
    assert (await (await client.get("/api/alerts", headers=auth(bob))).json())["rules"] == []
    assert (await client.delete(f"/api/alerts/{rule_id}", headers=auth(bob))).status == 404
    assert (await client.patch(f"/api/alerts/{rule_id}", json={"mutedUntil": 1}, headers=auth(bob))).status == 404
    assert (await client.get(f"/api/webhooks/{hook_id}/deliveries", headers=auth(bob))).status == 404
    stolen = await client.post("/api/alerts", json={"kind": "steam", "webhook": hook_id}, headers=auth(bob))
    assert stolen.status == 404 and (await stolen.json())["field"] == "webhook"
    assert (await (await client.get("/api/webhooks", headers=auth(bob))).json())["webhooks"] == []
    for path in ("/api/alerts", "/api/webhooks"):
        assert (await client.get(path)).status == 401
    assert (await client.post("/api/alerts", json={"kind": "value"})).status == 401
    for body, field in (({"kind": "parlay"}, "kind"), ({"kind": "value", "minEdge": 1}, "minEdge"),
                        ({"kind": "steam", "minEv": 1}, "minEv"), ({"kind": "arbitrage", "sports": "NBA"}, "sports"),
                        ({}, "kind")):
        bad = await client.post("/api/alerts", json=body, headers=auth(alice))
        assert bad.status == 400 and (await bad.json())["field"] == field
    assert (await client.patch(f"/api/alerts/{rule_id}", json={}, headers=auth(alice))).status == 400
    short = await client.post("/api/webhooks", json={"url": "https://hooks.example.com/", "secret": "short"},
                              headers=auth(alice))
    assert short.status == 400 and (await short.json())["field"] == "secret"
    assert (await client.delete(f"/api/alerts/{rule_id}", headers=auth(alice))).status == 204
    assert (await (await client.get("/api/alerts", headers=auth(alice))).json())["rules"] == []


async def test_private_webhook_targets_need_the_flag(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path), ScriptedFeed([opening_batch()]))
    client = await aiohttp_client(app)
    token = make_user(str(tmp_path / "ledger.db"), "carol")
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/hook"):
        refused = await client.post("/api/webhooks", json={"url": url, "secret": SECRET}, headers=auth(token))
        assert refused.status == 400 and "--allow-private-webhooks" in (await refused.json())["message"]
    ok = await client.post("/api/webhooks", json={"url": "https://hooks.example.com/x", "secret": SECRET},
                           headers=auth(token))
    assert ok.status == 201


async def test_rules_and_webhooks_are_capped_per_user(aiohttp_client, tmp_path):
    """Issue 22, item 4: past --max-alert-rules or --max-webhooks a create is refused (429) and writes nothing."""
    app = await make_app(fast_settings(tmp_path, max_alert_rules=2, max_webhooks=1), ScriptedFeed([opening_batch()]))
    client = await aiohttp_client(app)
    token, other = make_user(str(tmp_path / "ledger.db"), "dan"), make_user(str(tmp_path / "ledger.db"), "eve")
    made = [await client.post("/api/alerts", json={"kind": "steam"}, headers=auth(token)) for _ in range(3)]
    assert [r.status for r in made] == [201, 201, 429]
    refused = await made[2].json()
    assert refused["code"] == "NX-429" and refused["reason"] == "limit" and refused["limit"] == 2
    assert len((await (await client.get("/api/alerts", headers=auth(token))).json())["rules"]) == 2
    assert (await client.post("/api/alerts", json={"kind": "steam"}, headers=auth(other))).status == 201
    hooks = [await client.post("/api/webhooks", json={"url": f"https://h.example.com/{i}", "secret": SECRET},
                               headers=auth(token)) for i in range(2)]
    assert [r.status for r in hooks] == [201, 429]
    assert len((await (await client.get("/api/webhooks", headers=auth(token))).json())["webhooks"]) == 1


async def test_a_delivery_mid_retry_at_a_stop_is_finished_by_the_next_server(aiohttp_client, settings, receiver):
    """Issue 22, item 13, end to end: the server stops between two attempts of a delivery; the next server on the
    same ledger sends it again with the same X-Sbws-Delivery id, and the attempts go on where they stopped."""
    receiver.statuses = [500] * 10  # the first server only ever sees failures
    token = make_user(settings.db, "alice")
    first = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch()])))
    hook_id = (await (await first.post("/api/webhooks", json={"url": receiver.url, "secret": SECRET},
                                       headers=auth(token))).json())["webhook"]["id"]
    made = await first.post("/api/alerts", json={"kind": "arbitrage", "minEdge": 1, "webhook": hook_id},
                            headers=auth(token))
    assert made.status == 201
    await wait_for(lambda: len(receiver.requests) >= 1, timeout=10)
    await first.close()
    tried = len(receiver.requests)
    assert tried < 5
    receiver.statuses = []  # from now on the receiver answers 200

    second = await aiohttp_client(await make_app(settings, ScriptedFeed([])))
    await wait_for(lambda: len(receiver.requests) == tried + 1, timeout=10)
    ids = {headers["X-Sbws-Delivery"] for headers, _body, _at in receiver.requests}
    assert len(ids) == 1 and receiver.requests[0][1] == receiver.requests[-1][1]
    deliveries = []
    for _ in range(100):  # the last attempt is recorded just after the receiver answered it
        deliveries = (await (await second.get(f"/api/webhooks/{hook_id}/deliveries",
                                              headers=auth(token))).json())["deliveries"]
        if len(deliveries) == tried + 1:
            break
        await asyncio.sleep(0.05)
    assert sorted((d["attempt"], d["status"]) for d in deliveries) == [
        *((n, 500) for n in range(1, tried + 1)), (tried + 1, 200)]
    assert await second.server.app[NODE].service.ledger.pending_deliveries(10) == []
