"""A subscribe flood and a bystander: how long the bystander's pings take while 50 sockets resubscribe.

    python benchmarks/flood.py [--sockets 50] [--duration 10] [--json]

Starts ``sbws serve`` (simulator, seed 1, protocol v2 sockets), opens
``--sockets`` anonymous v2 sockets from a separate process that send
``subscribe``/``unsubscribe`` as fast as the server's per-socket rate limit
allows (10 messages/s), each one asking for a fresh image, and a bystander
socket that sends a ping every 100 ms and times each pong.  The baseline in
the same run is the bystander alone (no flood).  Prints the bystander's ping
p50/p99/max and how many (un)subscribes the flood got answered or refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from fanout import free_port, wait_ready  # noqa: E402

SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer"]


def start_server(port: int, workdir: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "sbws", "serve", "--port", str(port), "--db", os.path.join(workdir, f"{port}.db"),
           "--seed", "1", "--sim-events", "48", "--log-level", "error"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_ready(proc, port, "sbws")


def flood_main(url: str, sockets: int, stop_at: float, out: "mp.Queue[dict]") -> None:
    import aiohttp

    async def one(session: aiohttp.ClientSession, i: int, counts: dict) -> None:
        async with session.ws_connect(url) as ws:
            reader = asyncio.create_task(drain(ws, counts))
            n = 0
            while time.time() < stop_at:
                kind = "subscribe" if n % 2 == 0 else "unsubscribe"
                await ws.send_json({"type": kind, "id": n, "payload": {"sports": [SPORTS[(i + n) % 5]], "arbitrage": True}})
                n += 1
                await asyncio.sleep(0.1)  # the default rate limit: 10 messages a second
            reader.cancel()

    async def drain(ws, counts: dict) -> None:  # type: ignore[no-untyped-def]
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(msg.data)
                if data.get("type") in ("subscribed", "unsubscribed"):
                    counts["answered"] += 1
                elif data.get("type") == "error":
                    counts["refused"] += 1

    async def run() -> None:
        counts = {"answered": 0, "refused": 0}
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one(session, i, counts) for i in range(sockets)), return_exceptions=True)
        out.put(counts)

    asyncio.run(run())


async def bystander(url: str, seconds: float) -> list[float]:
    import aiohttp

    rtts: list[float] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
        pending: dict[int, float] = {}

        async def reader() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if data.get("type") == "pong" and data.get("id") in pending:
                        rtts.append((time.perf_counter() - pending.pop(data["id"])) * 1000)

        task = asyncio.create_task(reader())
        deadline = time.time() + seconds
        n = 0
        while time.time() < deadline:
            pending[n] = time.perf_counter()
            await ws.send_json({"type": "ping", "id": n})
            n += 1
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        task.cancel()
        rtts.extend(30_000.0 for _ in pending)  # unanswered pings count as 30 s
    return rtts


def figures(rtts: list[float]) -> dict:
    ordered = sorted(rtts)
    return {"pings": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sockets", type=int, default=50)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = start_server(port, workdir)
        url = f"ws://127.0.0.1:{port}/ws/sportsbooks?v=2"
        try:
            quiet = figures(asyncio.run(bystander(url, args.duration / 2)))
            out: mp.Queue[dict] = mp.Queue()
            flood = mp.Process(target=flood_main, args=(url, args.sockets, time.time() + args.duration + 1, out))
            flood.start()
            time.sleep(1.0)
            loaded = figures(asyncio.run(bystander(url, args.duration)))
            counts = out.get(timeout=args.duration + 30)
            flood.join(10)
        finally:
            proc.terminate()
            proc.wait(10)
    result = {"baseline_no_flood": quiet, "under_flood": loaded, "flood_sockets": args.sockets, **counts}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"bystander ping, no flood:   p50 {quiet['p50_ms']} ms, p99 {quiet['p99_ms']} ms, max {quiet['max_ms']} ms")
        print(f"bystander ping, {args.sockets} sockets (un)subscribing: p50 {loaded['p50_ms']} ms, p99 "
              f"{loaded['p99_ms']} ms, max {loaded['max_ms']} ms; flood answered {counts['answered']}, "
              f"refused {counts['refused']}")


if __name__ == "__main__":
    main()
