"""Many-runner maths: arbitrage over N outcomes with k winners, and dutching.

Rows are markets, columns their outcomes (runners), NaN where a runner has
no price (or the row is narrower than the widest market); ``n`` is each
row's number of runners and ``k`` its number of winners.  Backing every
runner i at its best price d_i with stakes ∝ 1/d_i returns T·k/S (k of them
win) whatever the result, with S = Σ 1/d_i; so S < k is an arbitrage:

* roi = k/S − 1, edge = 100 · (1 − S/k), stakes s_i = T · (1/d_i) / S.
* A market with an unpriced runner is never an arbitrage (that runner could win).

For k = 1 these are exactly ``arbitrage``'s formulas.  Everything is
vectorized over rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from attrs import frozen
from numpy.typing import NDArray

from .arbitrage import TOLERANCE
from .devig import row_all, row_sum

FloatArray = NDArray[np.float64]


@frozen
class Sure:
    """Per row: S, whether it is an arbitrage, its roi and edge (percent), and each runner's share of the stake."""

    s: FloatArray
    arbitrage: NDArray[np.bool_]
    roi: FloatArray
    edge: FloatArray
    shares: FloatArray


def sure_bets(best: FloatArray, n: NDArray[np.integer], k: NDArray[np.number] | None = None) -> Sure:
    """Arbitrage over rows of best (effective) decimal prices, N runners and k winners each."""
    prices = np.asarray(best, dtype=np.float64)
    winners = np.ones(len(prices)) if k is None else np.asarray(k, dtype=np.float64)
    used = np.arange(prices.shape[1]) < np.asarray(n)[:, None]
    priced = row_all(~used | (prices > 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        inverse = np.where(used, 1.0 / prices, 0.0)
        s = np.where(priced, row_sum(np.nan_to_num(inverse, nan=0.0)), np.nan)
        arbitrage = priced & (s < winners * (1.0 - TOLERANCE))
        roi = (winners / s - 1.0) * 100.0
        edge = (1.0 - s / winners) * 100.0
        shares = np.where(used, inverse / s[:, None], np.nan)
    return Sure(s, arbitrage, roi, edge, shares)


@frozen
class Dutch:
    stakes: tuple[float, ...]
    """Per selection, in the order given."""
    returns: float
    """What any one of them returns if it wins (the same for each)."""
    profit: float
    """``returns`` minus the total stake, if one of them wins."""


def dutch(decimals: list[float], total: float) -> Dutch:
    """Stakes s_i = T · (1/o_i) / Σ(1/o) on several selections of one market, so each returns the same."""
    if not decimals or any(not d > 1.0 for d in decimals):
        raise ValueError("dutching needs at least one price above 1")
    if not total > 0:
        raise ValueError("the total stake must be positive")
    inverse = np.array([1.0 / d for d in decimals])
    share = inverse / inverse.sum()
    returns = float(total / inverse.sum())
    return Dutch(tuple(float(x) for x in share * total), returns, returns - total)


class RunnerBoard:
    """Many-runner markets on one flat runner axis: each market owns a block of slots (``start``, ``n`` used of
    ``capacity``), prices are ``(book, slot)``, and the best price per slot is kept up to date for the slots a
    quote touched, so a scan of the changed markets never reduces the whole board.

    A runner first priced by any book joins its market (a book that omits long shots does not shrink it); a
    market whose block is full moves to a block twice the size at the end.
    """

    def __init__(self, books: int = 8, slots: int = 1024) -> None:
        self.prices = np.full((books, slots), np.nan)
        self.best = np.full(slots, np.nan)
        self.book_index: dict[str, int] = {}
        self.market_index: dict[str, int] = {}
        self.runner_index: list[dict[str, int]] = []
        """Per market: runner id -> position in its block."""
        self.start: list[int] = []
        self.capacity: list[int] = []
        self.winners: list[int] = []
        self._end = 0

    def n(self, market: int) -> int:
        return len(self.runner_index[market])

    def add_market(self, market_id: str, runners: Sequence[str] = (), winners: int = 1) -> int:
        if market_id in self.market_index:
            return self.market_index[market_id]
        index = len(self.start)
        self.market_index[market_id] = index
        self.runner_index.append({})
        self.start.append(self._take(max(8, 2 * len(runners))))
        self.capacity.append(max(8, 2 * len(runners)))
        self.winners.append(winners)
        for runner in runners:
            self.slot(index, runner)
        return index

    def _take(self, size: int) -> int:
        start = self._end
        self._end += size
        if self._end > self.prices.shape[1]:
            grown = max(self._end, 2 * self.prices.shape[1])
            self.prices = np.concatenate([self.prices, np.full((self.prices.shape[0], grown - self.prices.shape[1]),
                                                               np.nan)], axis=1)
            self.best = np.concatenate([self.best, np.full(grown - self.best.size, np.nan)])
        return start

    def _book(self, book: str) -> int:
        index = self.book_index.get(book)
        if index is None:
            index = self.book_index[book] = len(self.book_index)
            if index >= self.prices.shape[0]:
                extra = np.full((self.prices.shape[0], self.prices.shape[1]), np.nan)
                self.prices = np.concatenate([self.prices, extra], axis=0)
        return index

    def slot(self, market: int, runner: str) -> int:
        """The slot of a runner, added to its market when new."""
        positions = self.runner_index[market]
        position = positions.get(runner)
        if position is None:
            position = positions[runner] = len(positions)
            if position >= self.capacity[market]:
                self._move(market, 2 * self.capacity[market])
        return self.start[market] + position

    def _move(self, market: int, capacity: int) -> None:
        old, used = self.start[market], len(self.runner_index[market]) - 1
        new = self._take(capacity)
        self.prices[:, new:new + used] = self.prices[:, old:old + used]
        self.prices[:, old:old + used] = np.nan
        self.best[new:new + used] = self.best[old:old + used]
        self.best[old:old + used] = np.nan
        self.start[market], self.capacity[market] = new, capacity

    def update(self, quotes: Iterable[tuple[str, str, str, float]]) -> NDArray[np.intp]:
        """(market id, runner id, book, decimal price; ≤ 1 or NaN withdraws it) → the markets that changed."""
        slots: list[int] = []
        books: list[int] = []
        values: list[float] = []
        markets: set[int] = set()
        market_index, book_index, runner_index, start = self.market_index, self.book_index, self.runner_index, self.start
        for market_id, runner, book, price in quotes:
            market = market_index.get(market_id)
            if market is None:
                market = self.add_market(market_id)
            position = runner_index[market].get(runner)
            slots.append(start[market] + position if position is not None else self.slot(market, runner))
            b = book_index.get(book)
            books.append(b if b is not None else self._book(book))
            values.append(price if price > 1.0 else np.nan)
            markets.add(market)
        if slots:
            self.prices[np.array(books), np.array(slots)] = values
            touched = np.unique(np.array(slots))
            self.best[touched] = np.fmax.reduce(self.prices[:, touched], axis=0)
        return np.fromiter(sorted(markets), dtype=np.intp, count=len(markets))

    def rows(self, markets: NDArray[np.intp], values: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
        """``values`` (one per slot) of the given markets as padded rows (markets × widest), and each row's n."""
        n = np.fromiter((len(self.runner_index[m]) for m in markets.tolist()), dtype=np.intp, count=markets.size)
        starts = np.fromiter((self.start[m] for m in markets.tolist()), dtype=np.intp, count=markets.size)
        width = int(n.max()) if n.size else 0
        columns = np.arange(width)
        index = starts[:, None] + np.minimum(columns, np.maximum(n[:, None] - 1, 0))
        return np.where(columns < n[:, None], values[index], np.nan), n

    def sure_bets(self, markets: NDArray[np.intp]) -> Sure:
        best, n = self.rows(markets, self.best)
        return sure_bets(best, n, np.fromiter((self.winners[m] for m in markets.tolist()), dtype=np.float64,
                                              count=markets.size))
