"""The naive baseline: the design document's delivery pattern, kept as the reference.

Same feed (the simulator, same seed), same market state and market JSON as
sbws; only delivery differs, as in the seed: on every push, a loop over
sockets that checks each socket's subscriptions and JSON-encodes and sends
every matching market separately (``json.dumps`` + ``send_str``), with
aiohttp's default per-message compression.

    python benchmarks/naive_server.py --port 3300 [--market-interval 0.1] [sim flags]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from aiohttp import WSMsgType, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.arbitrage import ArbConfig  # noqa: E402
from sbws.wire import views  # noqa: E402
from sbws.feeds.simulator import Simulator  # noqa: E402
from sbws.market.state import MarketState  # noqa: E402

SOCKETS: dict[web.WebSocketResponse, dict] = {}


def matches(ctx: dict, market: dict, books: list[str]) -> bool:
    if market["id"] in ctx["markets"]:
        return True
    if not (ctx["sportsbooks"] or ctx["sports"] or ctx["marketTypes"]):
        return False
    if ctx["sports"] and market["sport"] not in ctx["sports"]:
        return False
    if ctx["marketTypes"] and market["marketType"] not in ctx["marketTypes"]:
        return False
    return not ctx["sportsbooks"] or bool(ctx["sportsbooks"] & set(books))


async def handler(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()  # compress=True by default, as in the seed's setup
    await ws.prepare(request)
    ctx = {"sportsbooks": set(), "markets": set(), "marketTypes": set(), "sports": set(), "arbitrage": False}
    SOCKETS[ws] = ctx
    await ws.send_str(json.dumps({"type": "connected", "timestamp": int(time.time() * 1000)}))
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "subscribe":
                p = data.get("payload") or {}
                for key in ("sportsbooks", "markets", "marketTypes", "sports"):
                    ctx[key] |= set(p.get(key) or [])
                ctx["arbitrage"] = ctx["arbitrage"] or bool(p.get("arbitrage"))
                await ws.send_str(json.dumps({"type": "subscribed"}))
            elif data.get("type") == "ping":
                await ws.send_str(json.dumps({"type": "pong"}))
    finally:
        SOCKETS.pop(ws, None)
    return ws


async def run(args: argparse.Namespace) -> None:
    state = MarketState(ArbConfig(max_age=0))
    sim = Simulator(seed=args.seed, events=args.sim_events, books=args.sim_books, tick_ms=args.sim_tick_ms, speed=args.sim_speed)
    dirty: set[str] = set()

    async def feed() -> None:
        async for batch in sim.batches():
            dirty.update(state.apply(batch).markets)

    async def push() -> None:
        while True:
            await asyncio.sleep(args.market_interval)
            changed = [m for m in dirty if state.key(m) is not None]
            dirty.clear()
            markets = [(views.market(state, m), state.market_books(m)) for m in changed]
            published = time.time() * 1000  # the same point as sbws: when the push cycle starts sending
            for ws, ctx in list(SOCKETS.items()):
                for market, books in markets:
                    if matches(ctx, market, books):
                        message = {"type": "market_update", "markets": [market], "timestamp": int(time.time() * 1000),
                                   "publishedAt": published}
                        try:
                            await ws.send_str(json.dumps(message))
                        except (ConnectionResetError, RuntimeError):
                            break

    app = web.Application()
    app.router.add_get("/ws/sportsbooks", handler)
    app.router.add_get("/readyz", lambda r: web.json_response({"status": "ready"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    await asyncio.gather(feed(), push())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--market-interval", type=float, default=0.1)
    ap.add_argument("--sim-events", type=int, default=24)
    ap.add_argument("--sim-books", type=int, default=10)
    ap.add_argument("--sim-tick-ms", type=int, default=100)
    ap.add_argument("--sim-speed", type=float, default=1.0)
    args = ap.parse_args()
    try:
        import uvloop  # the same event loop as sbws serve, so only the delivery pattern differs

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
