"""Back-lay arbitrage: back a selection at one book and lay it at an exchange, for the same profit either way.

Back stake S at decimal B (effective B' = 1 + (B − 1)(1 − c_b) at a book that
charges commission c_b), lay at an exchange's decimal L with commission c on
net winnings.  If the selection wins, the back pays S(B' − 1) and the lay
loses its liability; if it loses, the back loses S and the lay wins its stake
less commission.  Both are equal when

* lay stake = S · B' / (L − c), liability = lay stake · (L − 1);
* profit = lay stake · (1 − c) − S = S · (B'(1 − c) − L + c) / (L − c).

An opportunity when the profit is positive; ``edge`` is the profit as a
percentage of the back stake, ``roi`` over the back stake plus the liability.
Since B'(1 − c) > L − c needs B > L, the first pass keeps the cells whose best
back beats the best lay on the board (``QuoteBoard.best``, ``best_lay``); the
exact figures (commission, staleness, the back book never the laying exchange
itself) are computed for those few cells.  Worked example (tested): back 10
at 2.25, lay at 2.22 with 2 % commission: lay stake 10.2273, profit 0.0227.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping

import attrs
import numpy as np
from attrs import frozen

from .arbitrage import TOLERANCE, ArbConfig, keep_factors, suspect_reason
from .board import BACK, LAY, QuoteBoard, IntArray


@frozen
class Side:
    side: str
    outcome: int
    book: str
    price: float
    effective: float
    stake: float
    liability: float
    quoted_at: float


@frozen
class BackLay:
    id: str
    market_id: str
    outcome: int
    profit: float
    edge: float
    roi: float
    total_stake: float
    """The back stake."""
    legs: tuple[Side, Side]
    """The back, then the lay."""
    oldest_quote: float
    suspect_reason: str | None
    max_stake: float | None = None
    """The largest back stake the visible sizes take (``capped``); None while no size is known."""

    @property
    def suspect(self) -> bool:
        return self.suspect_reason is not None

    def age(self, now: float) -> float:
        return max(0.0, now - self.oldest_quote)


@frozen
class Hedge:
    lay_stake: float
    liability: float
    profit: float


def hedge(back_stake: float, back: float, lay: float, commission: float) -> Hedge:
    """The lay that makes a back at effective decimal ``back`` pay the same whatever the result."""
    lay_stake = back_stake * back / (lay - commission)
    return Hedge(lay_stake, lay_stake * (lay - 1.0), lay_stake * (1.0 - commission) - back_stake)


@frozen
class Walk:
    """A lay for a given back stake filled level by level down an exchange's ladder."""

    lay_stake: float
    price: float
    """The volume-weighted lay price of the levels taken."""
    liability: float
    profit: float
    levels: tuple[tuple[float, float], ...]
    """(price, size taken) per level."""
    filled: bool
    """False when the ladder shown holds less than the lay needs (the figures are then for all of it)."""


@frozen
class Pair:
    """A fresh back at one book and a fresh lay at another exchange, of one selection (board row, outcome)."""

    row: int
    outcome: int
    back_book: int
    price: float
    effective: float
    """The back after its book's commission."""
    back_at: float
    exchange: int
    lay: float
    lay_at: float
    commission: float
    """The exchange's, on net winnings."""


def pairs(board: QuoteBoard, commission: Mapping[str, float], now: float, max_age: float, row: int,
          outcome: int) -> Iterator[Pair]:
    """Every back at one book against every lay at another exchange for one selection, both fresh (when
    ``max_age`` > 0); never a back and a lay at one exchange."""
    nb = len(board.books)
    keep = keep_factors(board, commission)
    backs, back_times = board.prices[:nb, row, outcome], board.times[:nb, row, outcome]
    for exchange, plane in sorted(board.lay_index.items(), key=lambda item: item[1]):
        lay, lay_at = float(board.lays[plane, row, outcome]), float(board.lay_times[plane, row, outcome])
        if math.isnan(lay) or (max_age > 0 and lay_at < now - max_age):
            continue
        for b in np.flatnonzero(~np.isnan(backs)).tolist():
            back_at = float(back_times[b])
            if b == exchange or (max_age > 0 and back_at < now - max_age):
                continue
            price = float(backs[b])
            yield Pair(row, outcome, b, price, 1.0 + (price - 1.0) * float(keep[b]), back_at, exchange, lay, lay_at,
                       1.0 - float(keep[exchange]))


def walk(stake: float, back: float, ladder: tuple[tuple[float, float], ...], commission: float) -> Walk:
    """Lay a back of ``stake`` at effective ``back`` down ``ladder`` (best first): the lay stake S·B'/(L̄ − c) at
    the volume-weighted price L̄ of the levels it takes, found by fixed point (a level deeper raises L̄, which
    lowers the stake needed; it settles within the ladder's length)."""
    price = ladder[0][0]
    taken: list[tuple[float, float]] = []
    filled = True
    for _ in range(len(ladder) + 2):
        need = stake * back / (price - commission)
        taken, left = [], need
        for level_price, size in ladder:
            take = min(size, left)
            if take > 0:
                taken.append((level_price, take))
                left -= take
        filled = left <= 1e-9
        volume = sum(t for _p, t in taken)
        vwap = sum(p * t for p, t in taken) / volume
        if abs(vwap - price) < 1e-12:
            break
        price = vwap
    h = hedge(stake, back, price, commission)
    return Walk(h.lay_stake, price, h.liability, h.profit, tuple(taken), filled)


def capped(opp: BackLay, lay_size: float | None, back_size: float | None, commission: float) -> BackLay:
    """The opportunity with ``max_stake``: a lay stake of at most the size offered at the lay price, so a back
    stake of at most size · (L − c) / B'; and at most the size offered at the back price, where it is known."""
    back, lay = opp.legs
    limits = [] if lay_size is None else [lay_size * (lay.price - commission) / back.effective]
    if back_size is not None:
        limits.append(back_size)
    return opp if not limits else attrs.evolve(opp, max_stake=min(limits))


def back_lay_id(market_id: str, outcome: int, back_book: str, lay_book: str) -> str:
    digest = hashlib.blake2b(f"{market_id}|{outcome}|{back_book}|{lay_book}".encode(), digest_size=8)
    return "bl_" + digest.hexdigest()


def scan(board: QuoteBoard, config: ArbConfig, now: float, markets: IntArray | None = None) -> list[BackLay]:
    """Back-lay opportunities of ``markets`` (every market when None), one per cell: its best back at a book
    against its best lay at another."""
    if not board.lay_index:
        return []
    rows = np.arange(board.n_markets) if markets is None else np.asarray(markets, dtype=np.intp)
    if rows.size == 0:
        return []
    with np.errstate(invalid="ignore"):
        hit = board.best[rows] > board.best_lay[rows]
    cand_rows, cand_outcomes = np.nonzero(hit)
    out = []
    for r, o in zip(rows[cand_rows].tolist(), cand_outcomes.tolist()):
        found = [opp for pair in pairs(board, config.commission, now, config.max_age, r, o)
                 if (opp := _opportunity(board, config, pair)) is not None]
        if found:
            out.append(max(found, key=lambda opp: opp.profit))
    return out


def _opportunity(board: QuoteBoard, config: ArbConfig, pair: Pair) -> BackLay | None:
    stake, effective, lay, commission = config.total_stake, pair.effective, pair.lay, pair.commission
    h = hedge(stake, effective, lay, commission)
    lay_stake, profit = h.lay_stake, h.profit
    if config.stake_rounding > 0:
        unit = config.stake_rounding
        lay_stake = math.floor(lay_stake / unit + 0.5) * unit
        wins = stake * (effective - 1.0) - lay_stake * (lay - 1.0)
        loses = lay_stake * (1.0 - commission) - stake
        profit = min(wins, loses)
    if not profit > TOLERANCE:
        return None
    liability = lay_stake * (lay - 1.0)
    market_id = board.markets[pair.row].id
    books = (board.books[pair.back_book], board.books[pair.exchange])
    edge = profit / stake * 100.0
    legs = (Side(BACK, pair.outcome, books[0], pair.price, effective, stake, stake, pair.back_at),
            Side(LAY, pair.outcome, books[1], lay, lay, lay_stake, liability, pair.lay_at))
    return BackLay(back_lay_id(market_id, pair.outcome, *books), market_id, pair.outcome, profit, edge,
                   profit / (stake + liability) * 100.0, stake, legs, min(pair.back_at, pair.lay_at),
                   suspect_reason(books, edge, config.max_edge))
