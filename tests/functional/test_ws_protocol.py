"""The WebSocket protocol end to end, through real sockets."""

from __future__ import annotations

import asyncio
import json
import gc
import time

import aiohttp
import pytest

from sbws.server.keys import NODE, SOCKETS
from sbws.server.app import make_app
from sbws.market.records import Batch, BookStatus
from engine.board import Quote
from tests.helpers import (
    ScriptedFeed,
    app_state,
    connect,
    fast_settings,
    make_user,
    opening_batch,
    read_frame,
    receive_type,
    structured_logs,
    wait_for,
)


async def test_connected_then_sportsbooks_snapshot(client):
    ws = await client.ws_connect("/ws/sportsbooks?user_id=42&username=anon")
    hello = await ws.receive_json()
    assert hello["type"] == "connected"
    assert hello["clientId"].startswith("client-")
    assert hello["userId"] is None and hello["username"] is None and hello["claimedUserId"] == "42"
    assert hello["authenticated"] is False
    assert isinstance(hello["timestamp"], int) and hello["message"]
    books = await ws.receive_json()
    assert books["type"] == "sportsbooks"
    assert {b["id"] for b in books["sportsbooks"]} == {"pinnacle", "draftkings", "fanduel", "betfair"}
    pinnacle = next(b for b in books["sportsbooks"] if b["id"] == "pinnacle")
    assert pinnacle["status"] == "online" and pinnacle["availableMarkets"] == 3 and pinnacle["activeBets"] == 0
    assert books["total"] == 4
    await ws.close()


async def test_plain_get_is_400_with_clear_body(client):
    resp = await client.get("/ws/sportsbooks")
    assert resp.status == 400
    body = await resp.json()
    assert body["code"] == "NX-400" and "WebSocket" in body["message"]


async def test_ping_pong_echoes_id(client):
    ws, _ = await connect(client)
    await ws.send_str('{"type":"ping","id":"p1"}')
    msg = await receive_type(ws, "pong")
    assert msg["id"] == "p1" and isinstance(msg["timestamp"], int)


async def test_subscribe_replies_state_and_snapshot(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "id": 7, "payload": {"sports": ["NBA"], "arbitrage": True}})
    sub = await receive_type(ws, "subscribed")
    assert sub["id"] == 7
    assert sub["subscriptions"] == {
        "sportsbooks": [], "markets": [], "arbitrage": True, "marketTypes": [], "sports": ["NBA"],
    }
    snap = await receive_type(ws, "market_update")
    assert {m["id"] for m in snap["markets"]} == {"lal-bos:moneyline", "lal-bos:spread:-3.5", "lal-bos:total:+221.5"}
    arbs = await receive_type(ws, "arbitrage_update")
    assert [o["marketId"] for o in arbs["opportunities"]] == ["lal-bos:spread:-3.5"]


async def test_market_shape(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_markets", "payload": {"eventId": "lal-bos", "marketType": "spread"}})
    msg = await receive_type(ws, "market_update")
    assert msg["total"] == 1
    [m] = msg["markets"]
    assert m["id"] == "lal-bos:spread:-3.5" and m["eventId"] == "lal-bos"
    assert m["eventDescription"] == "Lakers @ Celtics" and m["sport"] == "NBA" and m["league"] == "NBA"
    assert m["marketType"] == "spread" and m["line"] == -3.5
    home, away = m["selections"]
    assert home["id"] == "home" and home["name"] == "Celtics" and home["line"] == -3.5
    assert away["id"] == "away" and away["line"] == 3.5
    assert home["odds"] == {"pinnacle": 110, "draftkings": -125}
    assert away["odds"] == {"pinnacle": -125, "draftkings": 105}
    assert m["bestOdds"]["home"] == {"bookmaker": "pinnacle", "odds": 110, "decimal": 2.10}
    assert m["bestOdds"]["away"] == {"bookmaker": "draftkings", "odds": 105, "decimal": 2.05}
    assert isinstance(m["timestamp"], int)


async def test_get_markets_filters_and_limit(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_markets", "payload": {"bookmaker": "fanduel"}})
    msg = await receive_type(ws, "market_update")
    assert {m["id"] for m in msg["markets"]} == {"lal-bos:total:+221.5", "kc-buf:moneyline"}
    await ws.send_json({"type": "get_markets", "payload": {"sport": "Soccer", "league": "EPL"}})
    msg = await receive_type(ws, "market_update")
    [m] = msg["markets"]
    assert [s["id"] for s in m["selections"]] == ["home", "draw", "away"]
    await ws.send_json({"type": "get_markets", "payload": {"limit": 2}})
    msg = await receive_type(ws, "market_update")
    assert len(msg["markets"]) == 2 and msg["total"] == 5
    await ws.send_json({"type": "get_markets", "payload": {"limit": 1001}})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-400" and err["field"] == "limit"


async def test_get_arbitrage_shape_and_filters(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_arbitrage", "payload": {"minEdge": 0.5}})
    msg = await receive_type(ws, "arbitrage_update")
    [o] = msg["opportunities"]
    s = 1 / 2.10 + 1 / 2.05
    assert o["edge"] == pytest.approx((1 - s) * 100, abs=1e-4)
    assert o["roi"] == pytest.approx((1 / s - 1) * 100, abs=1e-4)
    assert o["guaranteedProfit"] == pytest.approx(100 / s - 100, abs=0.01)
    assert o["eventDescription"] == "Lakers @ Celtics" and o["marketType"] == "spread" and o["line"] == -3.5
    assert o["bookA"]["bookmaker"] == "pinnacle" and o["bookB"]["bookmaker"] == "draftkings"
    assert o["bookA"]["odds"] == 110 and o["bookB"]["odds"] == 105
    assert sum(leg["stake"] for leg in o["legs"]) == pytest.approx(100, abs=0.01)
    assert o["legs"][0]["stake"] * 2.10 == pytest.approx(o["legs"][1]["stake"] * 2.05, abs=0.02)
    assert o["id"].startswith("arb_") and isinstance(o["detectedAt"], int)
    for payload, expected in (
        ({"minEdge": 5}, 0),
        ({"bookmaker": "fanduel"}, 0),
        ({"bookmaker": "draftkings"}, 1),
        ({"eventId": "kc-buf"}, 0),
        ({"marketType": "moneyline"}, 0),
    ):
        await ws.send_json({"type": "get_arbitrage", "payload": payload})
        msg = await receive_type(ws, "arbitrage_update")
        assert msg["total"] == expected, payload


@pytest.mark.parametrize(
    "frame, field",
    [
        ("not json", None),
        ("[1,2]", None),
        ('{"payload":{}}', "type"),
        ('{"type":"launch_rockets"}', "type"),
        ('{"type":"subscribe","payload":[]}', "payload"),
        ('{"type":"subscribe","payload":{"sports":"NBA"}}', "sports"),
        ('{"type":"subscribe","payload":{"marketTypes":["parlay"]}}', "marketTypes"),
        ('{"type":"subscribe","payload":{"arbitrage":"yes"}}', "arbitrage"),
        ('{"type":"get_markets","payload":{"limit":"10"}}', "limit"),
        ('{"type":"get_arbitrage","payload":{"minEdge":"high"}}', "minEdge"),
        ('{"type":"get_arbitrage","payload":{"minEdge":NaN}}', None),
        ('{"type":"get_bets","payload":{"status":"lost-ish"}}', "status"),
        ('{"type":"ping","id":{"x":1}}', "id"),
    ],
)
async def test_bad_input_is_nx400_and_socket_survives(client, frame, field):
    ws, _ = await connect(client)
    await ws.send_str(frame)
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-400"
    assert err["message"]
    if field:
        assert err["field"] == field
    await ws.send_str('{"type":"ping"}')
    assert (await receive_type(ws, "pong"))["type"] == "pong"


async def test_anonymous_cannot_bet_or_list(client):
    ws, _ = await connect(client, "/ws/sportsbooks?user_id=123&username=trader")
    await ws.send_json({"type": "place_bet", "id": "b", "payload": {
        "marketId": "lal-bos:spread:-3.5", "selectionId": "home", "bookmaker": "pinnacle", "stake": 10, "odds": 110}})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-401" and err["id"] == "b"
    await ws.send_json({"type": "get_bets"})
    assert (await receive_type(ws, "error"))["code"] == "NX-401"


@pytest.mark.parametrize("how", ["cookie", "query", "bearer"])
async def test_token_identity_from_each_source(client, settings, how):
    token = make_user(settings.db, "alice")
    kwargs: dict = {}
    path = "/ws/sportsbooks"
    if how == "cookie":
        kwargs["headers"] = {"Cookie": f"X-Token={token}"}
    elif how == "query":
        path += f"?token={token}"
    else:
        kwargs["headers"] = {"Authorization": f"Bearer {token}"}
    ws, hello = await connect(client, path, **kwargs)
    assert hello["authenticated"] is True and hello["username"] == "alice" and hello["userId"].startswith("user_")
    await ws.send_json({"type": "get_bets"})
    msg = await receive_type(ws, "bets")
    assert msg["bets"] == [] and msg["total"] == 0


async def test_user_id_alone_never_grants_rights_even_if_user_exists(client, settings):
    make_user(settings.db, "bob")
    ws, hello = await connect(client, "/ws/sportsbooks?user_id=bob&username=bob")
    assert hello["authenticated"] is False
    await ws.send_json({"type": "get_bets"})
    assert (await receive_type(ws, "error"))["code"] == "NX-401"


async def test_trust_user_id_flag_allows_it(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, trust_user_id=True)
    make_user(settings.db, "bob")
    client = await aiohttp_client(await make_app(settings, feed))
    ws, hello = await connect(client, "/ws/sportsbooks?username=bob")
    assert hello["authenticated"] is True
    await ws.send_json({"type": "get_bets"})
    assert (await receive_type(ws, "bets"))["total"] == 0


async def test_bad_token_is_anonymous(client):
    ws, hello = await connect(client, "/ws/sportsbooks?token=tok_deadbeef.nope")
    assert hello["authenticated"] is False and hello["userId"] is None and "claimedUserId" not in hello


async def test_a_claimed_name_is_never_shown_or_logged_as_verified(client, settings, capsys):
    with structured_logs():
        make_user(settings.db, "alice")
        ws, hello = await connect(client, "/ws/sportsbooks?username=alice")
        assert hello["userId"] is None and hello["username"] is None and hello["claimedUserId"] == "alice"
        await ws.close()
        logged = capsys.readouterr().err.splitlines()
    line = next(json.loads(x) for x in logged if '"event":"connected"' in x)
    assert line["user_id"] is None and line["claimed_user_id"] == "alice" and line["verified"] is False


async def test_foreign_origin_refused_own_and_allowed_accepted(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, allowed_origins=("https://dash.example",))
    client = await aiohttp_client(await make_app(settings, feed))
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws/sportsbooks", headers={"Origin": "https://evil.example"})
    assert info.value.status == 403
    own = f"http://{client.server.host}:{client.server.port}"
    ws, _ = await connect(client, headers={"Origin": own})
    await ws.close()
    ws, _ = await connect(client, headers={"Origin": "https://dash.example"})
    await ws.close()


async def test_public_origin_defeats_dns_rebinding(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, public_origin="https://odds.example.com")
    client = await aiohttp_client(await make_app(settings, feed))
    # A rebinding page: its own origin, and the Host header its browser sends for that name.
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws/sportsbooks", headers={"Origin": "http://rebind.example", "Host": "rebind.example"})
    assert info.value.status == 403
    ws, _ = await connect(client, headers={"Origin": "https://odds.example.com"})
    await ws.close()


async def test_trust_user_id_accepts_only_loopback_host_names(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, trust_user_id=True)
    client = await aiohttp_client(await make_app(settings, feed))
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws/sportsbooks?username=bob", headers={"Host": "rebind.example"})
    assert info.value.status == 403
    for host in ("localhost:3000", "127.0.0.1", "[::1]:80"):
        ws, _ = await connect(client, headers={"Host": host})
        await ws.close()


async def test_binary_frame_closes_1003(client):
    ws, _ = await connect(client)
    await ws.send_bytes(b"\x00\x01")
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1003


async def test_oversized_frame_closes_1009(client):
    ws, _ = await connect(client)
    await ws.send_str('{"type":"ping","pad":"' + "x" * (70 * 1024) + '"}')
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1009


async def test_rate_limit_429_then_close_1008(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, rate_limit=5.0, rate_burst=5)
    client = await aiohttp_client(await make_app(settings, feed))
    ws, _ = await connect(client)
    for i in range(10):
        await ws.send_str('{"type":"ping","id":%d}' % i)
    replies = [await receive_type(ws, "*") for _ in range(10)]
    kinds = [m["type"] for m in replies]
    assert kinds.count("pong") == 5 and kinds.count("error") == 5
    # A refused message's error carries its id, as every error does: a client can match it to its request.
    assert sorted(m["id"] for m in replies) == list(range(10))
    assert all(m["retryable"] is True for m in replies if m["type"] == "error")
    for _ in range(100):
        await ws.send_str('{"type":"ping"}')
    codes = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        codes.append(msg.json().get("code"))
    assert "NX-429" in codes
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008


async def test_burst_within_limit_is_not_punished(client):
    ws, _ = await connect(client)
    for i in range(8):
        await ws.send_json({"type": "ping", "id": i})
    ids = [(await receive_type(ws, "pong"))["id"] for _ in range(8)]
    assert ids == list(range(8))


async def test_thousand_malformed_messages_leave_socket_alive(aiohttp_client, tmp_path, feed):
    settings = fast_settings(tmp_path, rate_limit=100000.0, rate_burst=100000)
    client = await aiohttp_client(await make_app(settings, feed))
    ws, _ = await connect(client)
    for i in range(1000):
        await ws.send_str(["{", "[]", '{"type":1}', '{"type":"nope"}', '{"type":"place_bet","payload":{"stake":-1}}'][i % 5])
    errors = 0
    while errors < 1000:
        msg = await ws.receive_json(timeout=10)
        if msg["type"] == "error":
            assert msg["code"] in ("NX-400", "NX-401")
            errors += 1
    await ws.send_str('{"type":"ping","id":"alive"}')
    assert (await receive_type(ws, "pong"))["id"] == "alive"


async def test_unsubscribe_and_no_subscription_gets_no_pushes(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"sports": ["NFL"], "markets": ["lal-bos:moneyline"]}})
    sub = await receive_type(ws, "subscribed")
    assert sub["subscriptions"]["sports"] == ["NFL"]
    snap = await receive_type(ws, "market_update")
    assert {m["id"] for m in snap["markets"]} == {"kc-buf:moneyline", "lal-bos:moneyline"}
    await ws.send_json({"type": "unsubscribe", "payload": {"sports": ["NFL"], "markets": ["lal-bos:moneyline"]}})
    unsub = await receive_type(ws, "unsubscribed")
    assert unsub["subscriptions"] == {"sportsbooks": [], "markets": [], "arbitrage": False, "marketTypes": [], "sports": []}
    feed = client.server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, quotes=[Quote("kc-buf:moneyline", 0, "fanduel", 1.85, ts)]))
    await asyncio.sleep(0.3)
    await ws.send_str('{"type":"ping","id":"end"}')
    while True:
        msg = await ws.receive_json(timeout=5)
        assert msg["type"] not in ("market_update", "arbitrage_update")
        if msg["type"] == "pong":
            break


async def test_interval_pushes_only_changed_matching_markets(client):
    await wait_for(lambda: not client.server.app[NODE].broadcaster.dirty)
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"sportsbooks": ["fanduel"]}})
    await receive_type(ws, "subscribed")
    await receive_type(ws, "market_update")  # snapshot
    feed = client.server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, quotes=[
        Quote("kc-buf:moneyline", 0, "fanduel", 1.85, ts),
        Quote("lal-bos:moneyline", 0, "pinnacle", 1.62, ts),  # not quoted by fanduel
    ]))
    msg = await receive_type(ws, "market_update")
    assert [m["id"] for m in msg["markets"]] == ["kc-buf:moneyline"]
    assert msg["markets"][0]["selections"][0]["odds"]["fanduel"] == -118
    assert isinstance(msg["timestamp"], int)


async def test_explicit_market_and_filter_dimensions(client):
    ws, _ = await connect(client)
    # sports AND marketTypes must both match; OR within a dimension
    await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA", "NFL"], "marketTypes": ["moneyline"]}})
    await receive_type(ws, "subscribed")
    snap = await receive_type(ws, "market_update")
    assert {m["id"] for m in snap["markets"]} == {"lal-bos:moneyline", "kc-buf:moneyline"}


async def test_arbitrage_restricted_to_subscribed_books(client):
    ws_a, _ = await connect(client)
    ws_b, _ = await connect(client)
    await ws_a.send_json({"type": "subscribe", "payload": {"arbitrage": True, "sportsbooks": ["pinnacle", "draftkings"]}})
    await ws_b.send_json({"type": "subscribe", "payload": {"arbitrage": True, "sportsbooks": ["pinnacle", "fanduel"]}})
    a = await receive_type(ws_a, "arbitrage_update")
    b = await receive_type(ws_b, "arbitrage_update")
    assert a["total"] == 1 and b["total"] == 0


async def test_arbitrage_push_new_and_closed(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"arbitrage": True}})
    first = await receive_type(ws, "arbitrage_update")
    [opp] = first["opportunities"]
    feed = client.server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, quotes=[Quote("lal-bos:spread:-3.5", 1, "draftkings", 1.85, ts)]))
    while True:
        msg = await receive_type(ws, "arbitrage_update")
        if msg["closed"]:
            break
    assert msg["closed"] == [opp["id"]] and msg["total"] == 0


async def test_book_status_change_pushes_sportsbooks(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"sportsbooks": ["draftkings"]}})
    await receive_type(ws, "subscribed")
    feed = client.server.app[NODE].feed
    ts = time.time()
    feed.push(Batch(ts, statuses=[BookStatus("draftkings", "DraftKings", "offline", 0, int(ts * 1000))]))
    while True:
        msg = await ws.receive_json(timeout=5)
        if msg["type"] == "sportsbooks":
            break
    dk = next(b for b in msg["sportsbooks"] if b["id"] == "draftkings")
    assert dk["status"] == "offline" and dk["availableMarkets"] == 0


async def test_heartbeat_counts_clients(aiohttp_client, tmp_path, feed):
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, heartbeat_interval=0.2), feed))
    ws1, _ = await connect(client)
    ws2, _ = await connect(client)
    beat = await receive_type(ws1, "heartbeat", skip=())
    assert beat["clients"] == 2 and isinstance(beat["timestamp"], int)
    await ws2.close()


async def test_zero_interval_pushes_on_every_update(aiohttp_client, tmp_path):
    feed = ScriptedFeed([opening_batch()])
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0), feed))
    await wait_for(lambda: app_state(client).batches >= 1)
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"markets": ["kc-buf:moneyline"]}})
    await receive_type(ws, "market_update")
    for price in (1.81, 1.82, 1.83):
        ts = time.time()
        feed.push(Batch(ts, quotes=[Quote("kc-buf:moneyline", 0, "fanduel", price, ts)]))
        msg = await receive_type(ws, "market_update")
        assert msg["markets"][0]["selections"][0]["decimal"]["fanduel"] == price


async def test_an_idle_socket_holds_no_writer_task_or_queue(client):
    """Issue 27: frames written at once leave nothing behind; a writer task exists only while frames wait."""
    await asyncio.sleep(0.2)
    before = len(asyncio.all_tasks())
    conns = [(await connect(client, "/ws/sportsbooks?v=2"))[0] for _ in range(20)]
    for ws in conns:
        await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
        await receive_type(ws, "market_update")
    await asyncio.sleep(0.2)
    contexts = list(client.server.app[SOCKETS].values())
    assert len(contexts) == 20
    assert all(ctx.outbox.frames is None and not ctx.outbox.draining for ctx in contexts)
    # aiohttp runs two tasks per connection (its protocol's and the request's); a writer task per socket made 3.
    assert len(asyncio.all_tasks()) - before <= 2 * 20 + 2
    for ws in conns:
        await ws.close()


async def test_contexts_are_weakly_held_and_cleaned(client):
    sockets = client.server.app[SOCKETS]
    hub = client.server.app[NODE]
    conns = [(await connect(client))[0] for _ in range(5)]
    await wait_for(lambda: len(sockets) == 5)
    ctx = next(iter(sockets.values()))
    assert ctx.client_id.startswith("client-") and ctx.subscribed_arbitrage is False
    assert isinstance(ctx.subscribed_sportsbooks, frozenset) and isinstance(ctx.last_ping, int)
    del ctx
    for ws in conns:
        await ws.close()
    await wait_for(lambda: len(hub.broadcaster.audience) == 0)
    for _ in range(20):
        gc.collect()
        if len(sockets) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(sockets) == 0
    assert not hub.broadcaster.audience.groups and not hub.broadcaster.audience.contexts


async def test_unexpected_error_is_nx500_and_socket_survives(client, settings, monkeypatch):
    token = make_user(settings.db, "carol")
    from sbws.server.keys import SERVICE

    async def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(client.server.app[SERVICE], "bets", boom)
    ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    await ws.send_json({"type": "get_bets", "id": 1})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-500" and "disk" not in err["message"] and err["id"] == 1
    await ws.send_str('{"type":"ping"}')
    assert (await receive_type(ws, "pong"))["type"] == "pong"


async def test_subscribed_market_ids_are_capped_and_a_refusal_changes_nothing(aiohttp_client, tmp_path, feed):
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, max_subscribed_markets=1500), feed))
    ws, _ = await connect(client)
    for start in (0, 1000):
        ids = [f"m{i}" for i in range(start, start + (1000 if start == 0 else 500))]
        await ws.send_json({"type": "subscribe", "payload": {"markets": ids}})
        reply = await receive_type(ws, "subscribed")
        assert len(reply["subscriptions"]["markets"]) == start + len(ids)
    await ws.send_json({"type": "subscribe", "id": 5, "payload": {"markets": ["m1", "one-too-many"]}})
    err = await receive_type(ws, "error", skip=("heartbeat", "sportsbooks", "market_update", "arbitrage_update"))
    assert err["code"] == "NX-400" and err["field"] == "markets" and "1500" in err["message"] and err["id"] == 5
    await ws.send_json({"type": "subscribe", "payload": {}})
    reply = await receive_type(ws, "subscribed", skip=("heartbeat", "sportsbooks", "market_update", "arbitrage_update"))
    assert len(reply["subscriptions"]["markets"]) == 1500 and "one-too-many" not in reply["subscriptions"]["markets"]
    ctx = next(iter(client.server.app[SOCKETS].values()))
    assert len(ctx.subscribed_markets) == 1500


async def test_a_ping_flood_counts_against_the_rate_limit_and_closes_1008(client):
    ws, _ = await connect(client)
    for _ in range(300):
        await ws.ping(b"x")
    msg = await ws.receive(timeout=10)
    while msg.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
        msg = await ws.receive(timeout=10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008


async def test_pings_within_the_limit_get_pongs(client):
    ws, _ = await connect(client, autoping=False)
    await ws.ping(b"hi")
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.PONG and msg.data == b"hi"


async def test_an_unmasked_client_frame_closes_1002(client):
    import base64
    import os

    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(f"GET /ws/sportsbooks HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    body = b'{"type":"ping"}'
    writer.write(bytes([0x81, len(body)]) + body)  # no mask bit, no key
    seen = []
    while not seen or seen[-1][0] != 0x88:
        seen.append(await asyncio.wait_for(read_frame(reader), 5))
    assert int.from_bytes(seen[-1][2:4], "big") == 1002
    assert not any(b'"pong"' in f for f in seen), "the unmasked message must not be processed"
    writer.close()


async def test_subscribes_cost_their_snapshot_and_a_refused_one_changes_nothing(aiohttp_client, tmp_path, feed):
    """Issue 22, item 3 (in part): each (un)subscribe costs the image it builds; past the budget it is refused."""
    from sbws.wire.limits import SNAPSHOT_COST

    settings = fast_settings(tmp_path, rate_limit=0.01, rate_burst=20)  # no refill during the test
    client = await aiohttp_client(await make_app(settings, feed))
    ws, _ = await connect(client)
    allowed = int(20 // (1 + SNAPSHOT_COST))
    sports = [f"S{i}" for i in range(allowed + 2)]  # each refused one still costs its message: two fit after
    for i, sport in enumerate(sports):
        await ws.send_json({"type": "subscribe", "id": i, "payload": {"sports": [sport]}})
    replies = {}
    while len(replies) < len(sports):
        msg = await receive_type(ws, "*")
        if msg.get("id") is not None:
            replies[msg["id"]] = msg
    assert [replies[i]["type"] for i in range(allowed)] == ["subscribed"] * allowed
    refused = replies[allowed]
    assert refused["type"] == "error" and refused["code"] == "NX-429" and refused["reason"] == "snapshot rate"
    [ctx] = list(client.server.app[SOCKETS].values())
    assert ctx.sport_filters == set(sports[:allowed]), "a refused subscribe must change nothing"


def test_an_address_shares_one_budget_of_snapshots():
    from sbws.wire.limits import SNAPSHOT_BURST, ConnectionLimiter

    limiter = ConnectionLimiter(max_total=100, max_per_ip=100, snapshots_per_s=20.0)
    limiter.admit("a")
    limiter.admit("b")
    burst = int(20.0 * SNAPSHOT_BURST)
    t = time.monotonic()
    assert all(limiter.snapshot_allowed("a", now=t) for _ in range(burst))
    assert not limiter.snapshot_allowed("a", now=t) and limiter.snapshot_allowed("b", now=t)
    assert limiter.snapshot_allowed("a", now=t + 1.0), "the budget refills"
    limiter.release("a")
    assert "a" not in limiter.snapshots
