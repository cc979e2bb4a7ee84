"""Bet maths and settlement rules: pure functions over integers and Decimals.

Money is integer cents.  potentialPayout = stake x decimal odds, computed
exactly from the American integer and rounded half up to the cent
(100 at -110 pays 190.91).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from engine.markets import AWAY, DRAW, HOME, MONEYLINE, OVER, SPREAD, TOTAL
from engine.odds import american_to_fraction

from ..errors import LedgerError
from .models import LOST, PUSH, VOID, WON, Bet


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def payout_cents(stake_cents: int, american: int) -> int:
    exact = Fraction(stake_cents) * american_to_fraction(american)
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def same_request(bet: Bet, market_id: str, selection_id: str, bookmaker: str, stake_cents: int,
                 requested_odds: int) -> bool:
    """Whether a request repeats the one that placed ``bet`` (what a retry under its clientRef must match)."""
    return (bet.market_id, bet.selection_id, bet.bookmaker, bet.stake_cents, bet.requested_odds) == (
        market_id, selection_id, bookmaker, stake_cents, requested_odds
    )


def better_or_equal(current: int, requested: int) -> bool:
    """True when the current American price pays at least what was asked."""
    return american_to_fraction(current) >= american_to_fraction(requested)


def outcome(market_type: str, line: float | None, selection: str, home: int, away: int, three_way: bool) -> str:
    """won / lost / push for one selection given the final score.

    A tie voids a two-way moneyline (push); in a three-way market Draw wins.
    Spreads and totals push when the result lands exactly on the line.
    """
    if market_type == MONEYLINE:
        if home == away:
            if selection == DRAW:
                return WON
            return LOST if three_way else PUSH
        return WON if selection == (HOME if home > away else AWAY) else LOST
    if market_type == SPREAD:
        margin = Fraction(home - away) + Fraction(line or 0)
        if margin == 0:
            return PUSH
        home_covers = margin > 0
        return WON if home_covers == (selection == HOME) else LOST
    if market_type == TOTAL:
        total = Fraction(home + away) - Fraction(line or 0)
        if total == 0:
            return PUSH
        return WON if (total > 0) == (selection == OVER) else LOST
    raise LedgerError(f"unknown market type {market_type!r}")


def settled_payout(status: str, stake_cents: int, potential_cents: int) -> int:
    if status == WON:
        return potential_cents
    if status in (PUSH, VOID):
        return stake_cents
    return 0

