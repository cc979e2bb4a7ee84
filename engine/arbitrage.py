"""Arbitrage detection and stake sizing over the whole quote board.

For a market with best effective decimal prices d_i (one per outcome, each at
the book offering it), S = sum(1/d_i).  S < 1 is an arbitrage:

* edge = (1 - S) * 100: the share of the book the bettor keeps.
* roi = (1/S - 1) * 100: profit as a percentage of the total stake.
* stakes s_i = T * (1/d_i) / S pay out T/S whichever outcome wins, so the
  guaranteed profit is T/S - T.

A market where k outcomes win (an outright's place market) is an arbitrage
when S < k: the same stakes return T·k/S, so edge = (1 - S/k) * 100 and
roi = (k/S - 1) * 100 (``runners`` has the derivation).

An arbitrage needs S < k(1 - TOLERANCE).  An exchange's commission c turns a back price d into 1 + (d - 1)(1 - c),
and the scan uses those effective prices.  Everything is vectorized over
markets; Python code runs only for the markets that are arbitrages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
from attrs import field, frozen
from numpy.typing import NDArray

from .board import IntArray, QuoteBoard

TOLERANCE = 1e-9
"""S must be below 1 - TOLERANCE: prices that sum to exactly 1 (1.68/4.2/6.0)
come out a hair under it in binary floating point and are not arbitrage."""


@frozen
class ArbConfig:
    commission: Mapping[str, float] = field(factory=dict)
    """Per-book commission as a fraction of net winnings (0.05 for 5%)."""
    max_age: float = 0.0
    """Quotes older than this many seconds are ignored; 0 disables the check."""
    max_edge: float = 10.0
    """Edges above this percentage are flagged suspect."""
    stake_rounding: float = 0.0
    """Round each leg's stake to a multiple of this unit; 0 leaves stakes exact."""
    total_stake: float = 100.0


@frozen
class Leg:
    outcome: int
    book: str
    price: float
    effective: float
    stake: float
    quoted_at: float


@frozen
class Opportunity:
    id: str
    market_id: str
    s: float
    edge: float
    roi: float
    profit: float
    total_stake: float
    legs: tuple[Leg, ...]
    oldest_quote: float
    suspect_reason: str | None
    """Why the opportunity is probably a data error (``SINGLE_BOOK``, ``EDGE_CAP``), or None."""

    @property
    def suspect(self) -> bool:
        return self.suspect_reason is not None

    def age(self, now: float) -> float:
        return max(0.0, now - self.oldest_quote)


SINGLE_BOOK = "single book"
"""Every leg at one bookmaker: a book never offers a sure win against itself, so a price is wrong."""
EDGE_CAP = "edge above max"
"""An edge above ``ArbConfig.max_edge``: usually a stale or mistyped price."""


def suspect_reason(books: tuple[str, ...], edge: float, max_edge: float) -> str | None:
    if len(set(books)) == 1:
        return SINGLE_BOOK
    if edge > max_edge:
        return EDGE_CAP
    return None


def opportunity_id(market_id: str, books: tuple[str, ...]) -> str:
    """Same market and same books per outcome give the same id."""
    digest = hashlib.blake2b(f"{market_id}|{'|'.join(books)}".encode(), digest_size=8)
    return "arb_" + digest.hexdigest()


def keep_factors(board: QuoteBoard, commission: Mapping[str, float]) -> NDArray[np.float64]:
    """1 − commission per book of the board, in board order (1 for books without one)."""
    keep = np.ones(len(board.books))
    for book, c in commission.items():
        b = board.book_index.get(book)
        if b is not None:
            keep[b] = 1.0 - c
    return keep


def effective_prices(prices: NDArray[np.float64], keep: NDArray[np.float64]) -> NDArray[np.float64]:
    """Apply per-book commission; ``keep`` is 1 - commission, one value per book."""
    return 1.0 + (prices - 1.0) * keep


def round_stakes(
    stakes: NDArray[np.float64], prices: NDArray[np.float64], unit: float, winners: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Round stakes to ``unit`` (half up) and recompute the guaranteed profit per row: the payout of the k
    outcomes that pay least (k = 1 unless ``winners`` says otherwise)."""
    rounded = np.floor(stakes / unit + 0.5) * unit
    payouts = np.where(np.isnan(prices), np.inf, rounded * prices)
    if winners is None or not (winners > 1).any():
        payout = payouts.min(axis=1)
    else:
        ordered = np.sort(payouts, axis=1)
        payout = np.where(np.arange(ordered.shape[1]) < winners[:, None], ordered, 0.0).sum(axis=1)
    return rounded, payout - np.nansum(rounded, axis=1)


def best_over_books(prices: NDArray[np.float64]) -> NDArray[np.float64]:
    """Max over the book axis ignoring NaN; flattened first, which numpy reduces ~5x faster."""
    books, markets, outcomes = prices.shape
    best: NDArray[np.float64] = np.fmax.reduce(prices.reshape(books, markets * outcomes), axis=0)
    return best.reshape(markets, outcomes)


class Scanner:
    """Finds arbitrage on a board; holds only the board and the configuration.

    A scan first takes the best raw price per outcome over all books (the board keeps it) and keeps
    the markets whose raw S is below 1.  Commission only lowers prices and the
    staleness filter only removes quotes, so neither can turn a market with
    raw S >= 1 into an arbitrage: the exact computation (commission,
    staleness, stakes) then runs on those few candidates alone.
    """

    def __init__(self, board: QuoteBoard, config: ArbConfig) -> None:
        self.board = board
        self.config = config

    def scan(self, now: float, markets: IntArray | None = None) -> list[Opportunity]:
        board = self.board
        nb = len(board.books)
        if markets is None:
            ids = np.arange(board.n_markets)
            raw = board.best[: board.n_markets]
        else:
            ids = np.asarray(markets, dtype=np.intp)
            raw = board.best[ids]
        if nb == 0 or ids.size == 0:
            return []
        n_out = board.n_outcomes[ids]
        s = self._s(raw, n_out)
        rows = ids[(s < self._limit(ids)) & (n_out > 0)]
        if rows.size == 0:
            return []
        prices = board.prices[:nb].take(rows, axis=1)
        times = board.times[:nb].take(rows, axis=1)
        if self.config.commission:
            prices = effective_prices(prices, keep_factors(board, self.config.commission)[:, None, None])
        if self.config.max_age > 0:
            prices = np.where(times >= now - self.config.max_age, prices, np.nan)
        best = best_over_books(prices)
        s = self._s(best, board.n_outcomes[rows])
        keep = s < self._limit(rows)
        if not keep.any():
            return []
        return self._materialize(rows[keep], prices[:, keep], times[:, keep], best[keep], s[keep])

    def _limit(self, rows: IntArray) -> NDArray[np.float64] | float:
        """S must be below k(1 − TOLERANCE); a board whose markets all have one winner compares with a scalar."""
        if not self.board.several_winners:
            return 1.0 - TOLERANCE
        return np.asarray(self.board.winners[rows] * (1.0 - TOLERANCE))

    @staticmethod
    def _s(best: NDArray[np.float64], n_out: NDArray[np.int16]) -> NDArray[np.float64]:
        """Sum of implied probabilities of the used outcomes; NaN when one has no quote."""
        used = np.arange(best.shape[1]) < n_out[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            total: NDArray[np.float64] = np.where(used, 1.0 / best, 0.0).sum(axis=1)
        return total

    def _materialize(
        self,
        rows: IntArray,
        prices: NDArray[np.float64],
        times: NDArray[np.float64],
        best: NDArray[np.float64],
        s: NDArray[np.float64],
    ) -> list[Opportunity]:
        board, cfg = self.board, self.config
        n_out = board.n_outcomes[rows]
        outcomes = np.arange(best.shape[1])
        used = outcomes < n_out[:, None]
        # First book (lowest index) among equal best prices, as the reference does.
        book_idx = np.where(np.isnan(prices), -np.inf, prices).argmax(axis=0)
        best = np.where(used, best, np.nan)
        total = cfg.total_stake
        winners = board.winners[rows]
        stakes = np.where(used, total * (1.0 / best) / s[:, None], np.nan)
        profit = total * winners / s - total
        if cfg.stake_rounding > 0:
            stakes, profit = round_stakes(stakes, best, cfg.stake_rounding, winners)
        raw = board.prices[book_idx, rows[:, None], outcomes[None, :]]
        quoted = board.times[book_idx, rows[:, None], outcomes[None, :]]
        out: list[Opportunity] = []
        for r in range(len(rows)):
            if not profit[r] > TOLERANCE:
                continue
            n = int(n_out[r])
            books = tuple(board.books[int(b)] for b in book_idx[r, :n])
            market_id = board.markets[int(rows[r])].id
            legs = tuple(
                Leg(
                    outcome=i,
                    book=books[i],
                    price=float(raw[r, i]),
                    effective=float(best[r, i]),
                    stake=float(stakes[r, i]),
                    quoted_at=float(quoted[r, i]),
                )
                for i in range(n)
            )
            k_win = float(winners[r])
            edge = (1.0 - float(s[r]) / k_win) * 100.0
            out.append(
                Opportunity(
                    id=opportunity_id(market_id, books),
                    market_id=market_id,
                    s=float(s[r]),
                    edge=edge,
                    roi=(k_win / float(s[r]) - 1.0) * 100.0,
                    profit=float(profit[r]),
                    total_stake=total,
                    legs=legs,
                    oldest_quote=float(np.min(quoted[r, :n])),
                    suspect_reason=suspect_reason(books, edge, cfg.max_edge),
                )
            )
        return out
