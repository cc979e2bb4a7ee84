"""What the ledger stores and returns: identities and bets, money in integer cents."""

from __future__ import annotations

from attrs import frozen

PLACED, WON, LOST, PUSH, VOID = "placed", "won", "lost", "push", "void"
BET_STATUSES = (PLACED, WON, LOST, PUSH, VOID)


@frozen
class Identity:
    user_id: str
    username: str
    token_id: str
    """Empty for an identity granted by --trust-user-id (no token behind it)."""


@frozen
class NewBet:
    user_id: str
    client_ref: str | None
    market_id: str
    event_id: str
    market_type: str
    line: float | None
    three_way: bool
    selection_id: str
    bookmaker: str
    stake_cents: int
    odds: int
    requested_odds: int
    notes: str


@frozen
class Bet:
    id: str
    user_id: str
    client_ref: str | None
    market_id: str
    event_id: str
    market_type: str
    line: float | None
    selection_id: str
    bookmaker: str
    stake_cents: int
    odds: int
    requested_odds: int
    potential_payout_cents: int
    status: str
    payout_cents: int | None
    notes: str
    placed_at: int
    settled_at: int | None
