"""Protocol v2 resume with many withdrawals in the window: the indexed tombstones against a full scan.

    python benchmarks/resume.py [--markets 5000] [--books 10] [--json]

Builds a market stream of ``--markets`` two-way markets quoted by ``--books``
books, withdraws every book's home price (markets × books tombstones), then
times ``MarketStream.resume`` from before the withdrawals.  The baseline, in
the same run, is the previous algorithm: for every changed market, a scan of
every tombstone in the window (O(markets × tombstones)).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.arbitrage import ArbConfig  # noqa: E402
from engine.board import Quote  # noqa: E402
from engine.markets import MONEYLINE, MarketKey  # noqa: E402
from sbws.fanout.stream import MarketStream  # noqa: E402
from sbws.market.records import Batch, EventInfo  # noqa: E402
from sbws.market.state import MarketState  # noqa: E402


def build(markets: int, books: int) -> MarketStream:
    state = MarketState(ArbConfig())
    stream = MarketStream(window_s=1e9, max_bytes=1 << 40, active=True)
    events = [EventInfo(f"e{i}", "NBA", "NBA", "H", "A", 2**41) for i in range(markets)]
    keys = [MarketKey(f"e{i}", MONEYLINE) for i in range(markets)]
    names = [f"b{j}" for j in range(books)]
    t = time.time()
    changes = state.apply(Batch(t, events, keys, [Quote(k.id, o, b, 1.9 + j / 100, t)
                                                    for k in keys for o in (0, 1) for j, b in enumerate(names)]))
    stream.advance(state, changes.markets | changes.defined, changes.gone, t)
    changes = state.apply(Batch(t + 1, (), (), [Quote(k.id, 0, b, 0.0, t + 1) for k in keys for b in names]))
    stream.advance(state, changes.markets | changes.defined, changes.gone, t + 1)
    return stream


def full_scan(stream: MarketStream, since: int) -> int:
    """The previous resume's inner loops: every tombstone visited for every changed market."""
    flat = [(m, sel, book, when) for m, table in stream.gone_books.items() for (sel, book), when in table.items()]
    found = 0
    for market_id, seq in stream.changed_at.items():
        if seq <= since:
            continue
        for m, _sel, _book, when in flat:
            if m == market_id and when > since:
                found += 1
    return found


def timed(fn, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=5000)
    ap.add_argument("--books", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    stream = build(args.markets, args.books)
    tombstones = sum(len(t) for t in stream.gone_books.values())
    out = {"markets": args.markets, "tombstones": tombstones,
           "resume_ms": round(timed(lambda: stream.resume(1, lambda m: True)), 1),
           "full_scan_baseline_ms": round(timed(lambda: full_scan(stream, 1), runs=1), 1)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['markets']} markets, {tombstones} withdrawn quotes in the window: resume {out['resume_ms']} ms; "
              f"the previous full scan {out['full_scan_baseline_ms']} ms")


if __name__ == "__main__":
    main()
