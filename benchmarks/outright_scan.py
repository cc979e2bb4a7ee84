"""Many-runner scans (issue 23, the engine's maths): an outright board, full and incremental, beside plain Python.

    python benchmarks/outright_scan.py [--markets 2000] [--runners 100] [--books 20] [--json]

A board of ``--markets`` outrights of ``--runners`` runners priced by ``--books`` books (book 0, the sharp, prices
every runner; the others about 80 % of them, with 5-40 % margins), one winner each.  The full scan: best price
per runner over the books, N-way arbitrage (``engine.runners.sure_bets``), the sharp line de-vigged
(``engine.devig``), and every book's EV on every runner against it.  The incremental scan: 1,000 quotes change,
and only their markets are scanned again.  The baseline in the same run is the same full scan written as plain
Python loops (multiplicative de-vig, as the vectorized run beside it).
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

from engine.devig import devig  # noqa: E402
from engine.runners import RunnerBoard, sure_bets  # noqa: E402

MIN_EV = 0.02


def outright_board(markets: int, runners: int, books: int, rng: np.random.Generator) -> np.ndarray:
    fair = rng.dirichlet(np.full(runners, 0.7), size=markets)
    margin = 1.0 + rng.uniform(0.05, 0.40, size=(books, markets, 1))
    noise = rng.lognormal(0.0, 0.05, size=(books, markets, runners))
    with np.errstate(divide="ignore"):
        prices = np.maximum(1.01, 1.0 / (fair[None] * margin * noise))
    prices[1:][rng.random((books - 1, markets, runners)) > 0.8] = np.nan
    return prices


def scan(prices: np.ndarray, method: str) -> tuple[int, int]:
    """(arbitrage markets, value bets) of a board (books, markets, runners)."""
    markets, runners = prices.shape[1], prices.shape[2]
    n = np.full(markets, runners)
    best = np.fmax.reduce(prices, axis=0)
    sure = sure_bets(best, n)
    fair = devig(method, 1.0 / prices[0], n)
    ev = fair[None] * prices[1:] - 1.0
    return int(sure.arbitrage.sum()), int(np.count_nonzero(ev > MIN_EV))


def board_scan(board: RunnerBoard, quotes: list[tuple[str, str, str, float]], fair: np.ndarray) -> tuple[int, int]:
    """(arbitrage markets among the changed, value bets among the changed quotes and re-lined markets)."""
    changed = board.update(quotes)
    arbs = int(board.sure_bets(changed).arbitrage.sum())
    sharp = board.book_index["b0"]
    moved = sorted({board.market_index[m] for m, _r, b, _p in quotes if board.book_index[b] == sharp})
    values = 0
    if moved:
        markets = np.array(moved, dtype=np.intp)
        line, n = board.rows(markets, board.prices[sharp])
        fresh = devig("worst", 1.0 / line, n)
        for i, m in enumerate(moved):
            fair[board.start[m]:board.start[m] + n[i]] = fresh[i, : n[i]]
        slots = np.concatenate([np.arange(board.start[m], board.start[m] + board.n(m)) for m in moved])
        values += int(np.count_nonzero(fair[slots][None] * np.delete(board.prices[:, slots], sharp, axis=0) - 1 > MIN_EV))
    cells = [(board.book_index[b], board.start[board.market_index[m]] + board.runner_index[board.market_index[m]][r])
             for m, r, b, _p in quotes if board.book_index[b] != sharp]
    if cells:
        book_ids, slot_ids = np.array(cells).T
        values += int(np.count_nonzero(fair[slot_ids] * board.prices[book_ids, slot_ids] - 1 > MIN_EV))
    return arbs, values


def scan_python(prices: np.ndarray) -> tuple[int, int]:
    books, markets, runners = prices.shape
    table = prices.tolist()
    arbs = values = 0
    for m in range(markets):
        s = 0.0
        priced = True
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
                if price == price and p * price - 1.0 > MIN_EV:
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
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(23)
    prices = outright_board(args.markets, args.runners, args.books, rng)
    results = {}
    for method in ("multiplicative", "worst"):
        ms, found = timed(lambda: scan(prices, method), 7)
        results[f"full_{method}_ms"] = round(ms, 2)
        results[f"found_{method}"] = found
    changed = 1000
    books = rng.integers(0, args.books, changed)
    rows = rng.integers(0, args.markets, changed)
    cols = rng.integers(0, args.runners, changed)

    def incremental() -> tuple[int, int]:
        prices[books, rows, cols] *= rng.uniform(0.97, 1.03, changed)
        touched = np.unique(rows)
        return scan(prices[:, touched, :], "worst")

    ms, _ = timed(incremental, 7)
    results["incremental_worst_ms"] = round(ms, 2)
    results["incremental_markets"] = int(np.unique(rows).size)

    # The same change on a RunnerBoard: best prices kept per runner, arbitrage on the changed markets, the de-vig
    # only where the sharp book moved, EV on the changed quotes and on the markets whose fair line moved.
    board = RunnerBoard(books=args.books, slots=args.markets * args.runners)
    names = [f"r{r}" for r in range(args.runners)]
    for m in range(args.markets):
        board.add_market(f"m{m}", names)
    for b in range(args.books):
        board.update((f"m{m}", names[r], f"b{b}", float(prices[b, m, r]))
                     for m in range(args.markets) for r in range(args.runners))
    n_all = np.full(args.markets, args.runners)
    fair = np.full(board.best.size, np.nan)
    everything = np.arange(args.markets)
    rows_all, _ = board.rows(everything, board.prices[board.book_index["b0"]])
    fair_rows = devig("worst", 1.0 / rows_all, n_all)
    for m in range(args.markets):
        fair[board.start[m]:board.start[m] + args.runners] = fair_rows[m]

    def incremental_board() -> tuple[int, int]:
        factor = rng.uniform(0.97, 1.03, changed)
        quotes = [(f"m{m}", names[r], f"b{b}", float(prices[b, m, r] * f))
                  for b, m, r, f in zip(books.tolist(), rows.tolist(), cols.tolist(), factor.tolist())]
        return board_scan(board, quotes, fair)

    ms, found = timed(incremental_board, 7)
    results["incremental_board_ms"] = round(ms, 2)
    results["incremental_board_found"] = found
    python_ms, python_found = timed(lambda: scan_python(prices), 1)
    vector_ms, vector_found = timed(lambda: scan(prices, "multiplicative"), 7)
    results.update(python_full_ms=round(python_ms, 1), python_found=python_found,
                   vectorized_same_board_ms=round(vector_ms, 2), vectorized_found=vector_found,
                   speedup=round(python_ms / vector_ms, 1))
    if args.json:
        print(json.dumps(results))
        return
    print(f"board: {args.markets} outrights x {args.runners} runners x {args.books} books")
    print(f"full scan (arbitrage + value), multiplicative de-vig: {results['full_multiplicative_ms']} ms "
          f"(arbitrages, value bets: {results['found_multiplicative']})")
    print(f"full scan, worst of four de-vig methods: {results['full_worst_ms']} ms ({results['found_worst']})")
    print(f"incremental, 1,000 changed quotes ({results['incremental_markets']} markets), worst: "
          f"{results['incremental_worst_ms']} ms")
    print(f"incremental on a RunnerBoard (best kept per runner, de-vig where the sharp moved): "
          f"{results['incremental_board_ms']} ms (arbitrages, value bets touched: {results['incremental_board_found']})")
    print(f"plain Python, the same full scan (multiplicative): {results['python_full_ms']} ms, found {python_found}; "
          f"vectorized {results['vectorized_same_board_ms']} ms, found {vector_found}: {results['speedup']}x")


if __name__ == "__main__":
    main()
