"""Webhook receivers that attack the sender (issue 22, items 5 and 6), against real local HTTP receivers."""

from __future__ import annotations

import gzip
import socket
import tracemalloc

from aiohttp import web

from sbws.alerts import webhooks
from sbws.alerts.webhooks import Deliverer, Job
from sbws.ledger.models import Webhook
from sbws.wire.commands import address_allowed


class NoLedger:
    async def add_delivery(self, record: object, final: bool) -> None:
        return None


def job(url: str) -> Job:
    return Job(Webhook("hook_1", "user_1", url, "a-long-enough-secret", 0), "alr_1", b'{"type":"alert"}', "dlv_1", 0)


def enqueue(deliverer: Deliverer, hook: Webhook, alert_id: str) -> None:
    admitted = deliverer.admit(hook, alert_id, b"{}", 0)
    assert admitted is not None
    deliverer.enqueue(admitted, stored=False)


async def receiver(aiohttp_server, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.remote or "")
        return web.Response(body=body, headers=headers, content_type="application/json")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app, host="127.0.0.1")
    return server, hits


async def hanging(aiohttp_server):  # type: ignore[no-untyped-def]
    """A receiver that never answers in time."""
    import asyncio

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hang)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_a_gzip_bomb_answer_costs_a_few_kilobytes(aiohttp_server):
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # about 200 KB that inflate to 200 MiB
    server, hits = await receiver(aiohttp_server, bomb, {"Content-Encoding": "gzip"})
    deliverer = Deliverer(NoLedger(), allow_private=True)  # type: ignore[arg-type]
    deliverer.start()
    tracemalloc.start()
    try:
        status, error = await deliverer._attempt(job(str(server.make_url("/hook"))))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await deliverer.stop()
    assert (status, error) == (200, None) and len(hits) == 1
    assert peak < 8 * 1024 * 1024, f"reading the answer took {peak / 2**20:.0f} MiB"


async def test_a_name_that_rebinds_after_the_check_reaches_nothing(aiohttp_server, monkeypatch):
    """The check and the connection use one resolution: a name that answers an allowed address first and the
    receiver's loopback address next never reaches the receiver."""
    server, hits = await receiver(aiohttp_server, b"{}", {})
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])  # 127.0.0.2 stands for "public"; nothing listens there

    async def rebinding(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        ip = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0))]

    monkeypatch.setattr(webhooks, "address_allowed", lambda ip, allow: ip == "127.0.0.2")
    import asyncio

    monkeypatch.setattr(type(asyncio.get_running_loop()), "getaddrinfo", rebinding)
    deliverer = Deliverer(NoLedger(), allow_private=False)  # type: ignore[arg-type]
    deliverer.start()
    try:
        status, error = await deliverer._attempt(job(f"http://rebind.test:{server.port}/hook"))
    finally:
        await deliverer.stop()
    assert hits == [], "the rebound name reached the receiver"
    assert status is None and error is not None


def test_only_globally_routable_unicast_addresses_are_allowed():
    for blocked in ("100.64.0.1", "100.100.100.200", "fec0::1", "2002:7f00:1::1", "::ffff:10.0.0.1",
                    "64:ff9b::a00:1", "2001::1", "192.0.2.1", "224.0.0.1", "0.0.0.0", "::1"):
        assert not address_allowed(blocked, False), blocked
    for allowed in ("93.184.216.34", "2606:4700::1", "2002:5db8:d822::1", "::ffff:93.184.216.34"):
        assert address_allowed(allowed, False), allowed


async def test_one_users_hanging_receiver_does_not_starve_another_users(aiohttp_server):
    """Issue 22, item 8: deliveries are served user by user, one in flight each."""
    import asyncio

    from tests.helpers import wait_for

    slow = await hanging(aiohttp_server)
    fast, hits = await receiver(aiohttp_server, b"{}", {})
    deliverer = Deliverer(NoLedger(), allow_private=True)  # type: ignore[arg-type]
    deliverer.start()
    try:
        a = Webhook("hook_a", "user_a", str(slow.make_url("/hook")), "a-long-enough-secret", 0)
        b = Webhook("hook_b", "user_b", str(fast.make_url("/hook")), "a-long-enough-secret", 0)
        for i in range(50):
            enqueue(deliverer, a, f"alr_a{i}")
        for i in range(50):
            enqueue(deliverer, b, f"alr_b{i}")
        await wait_for(lambda: len(hits) == 50, timeout=4.0)  # the slow one times out after 5 s per attempt
    finally:
        await deliverer.stop()


async def test_deliveries_left_at_a_stop_are_resumed_after_it_with_their_ids(aiohttp_server, tmp_path, capsys):
    """Issue 22, item 13: a stop with deliveries waiting and one mid-attempt keeps them in the ledger's outbox;
    the next process delivers each once, with the same X-Sbws-Delivery id, and the outbox empties."""
    import asyncio
    import json

    from sbws.ledger.factory import open_ledger
    from sbws.ledger.models import AlertRecord, NewRule
    from tests.helpers import structured_logs, wait_for

    answering = asyncio.Event()
    delivered: list[str] = []

    async def hook_endpoint(request: web.Request) -> web.Response:
        if not answering.is_set():
            await asyncio.sleep(30)  # the first run's receiver hangs
        delivered.append(request.headers["X-Sbws-Delivery"])
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook_endpoint)
    server = await aiohttp_server(app, host="127.0.0.1")
    ledger = await open_ledger(str(tmp_path / "l.db"))
    user = await ledger.add_user("alice")
    hook = await ledger.add_webhook(user, str(server.make_url("/hook")), "a-long-enough-secret", 10)
    assert hook is not None
    rule = await ledger.add_rule(NewRule(user, "steam", webhook_id=hook.id), 10)
    assert rule is not None
    with structured_logs():
        first = Deliverer(ledger, allow_private=True)
        first.start()
        jobs = [first.admit(hook, f"alr_{i}", b'{"n":%d}' % i, i) for i in range(3)]
        kept = [j for j in jobs if j is not None]
        await ledger.add_alerts([AlertRecord(f"alr_{i}", rule.id, user, "steam", f"s{i}", b"{}", i) for i in range(3)],
                                [j.pending() for j in kept])
        for j in kept:
            first.enqueue(j, stored=True)
        await asyncio.sleep(0.2)  # one delivery in flight, two waiting
        await first.stop()
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "webhooks_left" in line]
    assert [(e["deliveries"], e["kept_for_restart"], e["lost"]) for e in lines] == [(3, 3, 0)]
    assert len(await ledger.pending_deliveries(10)) == 3

    answering.set()
    second = Deliverer(ledger, allow_private=True)
    second.start()
    try:
        assert await second.resume() == 3
        assert await second.resume() == 0  # what this process holds is not queued twice
        await wait_for(lambda: len(delivered) == 3 and not second.in_flight and not second.pending, timeout=5.0)
    finally:
        await second.stop()
    assert sorted(delivered) == sorted(j.delivery_id for j in kept)
    assert await ledger.pending_deliveries(10) == []
    await ledger.close()
