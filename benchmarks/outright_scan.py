"""Many-runner scans (issue 23) on the server's own path: an outright board, full and incremental, beside plain Python.

    python benchmarks/outright_scan.py [--markets 2000] [--runners 100] [--books 20] [--changed 1000] [--json]

A ``QuoteBoard`` of ``--markets`` outrights of ``--runners`` runners priced by ``--books`` books, the board the
market state keeps its outrights on (book 0, the sharp, prices every runner with a 3-6 % margin; the others about
80 % of them, with 15-40 % margins and 5 % noise), one winner each.  Timed in one run:

* the full scan: ``Scanner.scan`` (N-way arbitrage) and ``ValueScanner.scan`` (the sharp's line de-vigged, every
  book's EV on every runner), for the multiplicative method and for worst-of-four (the server's default);
* the incremental scan: ``--changed`` quotes move, ``update`` returns the changed markets, and both scans run on
  those alone, as ``MarketState.apply`` does: the fair line is de-vigged again only where the sharp book moved
  (``ValueScanner.line``), the other changed markets keep theirs;
* the same full scan as plain Python loops (multiplicative) on the same board, the baseline: it finds what the
  multiplicative scan finds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.arbitrage import ArbConfig, Scanner  # noqa: E402
from engine.board import QuoteBoard  # noqa: E402
from engine.markets import OUTRIGHT, MarketKey  # noqa: E402
from engine.value import ValueConfig, ValueScanner  # noqa: E402

MIN_EV = 2.0
NOW = 1000.0


def prices_of(markets: int, runners: int, books: int, rng: np.random.Generator) -> np.ndarray:
    fair = rng.dirichlet(np.full(runners, 0.7), size=markets)
    margin = 1.0 + rng.uniform(0.15, 0.40, size=(books, markets, 1))
    margin[0] = 1.0 + rng.uniform(0.03, 0.06, size=(markets, 1))  # the sharp's
    noise = rng.lognormal(0.0, 0.05, size=(books, markets, runners))
    prices = np.maximum(1.01, 1.0 / (fair[None] * margin * noise))
    prices[1:][rng.random((books - 1, markets, runners)) > 0.8] = np.nan
    return prices


def board_of(prices: np.ndarray) -> QuoteBoard:
    books, markets, runners = prices.shape
    board = QuoteBoard(market_capacity=markets, book_capacity=books, width=runners)
    for b in range(books):
        board.book(f"b{b}")
    for m in range(markets):
        idx = board.add_market(MarketKey(f"e{m}", OUTRIGHT))
        for _ in range(runners):
            board.add_outcome(idx)
    board.prices[:books, :markets, :runners] = prices
    board.times[:books, :markets, :runners] = np.where(np.isnan(prices), np.nan, NOW)
    board.refresh_best()
    return board


def full_scan(board: QuoteBoard, method: str) -> tuple[int, int]:
    arbs = Scanner(board, ArbConfig()).scan(NOW)
    values = ValueScanner(board, ValueConfig(sharp=("b0",), method=method, min_ev=MIN_EV)).scan(NOW)
    return len(arbs), len(values)


def python_scan(prices: np.ndarray) -> tuple[int, int]:
    """The same full scan in plain loops: best price per runner, S < 1, the sharp de-vigged, EV at every book."""
    books, markets, runners = prices.shape
    table = prices.tolist()
    arbs = values = 0
    for m in range(markets):
        s, priced = 0.0, True
        for r in range(runners):
            best = max((table[b][m][r] for b in range(books) if table[b][m][r] == table[b][m][r]), default=None)
            if best is None:
                priced = False
            else:
                s += 1.0 / best
        arbs += priced and s < 1.0 - 1e-9
        implied = [1.0 / table[0][m][r] for r in range(runners)]
        total = sum(implied)
        for r in range(runners):
            p = implied[r] / total
            for b in range(1, books):
                price = table[b][m][r]
                if price == price and (p * price - 1.0) * 100 >= MIN_EV:
                    values += 1
    return arbs, values


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    samples, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=2000)
    ap.add_argument("--runners", type=int, default=100)
    ap.add_argument("--books", type=int, default=20)
    ap.add_argument("--changed", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(23)
    prices = prices_of(args.markets, args.runners, args.books, rng)
    board = board_of(prices)
    results: dict[str, object] = {}
    for method in ("multiplicative", "worst"):
        ms, found = timed(lambda: full_scan(board, method), 7)
        results[f"full_{method}_ms"] = round(ms, 2)
        results[f"found_{method}"] = found
    python_ms, python_found = timed(lambda: python_scan(prices), 1)
    results.update(python_full_ms=round(python_ms, 1), python_found=python_found,
                   speedup=round(python_ms / float(results["full_multiplicative_ms"]), 1))  # type: ignore[arg-type]
    scanner = Scanner(board, ArbConfig())
    value = ValueScanner(board, ValueConfig(sharp=("b0",), min_ev=MIN_EV))
    value.line(NOW, None)  # every market's line, kept per row as the market state keeps it

    def incremental() -> tuple[float, float, int]:
        b = rng.integers(0, args.books, args.changed)
        m = rng.integers(0, args.markets, args.changed)
        r = rng.integers(0, args.runners, args.changed)
        moved = np.nan_to_num(prices[b, m, r], nan=20.0) * rng.uniform(0.97, 1.03, args.changed)
        t0 = time.perf_counter()
        changed = board.update_arrays(m, r, b, moved, np.full(args.changed, NOW))
        t1 = time.perf_counter()
        scanner.scan(NOW, changed)
        value.scan(NOW, changed, value.line(NOW, changed, np.unique(m[b == 0])))  # de-vig where the sharp moved
        return (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000, int(changed.size)

    runs = [incremental() for _ in range(15)]
    results["incremental_update_ms"] = round(statistics.median(x[0] for x in runs), 3)
    results["incremental_scan_ms"] = round(statistics.median(x[1] for x in runs), 3)
    results["incremental_markets"] = runs[-1][2]
    if args.json:
        print(json.dumps(results))
        return
    print(f"board: {args.markets} outrights x {args.runners} runners x {args.books} books (QuoteBoard, the server's)")
    print(f"full scan (arbitrage + value), multiplicative: {results['full_multiplicative_ms']} ms "
          f"(arbitrages, value bets: {results['found_multiplicative']})")
    print(f"full scan, worst of four de-vig methods: {results['full_worst_ms']} ms ({results['found_worst']})")
    print(f"incremental, {args.changed} changed quotes ({results['incremental_markets']} markets): update "
          f"{results['incremental_update_ms']} ms + scan {results['incremental_scan_ms']} ms (worst)")
    print(f"plain Python, the same full scan (multiplicative): {results['python_full_ms']} ms, found {python_found}: "
          f"{results['speedup']}x")


if __name__ == "__main__":
    main()
