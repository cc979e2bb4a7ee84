"""Bet maths and settlement rules: pure functions over integers and Decimals.

Money is integer cents.  potentialPayout = stake x decimal odds, computed
exactly from the American integer and rounded half up to the cent
(100 at -110 pays 190.91).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from engine.board import BACK
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


def half_up(exact: Fraction) -> int:
    whole, rest = divmod(exact.numerator, exact.denominator)
    return whole + (1 if 2 * rest >= exact.denominator else 0)


def payout_cents(stake_cents: int, american: int, price: str | None = None) -> int:
    return half_up(Fraction(stake_cents) * bet_price(american, price))


def liability_cents(stake_cents: int, american: int, price: str | None = None) -> int:
    """What a lay of ``stake`` at this price loses if the selection wins: stake × (price − 1), half up."""
    return half_up(Fraction(stake_cents) * (bet_price(american, price) - 1))


def lay_outcome(selection_outcome: str) -> str:
    """A lay wins when its selection loses, and loses when it wins; a push or void stays one."""
    return {WON: LOST, LOST: WON}.get(selection_outcome, selection_outcome)


def commission_shares(bets: list[tuple[str, int, int]], rate: Decimal) -> dict[str, int]:
    """An exchange's commission on one bettor's net winnings in one market, in cents, and each bet's share.

    ``bets``: (bet id, risk, payout) of the bettor's settled bets in that market at that exchange.  Net winnings
    = Σ(payout − risk); commission = net × rate (half up), nothing on a net loss, shared over the winning bets in
    proportion to their winnings (floor), the cents left over to the largest winner: the shares add up exactly.
    """
    net = sum(payout - risk for _bet, risk, payout in bets)
    if net <= 0 or rate <= 0:
        return {}
    total = half_up(Fraction(net) * Fraction(rate))
    winners = [(bet, payout - risk) for bet, risk, payout in bets if payout > risk]
    won = sum(w for _bet, w in winners)
    shares = {bet: total * w // won for bet, w in winners}
    largest = max(winners, key=lambda item: item[1])[0]
    shares[largest] += total - sum(shares.values())
    return {bet: share for bet, share in shares.items() if share}


def closing_line_value(closing_probability: float, american: int, price: str | None) -> float:
    """CLV in percent: what the bet's price was worth against the fair closing line."""
    return (closing_probability * float(bet_price(american, price)) - 1.0) * 100.0


def same_request(bet: Bet, market_id: str, selection_id: str, bookmaker: str, stake_cents: int,
                 requested: Fraction, side: str = BACK) -> bool:
    """Whether a request repeats the one that placed ``bet`` (what a retry under its clientRef must match)."""
    placed = bet_price(bet.requested_odds, bet.requested_price)
    return (bet.market_id, bet.selection_id, bet.bookmaker, bet.stake_cents, placed, bet.side) == (
        market_id, selection_id, bookmaker, stake_cents, requested, side
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


def settled_payout(status: str, risk_cents: int, potential_cents: int) -> int:
    """What a settled bet returns: its potential payout if it won, what it risked (a back's stake, a lay's
    liability) on a push or void, nothing if it lost."""
    if status == WON:
        return potential_cents
    if status in (PUSH, VOID):
        return risk_cents
    return 0

