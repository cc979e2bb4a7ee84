"""The quote board: every market's prices at every book, in dense arrays.

Layout is ``prices[book, market, outcome]``: the reduction over books, the
hot operation of every scan, is then an element-wise maximum of one
contiguous (market, outcome) plane per book, which numpy runs with SIMD
(about 6x faster than reducing a short trailing book axis).  Missing quotes
are NaN.  Markets and books get dense integer indices on first sight; arrays
grow by doubling so that registration stays amortised O(1).

The outcome axis is as wide as the board's widest market.  The server keeps
two boards so that width never costs the 2/3-way markets anything: one of
fixed markets (width 3) and one of outrights, whose markets gain runners as
sources price them (``add_outcome``; the axis doubles when one outgrows it).
``winners`` holds each market's number of winners.

``best[market, outcome]`` is the highest price over the books, kept for the
cells a change touched: the scans' first pass (which markets could be an
arbitrage, which cells could be value) reads it instead of reducing every
book's plane again.

Lay prices (an exchange's offers to lay: what a backer of the other side
gets) live in ``lays[exchange, market, outcome]``, one plane per book that
ever quoted a lay (``lay_index``), and ``best_lay`` is the lowest over them.
Everything that reads back prices reads ``prices`` as before.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from attrs import frozen
from numpy.typing import NDArray

from .markets import MAX_OUTCOMES, MarketKey

IntArray = NDArray[np.intp]


BACK, LAY = "back", "lay"
SIDES = (BACK, LAY)


@frozen
class Quote:
    """One book's decimal price for one outcome, to back it (default) or, at an exchange, to lay it; NaN or
    <= 1 withdraws it."""

    market_id: str
    outcome: int
    book: str
    price: float
    ts: float
    side: str = BACK


def _doubled(capacity: int, needed: int) -> int:
    size = max(capacity, 1)
    while size < needed:
        size *= 2
    return size


class QuoteBoard:
    def __init__(self, market_capacity: int = 1024, book_capacity: int = 16, width: int = MAX_OUTCOMES) -> None:
        self.market_index: dict[str, int] = {}
        self.markets: list[MarketKey] = []
        self.book_index: dict[str, int] = {}
        self.books: list[str] = []
        self.prices = np.full((book_capacity, market_capacity, width), np.nan)
        self.times = np.full((book_capacity, market_capacity, width), np.nan)
        self.n_outcomes = np.zeros(market_capacity, dtype=np.int16)
        self.used = np.zeros((market_capacity, width), dtype=bool)
        self.best = np.full((market_capacity, width), np.nan)
        self.lay_index: dict[int, int] = {}
        """Book index → its plane of ``lays``."""
        self.lays = np.full((0, market_capacity, width), np.nan)
        self.lay_times = np.full((0, market_capacity, width), np.nan)
        self.best_lay = np.full((market_capacity, width), np.nan)
        """Which outcome columns each market has (the third is a draw's, in 3-way markets only)."""
        self.winners = np.ones(market_capacity)
        self.several_winners = False
        """Whether any market ever had k > 1 (scans of a board of k = 1 markets compare with 1)."""
        self.open = np.zeros(market_capacity, dtype=bool)
        self._free: list[int] = []

    @property
    def n_markets(self) -> int:
        return len(self.markets)

    @property
    def width(self) -> int:
        return int(self.prices.shape[2])

    def _grow(self, markets: int, books: int, width: int = 0) -> None:
        b_cap, m_cap, w_cap = self.prices.shape
        if markets <= m_cap and books <= b_cap and width <= w_cap:
            return
        new_m, new_b, new_w = _doubled(m_cap, markets), _doubled(b_cap, books), _doubled(w_cap, width)
        for name in ("prices", "times"):
            old = getattr(self, name)
            new = np.full((new_b, new_m, new_w), np.nan)
            new[:b_cap, :m_cap, :w_cap] = old
            setattr(self, name, new)
        if new_m != m_cap or new_w != w_cap:
            for name in ("lays", "lay_times"):
                old = getattr(self, name)
                new = np.full((old.shape[0], new_m, new_w), np.nan)
                new[:, :m_cap, :w_cap] = old
                setattr(self, name, new)
        if new_m != m_cap or new_w != w_cap:
            used = np.zeros((new_m, new_w), bool)
            used[:m_cap, :w_cap] = self.used
            self.used = used
            for name in ("best", "best_lay"):
                grown = np.full((new_m, new_w), np.nan)
                grown[:m_cap, :w_cap] = getattr(self, name)
                setattr(self, name, grown)
        if new_m != m_cap:
            self.n_outcomes = np.concatenate([self.n_outcomes, np.zeros(new_m - m_cap, np.int16)])
            self.winners = np.concatenate([self.winners, np.ones(new_m - m_cap)])
            self.open = np.concatenate([self.open, np.zeros(new_m - m_cap, bool)])

    def add_market(self, key: MarketKey) -> int:
        idx = self.market_index.get(key.id)
        if idx is not None:
            self.open[idx] = True
            return idx
        if self._free:
            idx = self._free.pop()
            self.markets[idx] = key
        else:
            idx = len(self.markets)
            self._grow(idx + 1, len(self.books))
            self.markets.append(key)
        self.market_index[key.id] = idx
        self.n_outcomes[idx] = len(key.outcomes)
        self.used[idx] = np.arange(self.width) < len(key.outcomes)
        self.winners[idx] = key.winners
        self.several_winners |= key.winners > 1
        self.open[idx] = True
        return idx

    def add_outcome(self, idx: int) -> int:
        """A new runner of market ``idx``: its outcome column (the axis widens when the market outgrows it)."""
        column = int(self.n_outcomes[idx])
        self._grow(len(self.markets), len(self.books), column + 1)
        self.n_outcomes[idx] = column + 1
        self.used[idx, column] = True
        return column

    def remove_market(self, market_id: str) -> int | None:
        """Forget a market (its event is over) and recycle its row."""
        idx = self.close_market(market_id)
        if idx is not None:
            del self.market_index[market_id]
            self.n_outcomes[idx] = 0
            self.used[idx] = False
            self.winners[idx] = 1.0
            self._free.append(idx)
        return idx

    def market_prices(self, idx: int) -> np.ndarray:
        """(outcome, book) prices of one market, books in registration order."""
        return self.prices[: len(self.books), idx, :].T

    def book(self, name: str) -> int:
        idx = self.book_index.get(name)
        if idx is None:
            idx = len(self.books)
            self._grow(len(self.markets), idx + 1)
            self.books.append(name)
            self.book_index[name] = idx
        return idx

    def close_market(self, market_id: str) -> int | None:
        """Withdraw every quote of a market (the event started or settled)."""
        idx = self.market_index.get(market_id)
        if idx is None:
            return None
        self.open[idx] = False
        for array in (self.prices, self.times, self.lays, self.lay_times):
            array[:, idx] = np.nan
        self.best[idx] = np.nan
        self.best_lay[idx] = np.nan
        return idx

    def withdraw_book(self, book: str) -> IntArray:
        """Drop all of one book's quotes (it went offline); returns the markets touched."""
        b = self.book_index.get(book)
        if b is None:
            return np.empty(0, dtype=np.intp)
        n = self.n_markets
        touched = np.flatnonzero(~np.isnan(self.prices[b, :n]).all(axis=1))
        self.prices[b, :n] = np.nan
        self.times[b, :n] = np.nan
        lay = self.lay_index.get(b)
        if lay is not None:
            touched = np.union1d(touched, np.flatnonzero(~np.isnan(self.lays[lay, :n]).all(axis=1)))
            self.lays[lay, :n] = np.nan
            self.lay_times[lay, :n] = np.nan
        self.refresh_best(touched)
        return touched

    def refresh_best(self, markets: IntArray | None = None) -> None:
        """Recompute ``best`` for whole rows (None: every market), after prices were written other than by
        ``update``."""
        nb = len(self.books)
        rows = np.arange(self.n_markets) if markets is None else np.asarray(markets, dtype=np.intp)
        if rows.size == 0:
            return
        planes = self.prices[:nb].take(rows, axis=1)
        self.best[rows] = np.fmax.reduce(planes, axis=0) if nb else np.nan
        self.best_lay[rows] = np.fmin.reduce(self.lays.take(rows, axis=1), axis=0) if self.lay_index else np.nan

    def lay_plane(self, book: int) -> int:
        """The ``lays`` plane of a book, added the first time it quotes a lay."""
        plane = self.lay_index.get(book)
        if plane is None:
            plane = self.lay_index[book] = len(self.lay_index)
            extra = np.full((1, *self.lays.shape[1:]), np.nan)
            self.lays = np.concatenate([self.lays, extra])
            self.lay_times = np.concatenate([self.lay_times, extra.copy()])
        return plane

    def update_arrays(
        self,
        market: IntArray,
        outcome: IntArray,
        book: IntArray,
        price: NDArray[np.float64],
        ts: NDArray[np.float64],
        lay: bool = False,
    ) -> IntArray:
        """Apply already-indexed quotes (``lay``: lay prices, ``book`` their board book index); later entries win;
        returns changed markets."""
        return self._apply(market, outcome, book, price, ts, lay)[0]

    def _apply(
        self,
        market: IntArray,
        outcome: IntArray,
        book: IntArray,
        price: NDArray[np.float64],
        ts: NDArray[np.float64],
        lay: bool = False,
    ) -> tuple[IntArray, NDArray[np.bool_]]:
        """Changed markets, and which input rows changed a price (withdrawals included)."""
        market = np.asarray(market, dtype=np.intp)
        outcome = np.asarray(outcome, dtype=np.intp)
        book = np.asarray(book, dtype=np.intp)
        price = np.asarray(price, dtype=np.float64)
        ts = np.asarray(ts, dtype=np.float64)
        ok = self.open[market] & (outcome < self.n_outcomes[market])
        market, outcome, book, price, ts = market[ok], outcome[ok], book[ok], price[ok], ts[ok]
        price = np.where(price > 1.0, price, np.nan)
        if lay:
            book = np.array([self.lay_plane(int(b)) for b in book.tolist()], dtype=np.intp)
        prices, times = (self.lays, self.lay_times) if lay else (self.prices, self.times)
        old = prices[book, market, outcome]
        prices[book, market, outcome] = price
        times[book, market, outcome] = np.where(np.isnan(price), np.nan, ts)
        moved = ~((old == price) | (np.isnan(old) & np.isnan(price)))
        if moved.any():  # a cell quoted twice gets the same best twice: cheaper than finding the repeats
            m, o = market[moved], outcome[moved]
            if lay:
                self.best_lay[m, o] = np.fmin.reduce(self.lays[:, m, o], axis=0)
            else:
                self.best[m, o] = np.fmax.reduce(self.prices[: len(self.books), m, o], axis=0)
        rows = np.zeros(ok.shape, dtype=bool)
        rows[np.flatnonzero(ok)] = moved
        return np.unique(market[moved]), rows

    def update(self, quotes: Iterable[Quote], moved: list[Quote] | None = None) -> IntArray:
        """Apply a batch of quotes for known markets; unknown market ids are ignored.

        ``moved`` collects the quotes that changed a price, in batch order (a price history records those).
        """
        by_side: dict[bool, tuple[list[tuple[int, int, int, float, float]], list[Quote]]] = {}
        index = self.market_index
        for q in quotes:
            m = index.get(q.market_id)
            if m is not None:
                rows, kept = by_side.setdefault(q.side == LAY, ([], []))
                rows.append((m, q.outcome, self.book(q.book), q.price, q.ts))
                kept.append(q)
        changed = [np.empty(0, dtype=np.intp)]
        for lay, (rows, kept) in sorted(by_side.items()):
            m_arr, o_arr, b_arr, p_arr, t_arr = (np.array(col) for col in zip(*rows))
            markets, mask = self._apply(m_arr, o_arr, b_arr, p_arr, t_arr, lay)
            changed.append(markets)
            if moved is not None:
                moved.extend(q for q, hit in zip(kept, mask.tolist()) if hit)
        return changed[-1] if len(changed) == 2 else np.unique(np.concatenate(changed))
