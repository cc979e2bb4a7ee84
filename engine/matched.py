"""Matched betting: a bookmaker's back (often a free bet) laid off at an exchange, for one result either way.

For a back stake S (or free bet F) at decimal B and a lay at L with the
exchange's commission c on net winnings:

* ``qualifying``: lay stake B·S/(L − c); back wins: S(B − 1) − liability; lay
  wins: lay stake·(1 − c) − S.
* ``free_snr`` (stake not returned): lay stake F(B − 1)/(L − c); back wins:
  F(B − 1) − liability; lay wins: lay stake·(1 − c).
* ``free_sr`` (stake returned): lay stake B·F/(L − c); back wins: F·B −
  liability; lay wins: lay stake·(1 − c).

liability = lay stake · (L − 1).  The rating, what the trader compares
offers by: for a qualifying bet 100 · (1 + result/S) (100 is break-even; a
5 % loss rates 95), for a free bet 100 · result/F (the share of the free bet
kept).  Worked examples (tested): qualifying 100 at 2.5 laid at 2.6, 5 % →
lay 98.04, liability 156.86, −6.86 either way; free bet (not returned) 50 at
3.0 laid at 3.05, 5 % → lay 33.33, liability 68.33, +31.67.
"""

from __future__ import annotations

import numpy as np
from attrs import frozen

from .backlay import hedge, pairs
from .board import IntArray, QuoteBoard

QUALIFYING, FREE_SNR, FREE_SR = "qualifying", "free_snr", "free_sr"
BET_TYPES = (QUALIFYING, FREE_SNR, FREE_SR)


@frozen
class Lay:
    lay_stake: float
    liability: float
    if_back_wins: float
    if_lay_wins: float
    rating: float


def lay_off(bet_type: str, stake: float, back: float, lay: float, commission: float) -> Lay:
    """The lay that makes a back of ``stake`` at ``back`` end the same whatever the result."""
    if bet_type == QUALIFYING:  # the back-lay hedge of one's own stake
        h = hedge(stake, back, lay, commission)
        wins = stake * (back - 1.0) - h.liability
        return Lay(h.lay_stake, h.liability, wins, h.profit, 100.0 * (1.0 + min(wins, h.profit) / stake))
    if bet_type == FREE_SNR:
        lay_stake = stake * (back - 1.0) / (lay - commission)
        wins = stake * (back - 1.0) - lay_stake * (lay - 1.0)
    elif bet_type == FREE_SR:
        lay_stake = back * stake / (lay - commission)
        wins = stake * back - lay_stake * (lay - 1.0)
    else:
        raise ValueError(f"unknown bet type {bet_type!r}; expected one of {', '.join(BET_TYPES)}")
    loses = lay_stake * (1.0 - commission)
    return Lay(lay_stake, lay_stake * (lay - 1.0), wins, loses, 100.0 * min(wins, loses) / stake)


@frozen
class Match:
    market_row: int
    outcome: int
    back_book: str
    back: float
    exchange: str
    lay: float
    commission: float
    result: Lay


def find(board: QuoteBoard, commission: dict[str, float], bet_type: str, stake: float, now: float, max_age: float,
         markets: IntArray | None = None) -> list[Match]:
    """Per selection some exchange lays: its best bookmaker back against its best lay, best rating first.  The
    back is any book but the laying exchange; both quotes fresh (``max_age`` > 0)."""
    if not board.lay_index:
        return []
    rows = np.arange(board.n_markets) if markets is None else np.asarray(markets, dtype=np.intp)
    laid_rows, laid_outcomes = np.nonzero(~np.isnan(board.best_lay[rows]) & ~np.isnan(board.best[rows]))
    out: list[Match] = []
    for r, o in zip(rows[laid_rows].tolist(), laid_outcomes.tolist()):
        found = [Match(r, o, board.books[p.back_book], p.price, board.books[p.exchange], p.lay, p.commission,
                       lay_off(bet_type, stake, p.effective, p.lay, p.commission))
                 for p in pairs(board, commission, now, max_age, r, o)]
        if found:
            out.append(max(found, key=lambda m: m.result.rating))
    out.sort(key=lambda m: -m.result.rating)
    return out
