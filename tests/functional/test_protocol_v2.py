"""Protocol v2 over real sockets (issue 15): images, deltas, epoch and seq, resume."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.board import LAY, Quote
from engine.markets import MONEYLINE, SPREAD, MarketKey
from sbws.market.records import Batch, EventInfo, EventResult
from sbws.server.app import make_app
from sbws.server.keys import NODE
from tests.helpers import ScriptedFeed, V2Client, app_state, connect, fast_settings, receive_type, wait_for

EVENTS = [EventInfo(f"e{i}", "NBA", "NBA", f"H{i}", f"A{i}", int((time.time() + 3600) * 1000)) for i in range(3)]
KEYS = [MarketKey(f"e{i}", MONEYLINE) for i in range(3)] + [MarketKey(f"e{i}", SPREAD, -2.5) for i in range(3)]
BOOKS = ["pinnacle", "draftkings", "fanduel"]
SUBSCRIPTION = {"sports": ["NBA"], "arbitrage": True}

quote = st.tuples(st.sampled_from(range(len(KEYS))), st.sampled_from([0, 1]), st.sampled_from(BOOKS),
                  st.sampled_from([0.0, 1.5, 1.9, 2.0, 2.1, 2.6]))
step = st.one_of(
    st.lists(quote, min_size=1, max_size=6).map(lambda qs: ("quotes", qs)),
    st.lists(quote, min_size=1, max_size=3).map(lambda qs: ("lays", qs)),  # exchange lays: the lay field
    st.sampled_from(range(len(KEYS))).map(lambda k: ("close", k)),
    st.sampled_from(range(3)).map(lambda e: ("result", e)),
)


def opening():
    ts = time.time()
    quotes = [Quote(k.id, o, b, 1.95, ts) for k in KEYS for o in (0, 1) for b in BOOKS]
    return Batch(ts, EVENTS, KEYS, quotes)


def batch_for(kind, arg):
    ts = time.time()
    if kind == "quotes":
        return Batch(ts, (), (), [Quote(KEYS[k].id, o, b, p, ts) for k, o, b, p in arg])
    if kind == "lays":
        return Batch(ts, (), (), [Quote(KEYS[k].id, o, "betfair", p, ts, LAY) for k, o, _b, p in arg])
    if kind == "close":
        return Batch(ts, (), (), (), [KEYS[arg].id])
    return Batch(ts, (), (), (), (), [EventResult(f"e{arg}", 1, 0)])


async def v2_client(client, subscription=SUBSCRIPTION, resume=None):
    ws, hello = await connect(client, "/ws/sportsbooks?v=2")
    c = V2Client(ws)
    c.take(hello)
    payload = dict(subscription, **({"resume": resume} if resume else {}))
    await ws.send_json({"type": "subscribe", "payload": payload})
    await c.until(lambda m: m["type"] == "subscribed")
    return c, hello


async def test_v2_connected_image_and_positions(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path, market_interval=0), ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    ws1, hello1 = await connect(client)
    assert "protocol" not in hello1 and "epoch" not in hello1  # v1 sees the design document's message
    c, hello = await v2_client(client)
    assert hello["protocol"] == 2 and hello["epoch"].startswith("ep_") and hello["seq"] == 1
    image = await c.until(lambda m: m["type"] == "market_update")
    assert image["image"] is True and image["epoch"] == hello["epoch"] and image["seq"] == 1
    assert len(image["markets"]) == len(KEYS)
    reply, server = await c.server_markets("g")
    assert reply["seq"] == 1 and reply["epoch"] == hello["epoch"]
    assert c.markets == server
    bad = await client.get("/ws/sportsbooks?v=3", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                          "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="})
    assert bad.status == 400 and (await bad.json())["field"] == "v"
    await ws1.close()


async def _scenario(tmp_path, steps):
    app = await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0), ScriptedFeed([opening()]))
    async with TestClient(TestServer(app)) as client:
        await wait_for(lambda: app_state(client).batches >= 1)
        c, _hello = await v2_client(client)
        await c.until(lambda m: m["type"] == "market_update")
        for n, (kind, arg) in enumerate(steps, start=2):
            app[NODE].broker.feed.push(batch_for(kind, arg))
            await wait_for(lambda: app_state(client).batches >= n)
            reply, server = await c.server_markets(f"g{n}")
            assert reply["seq"] == n
            assert c.markets == server, (kind, arg)
        await c.ws.close()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(step, min_size=1, max_size=8))
def test_image_plus_deltas_equal_get_markets_at_every_seq(tmp_path_factory, steps):
    asyncio.run(_scenario(tmp_path_factory.mktemp("v2"), steps))


async def test_resume_inside_the_window_matches_a_client_that_never_left(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0), ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    feed = app[NODE].broker.feed
    stay, _ = await v2_client(client)
    leave, _ = await v2_client(client)
    await stay.until(lambda m: m["type"] == "market_update")
    await leave.until(lambda m: m["type"] == "market_update")
    feed.push(batch_for("quotes", [(0, 0, "draftkings", 2.1), (1, 1, "fanduel", 1.5)]))
    await wait_for(lambda: app_state(client).batches >= 2)
    await leave.server_markets("sync")
    epoch, seq = leave.position
    held = dict(leave.markets)
    await leave.ws.close()
    for kind, arg in (("quotes", [(0, 0, "draftkings", 0.0), (3, 1, "pinnacle", 2.6)]), ("close", 4), ("result", 2),
                      ("quotes", [(1, 0, "fanduel", 2.1)])):
        feed.push(batch_for(kind, arg))
    await wait_for(lambda: app_state(client).batches >= 6)
    back, _ = await v2_client(client, resume={"epoch": epoch, "seq": seq})
    back.markets = held
    resumed = await back.until(lambda m: m["type"] in ("resumed", "snapshot_required"))
    assert resumed["type"] == "resumed" and resumed["from"] == seq and resumed["to"] == 6
    assert any(m["type"] == "market_update" and m.get("con") for m in back.seen)
    _reply, server = await stay.server_markets("s")
    assert back.markets == stay.markets == server


async def test_resume_outside_the_window_or_across_epochs_gets_an_image(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path, market_interval=0, replay_window=0.2), ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    first, hello = await v2_client(client)
    await first.until(lambda m: m["type"] == "market_update")
    await first.ws.close()
    app[NODE].broker.feed.push(batch_for("quotes", [(0, 0, "draftkings", 2.1)]))  # seq 2: a change the client needs
    await wait_for(lambda: app_state(client).batches >= 2)
    await asyncio.sleep(0.3)
    app[NODE].broker.feed.push(batch_for("quotes", [(1, 0, "draftkings", 2.1)]))  # seq 3: seq 2 leaves the window
    await wait_for(lambda: app_state(client).batches >= 3)
    for resume, reason in (({"epoch": hello["epoch"], "seq": 1}, "window_exceeded"),
                           ({"epoch": "ep_gone", "seq": 3}, "epoch_changed")):
        c, _ = await v2_client(client, resume=resume)
        required = await c.until(lambda m: m["type"] in ("resumed", "snapshot_required"))
        assert required["type"] == "snapshot_required" and required["reason"] == reason
        image = await c.until(lambda m: m["type"] == "market_update")
        assert image["image"] is True
        _reply, server = await c.server_markets("s")
        assert c.markets == server
        await c.ws.close()
    bad, _ = await connect(client, "/ws/sportsbooks?v=2")
    await bad.send_json({"type": "subscribe", "payload": {"sports": ["NBA"], "resume": {"epoch": "x"}}})
    err = await receive_type(bad, "error")
    assert err["code"] == "NX-400" and err["field"] == "resume"


async def test_v2_arbitrage_sends_changes_and_closed_ids(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0), ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    c, _ = await v2_client(client)
    first = await c.until(lambda m: m["type"] == "arbitrage_update")
    assert first["image"] is True and first["opportunities"] == [] and "epoch" in first
    app[NODE].broker.feed.push(batch_for("quotes", [(0, 0, "draftkings", 2.2), (0, 1, "fanduel", 2.2)]))
    opened = await c.until(lambda m: m["type"] == "arbitrage_update" and m["opportunities"])
    [opp] = opened["opportunities"]
    assert opp["marketId"] == KEYS[0].id and opened["closed"] == [] and opened["total"] == 1
    app[NODE].broker.feed.push(batch_for("quotes", [(0, 0, "draftkings", 1.95), (0, 1, "fanduel", 1.95)]))
    gone = await c.until(lambda m: m["type"] == "arbitrage_update" and m["closed"])
    assert gone["closed"] == [opp["id"]] and gone["opportunities"] == [] and gone["total"] == 0


async def test_every_position_a_client_is_told_resumes_without_a_gap(aiohttp_client, tmp_path):
    """Issue 22, item 2: a reply (or heartbeat) between market pushes says where the socket's markets are, not
    the newest update, so resuming from it replays the change the socket has not been sent yet."""
    app = await make_app(fast_settings(tmp_path, market_interval=3600, arbitrage_interval=3600),
                         ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    feed = app[NODE].broker.feed
    first, _ = await v2_client(client)
    await first.until(lambda m: m["type"] == "market_update" and m.get("image"))
    feed.push(batch_for("quotes", [(0, 0, "draftkings", 2.4)]))  # pending until the next market push
    await wait_for(lambda: app_state(client).batches >= 2)
    pong = await first.request("ping", None, "p")
    epoch, seq = pong["epoch"], pong["seq"]
    held = dict(first.markets)
    assert held[KEYS[0].id]["selections"][0]["decimal"]["draftkings"] == 1.95  # the change was not pushed
    await first.ws.close()
    back, _ = await v2_client(client, resume={"epoch": epoch, "seq": seq})
    back.markets = held
    resumed = await back.until(lambda m: m["type"] in ("resumed", "snapshot_required"))
    assert resumed["type"] == "resumed"
    assert back.markets[KEYS[0].id]["selections"][0]["decimal"]["draftkings"] == 2.4, "resume skipped a change"


async def test_a_resumed_client_drops_markets_that_stopped_matching(aiohttp_client, tmp_path):
    """Issue 22, item 7: a market whose subscribed book withdrew while the client was away is closed on resume,
    as it was for a client that never left."""
    app = await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0), ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    feed = app[NODE].broker.feed
    only_fanduel = {"sportsbooks": ["fanduel"]}
    stay, _ = await v2_client(client, only_fanduel)
    leave, _ = await v2_client(client, only_fanduel)
    for c in (stay, leave):
        await c.until(lambda m: m["type"] == "market_update" and m.get("image"))
    assert KEYS[0].id in leave.markets
    epoch, seq = leave.position
    held = dict(leave.markets)
    await leave.ws.close()
    feed.push(batch_for("quotes", [(0, 0, "fanduel", 0.0), (0, 1, "fanduel", 0.0)]))  # fanduel leaves market 0
    await stay.until(lambda m: m["type"] == "market_update" and any(d["id"] == KEYS[0].id for d in m["markets"]))
    assert KEYS[0].id not in stay.markets
    back, _ = await v2_client(client, only_fanduel, resume={"epoch": epoch, "seq": seq})
    back.markets = held
    resumed = await back.until(lambda m: m["type"] in ("resumed", "snapshot_required"))
    assert resumed["type"] == "resumed"
    assert back.markets == stay.markets, "the resumed client still shows a market its book left"


async def test_subscription_churn_over_real_sockets_leaves_no_group_behind(aiohttp_client, tmp_path):
    """Issue 22, item 11, the soak: v2 sockets with their own filters connect, subscribe, resubscribe, get
    pushes and leave, round after round, while prices move; once they are gone the v2 bookkeeping holds no group
    (before, groups whose last socket left stayed referenced per market with all their state)."""
    import gc
    import weakref

    app = await make_app(fast_settings(tmp_path, market_interval=0.02, arbitrage_interval=0.02, rate_limit=1000,
                                       rate_burst=1000, address_snapshots=1000),
                         ScriptedFeed([opening()]))
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    broadcaster = app[NODE].broadcaster
    v2_version = broadcaster.versions[2]
    seen: list[weakref.ref] = []
    for round_ in range(30):
        sockets = []
        for i in range(5):
            c, _hello = await v2_client(client, {"sports": ["NBA"], "sportsbooks": [BOOKS[i % 3], f"x{round_}-{i}"],
                                                 "arbitrage": True})
            sockets.append(c)
        app[NODE].broker.feed.push(Batch(time.time(), (), (), [Quote(KEYS[round_ % 6].id, 0, BOOKS[round_ % 3],
                                                                     1.8 + (round_ % 5) / 10, time.time())]))
        for c in sockets:
            await c.until(lambda m: m["type"] == "market_update" and not m.get("image"))
            await c.ws.send_json({"type": "subscribe", "payload": {"marketTypes": ["spread"]}})
            await c.until(lambda m: m["type"] == "subscribed")
        seen.extend(weakref.ref(g) for g in broadcaster.audience.groups.values())
        for c in sockets:
            await c.ws.close()
        await wait_for(lambda: not broadcaster.audience.contexts)
    assert len(seen) >= 30
    gc.collect()
    held = {id(g) for groups in v2_version.known_by.values() for g in groups}
    assert held == set() and not v2_version._images and not v2_version._given
    assert sum(1 for ref in seen if ref() is not None) == 0, "a group outlived its sockets"
