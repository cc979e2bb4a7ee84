"""Slow consumers: conflation over the soft limit, 1013 over the hard limit, others unaffected."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from engine.board import Quote
from sbws.server.keys import NODE, SOCKETS
from sbws.server.app import make_app
from sbws.market.records import Batch, EventInfo
from engine.markets import MarketKey
from tests.helpers import ScriptedFeed, connect, fast_settings, receive_type, wait_for

N_MARKETS = 200


def big_market_batch(ts, price):
    events = [EventInfo(f"e{i}", "NBA", "NBA", f"Home {i} " + "x" * 100, f"Away {i}", int((ts + 3600) * 1000)) for i in range(N_MARKETS)]
    specs = [MarketKey(f"e{i}", "moneyline") for i in range(N_MARKETS)]
    quotes = [Quote(f"e{i}:moneyline", o, f"book{b}", price + b / 100, ts) for i in range(N_MARKETS) for o in (0, 1) for b in range(8)]
    return Batch(ts, events, specs, quotes)


async def start_with_big_market(aiohttp_client, tmp_path, **overrides):
    """A server whose market is N_MARKETS large moneylines, pushed on every update."""
    feed = ScriptedFeed()
    settings = fast_settings(tmp_path, market_interval=0, **overrides)
    client = await aiohttp_client(await make_app(settings, feed))
    hub = client.server.app[NODE]
    feed.push(big_market_batch(time.time(), 1.5))
    await wait_for(lambda: hub.state.market_count() == N_MARKETS)
    return client, feed, settings


async def test_stalled_reader_is_conflated_then_closed_while_others_flow(aiohttp_client, tmp_path):
    client, feed, settings = await start_with_big_market(
        aiohttp_client, tmp_path, soft_limit_bytes=64 * 1024, hard_limit_bytes=2 * 1024 * 1024, slow_timeout=2.0)

    stalled, _ = await connect(client)
    healthy, _ = await connect(client)
    for ws in (stalled, healthy):
        await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
    await receive_type(healthy, "subscribed")
    contexts = sorted(client.server.app[SOCKETS].values(), key=lambda c: c.connected_at)
    stalled_ctx = contexts[0]

    latencies = []
    saw_conflation = False
    peak_queued = 0

    async def read_healthy():
        while True:
            msg = await healthy.receive_json(timeout=10)
            if msg["type"] == "market_update" and "publishedAt" in msg:
                latencies.append(time.time() * 1000 - msg["publishedAt"])

    reader = asyncio.create_task(read_healthy())
    closed_at = None
    for i in range(1000):
        feed.push(big_market_batch(time.time(), 1.5 + (i % 50) / 100))
        await asyncio.sleep(0.01)
        peak_queued = max(peak_queued, stalled_ctx.outbox.queued_bytes)
        saw_conflation |= bool(stalled_ctx.outbox.conflated)
        if stalled_ctx.outbox.closing:
            closed_at = i
            break
    reader.cancel()
    assert saw_conflation, "market updates for the stalled socket should have been conflated"
    assert closed_at is not None, "the stalled socket should have been closed"
    assert peak_queued <= settings.hard_limit_bytes + 256 * 1024
    assert len(stalled_ctx.outbox.conflated) <= N_MARKETS
    # The stalled client, once it reads again, finds the close code 1013.
    msg = await stalled.receive(timeout=10)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await stalled.receive(timeout=10)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    if msg.type == aiohttp.WSMsgType.CLOSE:
        assert msg.data == 1013
    # The healthy socket kept receiving throughout, promptly.
    assert len(latencies) > 20
    assert sorted(latencies)[int(len(latencies) * 0.9)] < 1000
    await healthy.send_str('{"type":"ping"}')
    assert (await receive_type(healthy, "pong"))["type"] == "pong"
    text = await (await client.get("/metrics")).text()
    assert "sbws_slow_consumers_closed_total 1.0" in text


async def test_requests_without_reading_hit_the_hard_limit(aiohttp_client, tmp_path):
    """Replies are never conflated: a client that asks and never reads is cut off at the hard limit."""
    client, feed, settings = await start_with_big_market(
        aiohttp_client, tmp_path, soft_limit_bytes=64 * 1024, hard_limit_bytes=1024 * 1024, slow_timeout=600.0,
        rate_limit=1e6, rate_burst=10**6)
    greedy, _ = await connect(client)
    [ctx] = client.server.app[SOCKETS].values()
    peak = 0
    for _ in range(2000):
        if ctx.outbox.closing:
            break
        await greedy.send_str('{"type":"get_markets","payload":{"limit":1000}}')
        await asyncio.sleep(0.001)
        peak = max(peak, ctx.outbox.queued_bytes)
    assert ctx.outbox.closing
    assert peak <= settings.hard_limit_bytes + 512 * 1024


async def test_slow_timeout_closes_a_socket_that_stays_over_the_soft_limit(aiohttp_client, tmp_path):
    client, feed, settings = await start_with_big_market(
        aiohttp_client, tmp_path, soft_limit_bytes=32 * 1024, hard_limit_bytes=64 * 1024 * 1024, slow_timeout=0.5)
    stalled, _ = await connect(client)
    await stalled.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
    await wait_for(lambda: any(c.market_type_filters or c.sport_filters for c in client.server.app[SOCKETS].values()))
    [ctx] = client.server.app[SOCKETS].values()
    deadline = time.monotonic() + 20
    while not ctx.outbox.closing and time.monotonic() < deadline:
        feed.push(big_market_batch(time.time(), 1.6 + (time.monotonic() % 1) / 10))
        await asyncio.sleep(0.02)
    assert ctx.outbox.closing
    assert ctx.outbox.queued_bytes < 64 * 1024 * 1024


async def test_v2_slow_reader_gets_merged_deltas_and_ends_at_the_server_state(aiohttp_client, tmp_path):
    """Protocol v2: a socket that stops reading gets its pending deltas merged per market ("con": true);
    when it reads again, image plus everything it got equals the server's markets."""
    from sbws.wire import deltas

    client, feed, _settings = await start_with_big_market(
        aiohttp_client, tmp_path, soft_limit_bytes=16 * 1024, hard_limit_bytes=64 * 1024 * 1024, slow_timeout=60.0)
    slow, _ = await connect(client, "/ws/sportsbooks?v=2")
    await slow.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
    contexts = [c for c in client.server.app[SOCKETS].values() if c.protocol == 2]
    ctx = contexts[0]
    merged_seen = False
    for i in range(1500):
        feed.push(big_market_batch(time.time(), 1.5 + (i % 50) / 100))
        await asyncio.sleep(0.005)
        if len(ctx.outbox.conflated) >= N_MARKETS // 2:
            merged_seen = True
            break
    assert merged_seen, "the stalled v2 socket's deltas should have been merged"
    pushed = client.server.app[NODE].state.batches
    markets: dict = {}
    con = 0
    last = None
    while True:
        try:
            msg = await slow.receive_json(timeout=10)
        except asyncio.TimeoutError:
            raise AssertionError(f"last {last}, pushed {pushed}, conflated {len(ctx.outbox.conflated)}, "
                                 f"frames {len(ctx.outbox.frames)}") from None
        last = (msg["type"], msg.get("seq"), msg.get("con"))
        if msg["type"] == "market_update":
            if msg.get("image"):
                markets = {m["id"]: m for m in msg["markets"]}
            else:
                con += bool(msg.get("con"))
                for d in msg["markets"]:
                    deltas.apply(markets, d, msg.get("ts"))
            if msg["seq"] >= pushed and not ctx.outbox.conflated and not ctx.outbox.frames:
                break
    assert con >= 1
    await slow.send_json({"type": "get_markets", "id": "end", "payload": {"limit": 1000}})
    reply = await receive_type(slow, "market_update", skip=("heartbeat", "sportsbooks"))
    while reply.get("id") != "end":
        for d in reply.get("markets", []) if reply.get("delta") else []:
            deltas.apply(markets, d, reply.get("ts"))
        reply = await receive_type(slow, "market_update", skip=("heartbeat", "sportsbooks"))
    assert markets == {m["id"]: m for m in reply["markets"] if m["status"] == "open"}
