"""Engine throughput: full scan, incremental scan, and the pure-Python reference.

    python benchmarks/arbitrage_throughput.py [--markets 100000] [--books 20] [--json]

Builds a board of 2- and 3-way markets (prices around a fair probability with
book margins and noise, so a small share are arbitrages), then times, in one
run: a full scan, ``update`` + ``scan(changed)`` after 1,000 changed quotes,
and the plain-loop reference (tests/reference.py) on a subset; then the same
for the value scan (book0 as the sharp, ``--devig``, default worst), with the
full value scan timed for every de-vig method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.arbitrage import ArbConfig, Scanner  # noqa: E402
from engine.board import QuoteBoard  # noqa: E402
from engine.markets import MONEYLINE, MarketKey  # noqa: E402
from engine.devig import METHODS  # noqa: E402
from engine.value import ValueConfig, ValueScanner  # noqa: E402
from tests.reference import reference_scan, reference_value  # noqa: E402


def build(markets: int, books: int, seed: int) -> QuoteBoard:
    rng = np.random.default_rng(seed)
    board = QuoteBoard(market_capacity=markets, book_capacity=books)
    for b in range(books):
        board.book(f"book{b}")
    three = rng.random(markets) < 0.3
    for m in range(markets):
        board.add_market(MarketKey(f"ev{m}", MONEYLINE, None, bool(three[m])))
    fair = rng.dirichlet([3, 3, 3], size=markets)
    two = rng.uniform(0.2, 0.8, size=markets)
    fair[~three] = np.column_stack([two, 1 - two, np.zeros(markets)])[~three]
    margin = rng.uniform(0.03, 0.07, size=books)
    noise = rng.normal(0, 0.01, size=(markets, 3, books))
    with np.errstate(divide="ignore"):
        prices = 1.0 / (fair[:, :, None] * (1 + margin[None, None, :]) * (1 + noise))
    prices = np.where(rng.random((markets, 3, books)) < 0.15, np.nan, np.round(prices, 2))
    prices[~three, 2, :] = np.nan
    board.prices[:books, :markets] = np.where(prices > 1.0, prices, np.nan).transpose(2, 0, 1)
    board.times[:books, :markets] = np.where(np.isnan(board.prices[:books, :markets]), np.nan, 0.0)
    board.refresh_best()
    return board


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def reference_input(board: QuoteBoard, n: int):
    markets = []
    for m in range(n):
        k = int(board.n_outcomes[m])
        quotes = [
            {board.books[b]: (float(board.prices[b, m, o]), 0.0) for b in range(len(board.books)) if not np.isnan(board.prices[b, m, o])}
            for o in range(k)
        ]
        markets.append((board.markets[m].id, k, quotes))
    return markets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markets", type=int, default=100_000)
    ap.add_argument("--books", type=int, default=20)
    ap.add_argument("--changed", type=int, default=1_000, help="quotes changed before the incremental scan")
    ap.add_argument("--reference-markets", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-age", type=float, default=60.0, help="staleness filter on (as in serve); 0 disables")
    ap.add_argument("--commission", action="store_true", help="also apply a 5%% commission to two books")
    ap.add_argument("--devig", default="worst", choices=METHODS, help="de-vig method of the value scan [worst: the costliest]")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    board = build(args.markets, args.books, args.seed)
    commission = {"book0": 0.05, "book1": 0.02} if args.commission else {}
    config = ArbConfig(commission=commission, max_age=args.max_age)
    scanner = Scanner(board, config)
    now = 10.0
    found = scanner.scan(now)
    full = timed(lambda: scanner.scan(now), args.repeat)

    rng = np.random.default_rng(args.seed + 1)
    n = args.markets

    def change():
        """Re-quotes: an existing price moved by up to 2%, as books do tick by tick."""
        m = rng.integers(0, n, args.changed)
        o = rng.integers(0, 2, args.changed)
        b = rng.integers(0, args.books, args.changed)
        old = board.prices[b, m, o]
        p = np.round(np.where(np.isnan(old), 2.0, old) * rng.uniform(0.98, 1.02, args.changed), 2)
        return m, o, b, p, np.full(args.changed, now)

    # Value: book0 is the sharp; every other book's price is checked against its de-vigged line.
    value_config = ValueConfig(sharp=("book0",), method=args.devig, commission=commission, max_age=args.max_age)
    value = ValueScanner(board, value_config)
    value_found = value.scan(now)
    value_full = timed(lambda: value.scan(now), args.repeat)
    by_method = {
        m: round(timed(lambda v=ValueScanner(board, attrs.evolve(value_config, method=m)): v.scan(now), 5) * 1000, 3)
        for m in METHODS
    }

    batches = [change() for _ in range(args.repeat)]
    update_times, scan_times, value_times = [], [], []
    for batch in batches:
        t0 = time.perf_counter()
        changed = board.update_arrays(*batch)
        t1 = time.perf_counter()
        scanner.scan(now, changed)
        t2 = time.perf_counter()
        value.scan(now, changed)
        t3 = time.perf_counter()
        update_times.append(t1 - t0)
        scan_times.append(t2 - t1)
        value_times.append(t3 - t2)
    incremental = statistics.median(scan_times)
    update = statistics.median(update_times)
    value_incremental = statistics.median(value_times)

    ref_n = min(args.reference_markets, n)
    ref_markets = reference_input(board, ref_n)
    t0 = time.perf_counter()
    reference_scan(ref_markets, board.books, commission, now, args.max_age, 100.0, 0.0)
    ref_time = time.perf_counter() - t0
    per_market_engine = full / n
    per_market_ref = ref_time / ref_n
    t0 = time.perf_counter()
    reference_value(ref_markets, board.books, ("book0",), args.devig, commission, value_config.min_ev, now, args.max_age)
    value_ref_time = time.perf_counter() - t0
    quotes = int((~np.isnan(board.prices[:, :n])).sum())
    result = {
        "markets": n,
        "books": args.books,
        "quotes": quotes,
        "opportunities": len(found),
        "full_scan_ms": round(full * 1000, 3),
        "markets_per_s": round(n / full),
        "quotes_per_s": round(quotes / full),
        "changed_quotes": args.changed,
        "incremental_update_ms": round(update * 1000, 3),
        "incremental_scan_ms": round(incremental * 1000, 3),
        "reference_markets": ref_n,
        "reference_ms": round(ref_time * 1000, 3),
        "reference_speedup": round(per_market_ref / per_market_engine, 1),
        "max_age": args.max_age,
        "commission": bool(commission),
        "devig": args.devig,
        "value_bets": len(value_found),
        "value_full_scan_ms": round(value_full * 1000, 3),
        "value_incremental_scan_ms": round(value_incremental * 1000, 3),
        "value_reference_ms": round(value_ref_time * 1000, 3),
        "value_reference_speedup": round((value_ref_time / ref_n) / (value_full / n), 1),
        "value_full_scan_ms_by_method": by_method,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"board: {n:,} markets x {args.books} books, {quotes:,} quotes, {len(found)} opportunities")
    print(f"full scan:          {result['full_scan_ms']:.2f} ms  ({result['markets_per_s']:,} markets/s, {result['quotes_per_s']:,} quotes/s)")
    print(f"incremental:        update {result['incremental_update_ms']:.3f} ms + scan {result['incremental_scan_ms']:.3f} ms after {args.changed} changed quotes")
    print(f"reference (python): {result['reference_ms']:.1f} ms for {ref_n:,} markets -> engine is {result['reference_speedup']}x faster per market")
    print(f"value ({args.devig}):    full {result['value_full_scan_ms']:.2f} ms, incremental {result['value_incremental_scan_ms']:.3f} ms, "
          f"{len(value_found)} bets; reference {result['value_reference_ms']:.1f} ms for {ref_n:,} markets -> "
          f"{result['value_reference_speedup']}x per market")
    print("value full scan by method (ms): " + ", ".join(f"{m} {t}" for m, t in by_method.items()))


if __name__ == "__main__":
    main()
