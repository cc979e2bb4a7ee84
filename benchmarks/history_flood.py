"""A history-request flood and a bystander: how long `/livez` takes while clients ask for a dense history.

    python benchmarks/history_flood.py [--clients 4] [--duration 10] [--server-root DIR] [--json]

Fills a price history with one market's last 24 hours at 20 books x 3 selections, each series re-priced
every 10 s (518,400 changes), starts ``sbws serve`` on it (simulator, seed 1), and from a separate process
runs ``--clients`` clients that each ask ``GET /api/markets/target:moneyline/history?maxPoints=5000`` back
to back, as fast as they are answered.  A bystander times ``GET /livez`` every 100 ms.  The baseline in the
same run is the bystander alone.  ``--server-root`` runs the server of another checkout (for a before and
after: the history file is written by this checkout's code, in the format both read).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fanout import free_port, wait_ready  # noqa: E402
from sbws.history.series import DAY_MS  # noqa: E402
from sbws.history.sqlite import SqliteHistory  # noqa: E402

BOOKS = [f"book{i}" for i in range(20)]
PATH = "/api/markets/target:moneyline/history?maxPoints=5000"


def fill(path: str, now: int) -> int:
    store = SqliteHistory(path, days=7)
    rng = random.Random(5)
    count = 0
    for t in range(now - DAY_MS, now, 10_000):
        rows = [("target:moneyline", o, b, t + rng.randrange(10_000), round(rng.uniform(1.5, 4.0), 2))
                for b in BOOKS for o in range(3)]
        store.record(rows)
        count += len(rows)
    store.flush(600.0)
    store.close()
    return count


def flood_main(base: str, clients: int, stop_at: float, out: "mp.Queue[dict[str, int]]") -> None:
    import aiohttp

    async def one(session: aiohttp.ClientSession, counts: dict[str, int]) -> None:
        while time.time() < stop_at:
            async with session.get(base + PATH) as resp:
                await resp.read()
                counts["answered" if resp.status == 200 else "refused"] += 1
                if resp.status != 200:
                    await asyncio.sleep(0.05)

    async def run() -> None:
        counts = {"answered": 0, "refused": 0}
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(one(session, counts) for _ in range(clients)), return_exceptions=True)
        out.put(counts)

    asyncio.run(run())


async def bystander(base: str, seconds: float) -> list[float]:
    import aiohttp

    times: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        deadline = time.time() + seconds
        while time.time() < deadline:
            t0 = time.perf_counter()
            async with session.get(base + "/livez") as resp:
                await resp.read()
            times.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.1)
    return times


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"requests": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1), "max_ms": round(ordered[-1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--server-root", default=str(ROOT))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        db = os.path.join(workdir, "bench.db")
        changes = fill(os.path.join(workdir, "bench.history.db"), int(time.time() * 1000))
        port = free_port()
        cmd = [sys.executable, "-m", "sbws", "serve", "--port", str(port), "--db", db, "--seed", "1",
               "--log-level", "error"]
        proc = wait_ready(subprocess.Popen(cmd, cwd=args.server_root, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL), port, "sbws")
        base = f"http://127.0.0.1:{port}"
        try:
            quiet = figures(asyncio.run(bystander(base, args.duration / 2)))
            out: mp.Queue[dict[str, int]] = mp.Queue()
            flood = mp.Process(target=flood_main, args=(base, args.clients, time.time() + args.duration + 1, out))
            flood.start()
            time.sleep(1.0)
            loaded = figures(asyncio.run(bystander(base, args.duration)))
            counts = out.get(timeout=args.duration + 180)
            flood.join(10)
        finally:
            proc.terminate()
            proc.wait(10)
    result = {"history_changes": changes, "baseline_no_flood": quiet, "under_flood": loaded,
              "clients": args.clients, **counts}
    if args.json:
        print(json.dumps(result))
        return
    print(f"history: {changes:,} changes in the market's last 24 h")
    print(f"/livez, no flood: p50 {quiet['p50_ms']} ms, p95 {quiet['p95_ms']} ms, p99 {quiet['p99_ms']} ms, "
          f"max {quiet['max_ms']} ms")
    print(f"/livez, {args.clients} clients asking for the history: p50 {loaded['p50_ms']} ms, p95 "
          f"{loaded['p95_ms']} ms, p99 {loaded['p99_ms']} ms, max {loaded['max_ms']} ms; history requests answered "
          f"{counts['answered']}, refused {counts['refused']}")


if __name__ == "__main__":
    main()
