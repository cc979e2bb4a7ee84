"""Price history: ingest rate and event-loop cost, bytes per change, and one market's last 24 hours.

    python benchmarks/history.py [--rate 20000] [--seconds 10] [--json]

Ingest: an asyncio loop hands the store ``--rate`` changes a second (in 20 ms
slices, as feed batches arrive) for ``--seconds``; the figure is the loop
thread's CPU time over the wall time (``time.thread_time``), beside a
baseline in the same run that writes the same rows on the loop itself.
Query: a store holding 7 days of 300 markets, the measured market with 20
books x 3 selections each re-priced about once every ``--every`` seconds
(default: 300 and 60), asked for its last 24 hours through the server's own
query and downsampling code, with ``maxPoints`` 300 (the default) and 1,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbws.history.series import DAY_MS, downsample  # noqa: E402
from sbws.history.sqlite import SqliteHistory  # noqa: E402

BOOKS = [f"book{i}" for i in range(20)]


def rows_for(n: int, t0: int, rng: random.Random) -> list[tuple[str, int, str, int, float | None]]:
    return [(f"ev{rng.randrange(2000)}:moneyline", rng.randrange(2), rng.choice(BOOKS), t0 + i, round(rng.uniform(1.2, 5.0), 2))
            for i in range(n)]


async def drive(store: SqliteHistory | None, conn: sqlite3.Connection | None, rate: int, seconds: float,
                rng: random.Random) -> dict[str, float]:
    """Hand ``rate`` changes a second to the store (or write them inline on ``conn``) for ``seconds``."""
    slice_s = 0.02
    per_slice = int(rate * slice_s)
    batches = [rows_for(per_slice, 1_700_000_000_000 + k * per_slice, rng) for k in range(int(seconds / slice_s))]
    loop = asyncio.get_running_loop()
    cpu0, wall0 = time.thread_time(), time.perf_counter()
    next_at = loop.time()
    for rows in batches:
        if store is not None:
            store.record(rows)
        else:
            assert conn is not None
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?)", [(hash(r[:3]) & 0xFFFF, r[3], r[4]) for r in rows])
            conn.execute("COMMIT")
        next_at += slice_s
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    flushed = time.perf_counter()
    if store is not None:
        await loop.run_in_executor(None, store.flush, 120.0)
    backlog = time.perf_counter() - flushed
    total = per_slice * len(batches)
    return {"changes": total, "wall_s": round(wall, 3), "loop_cpu_pct": round(cpu / wall * 100, 2),
            "achieved_per_s": round(total / (wall + backlog)), "flush_after_s": round(backlog, 3)}


def populate(store: SqliteHistory, now: int, rng: random.Random, every_s: int) -> int:
    """7 days of 300 markets; ``target:moneyline`` re-priced about every ``every_s`` at 20 books x 3 selections."""
    count = 0
    start = now - 7 * DAY_MS
    step = 60_000
    for t in range(start, now, step):
        rows = []
        for b in BOOKS:
            for o in range(3):
                if rng.random() < step / (every_s * 1000):
                    rows.append(("target:moneyline", o, b, t + rng.randrange(step), round(rng.uniform(1.5, 4.0), 2)))
        for _ in range(60):  # the other markets: 60 changes a minute between them
            rows.append((f"m{rng.randrange(300)}:moneyline", rng.randrange(2), rng.choice(BOOKS), t + rng.randrange(60_000),
                         round(rng.uniform(1.2, 5.0), 2)))
        store.record(rows)
        count += len(rows)
    store.flush(600.0)
    return count


def query_once(store: SqliteHistory, now: int, max_points: int) -> int:
    series, _opening, _current, _steam = store.query("target:moneyline", None, now - DAY_MS, now, max_points)
    sampled = [downsample(points, now - DAY_MS, now, max_points) for points in series.values()]
    return sum(len(s) for s in sampled)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=int, default=20_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--every", default="300,60", help="seconds between re-prices of each series of the queried market")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteHistory(str(Path(tmp) / "ingest.db"), days=7)
        ingest = asyncio.run(drive(store, None, args.rate, args.seconds, rng))
        store.writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = store.size_bytes()
        ingest["bytes_per_change"] = round(size / store.written, 1)
        store.close()

        inline = sqlite3.connect(str(Path(tmp) / "inline.db"), isolation_level=None)
        inline.execute("PRAGMA journal_mode=WAL")
        inline.execute("PRAGMA synchronous=NORMAL")
        inline.execute("CREATE TABLE points (series INTEGER, t INTEGER, price REAL, PRIMARY KEY (series, t)) WITHOUT ROWID")
        baseline = asyncio.run(drive(None, inline, args.rate, args.seconds, rng))
        inline.close()

        queries = []
        for every in (int(x) for x in args.every.split(",")):
            store = SqliteHistory(str(Path(tmp) / f"query{every}.db"), days=7)
            now = 1_700_000_000_000
            started = time.perf_counter()
            stored = populate(store, now, rng, every)
            fill_s = time.perf_counter() - started
            in_window = sum(len(p) for p in store.query("target:moneyline", None, now - DAY_MS, now)[0].values())
            for max_points in (300, 1_000):
                points = query_once(store, now, max_points)
                samples = []
                for _ in range(15):
                    t0 = time.perf_counter()
                    query_once(store, now, max_points)
                    samples.append(time.perf_counter() - t0)
                queries.append({"every_s": every, "changes_in_24h": in_window, "max_points": max_points,
                                "points_returned": points, "stored_changes": stored, "fill_s": round(fill_s, 1),
                                "ms_median": round(statistics.median(samples) * 1000, 2),
                                "ms_max": round(max(samples) * 1000, 2)})
            store.close()
    result = {"ingest": ingest, "ingest_baseline_inline_writes": baseline, "query_last_24h": queries}
    if args.json:
        print(json.dumps(result))
        return
    print(f"ingest {ingest['changes']:,} changes at {args.rate:,}/s: loop CPU {ingest['loop_cpu_pct']}% of one core, "
          f"written at {ingest['achieved_per_s']:,}/s, {ingest['bytes_per_change']} bytes per change")
    print(f"baseline, same rows written on the loop: loop CPU {baseline['loop_cpu_pct']}%")
    for q in queries:
        print(f"one market's last 24 h, each series re-priced every {q['every_s']} s ({q['changes_in_24h']:,} changes), "
              f"maxPoints {q['max_points']}: {q['points_returned']:,} points in {q['ms_median']} ms median, "
              f"{q['ms_max']} ms max")


if __name__ == "__main__":
    main()
