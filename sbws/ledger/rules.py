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


def bet_price(american: int, price: str | None) -> Fraction:
    """A bet's exact decimal price: the book's decimal quote when it quoted decimal, else its American odds."""
    return Fraction(Decimal(price)) if price is not None else american_to_fraction(american)


def payout_cents(stake_cents: int, american: int, price: str | None = None) -> int:
    exact = Fraction(stake_cents) * bet_price(american, price)
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def closing_line_value(closing_probability: float, american: int, price: str | None) -> float:
    """CLV in percent: what the bet's price was worth against the fair closing line."""
    return (closing_probability * float(bet_price(american, price)) - 1.0) * 100.0


def same_request(bet: Bet, market_id: str, selection_id: str, bookmaker: str, stake_cents: int,
                 requested: Fraction) -> bool:
    """Whether a request repeats the one that placed ``bet`` (what a retry under its clientRef must match)."""
    placed = bet_price(bet.requested_odds, bet.requested_price)
    return (bet.market_id, bet.selection_id, bet.bookmaker, bet.stake_cents, placed) == (
        market_id, selection_id, bookmaker, stake_cents, requested
    )


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


def placed_outcome(selection: str, placing: tuple[str, ...], winners: int) -> str:
    """An outright selection: won when it finished within the ``winners`` places paid.  An event that ends
    without a placing (abandoned) voids its outright bets."""
    if not placing:
        return VOID
    return WON if selection in placing[:winners] else LOST


def settled_payout(status: str, stake_cents: int, potential_cents: int) -> int:
    if status == WON:
        return potential_cents
    if status in (PUSH, VOID):
        return stake_cents
    return 0

