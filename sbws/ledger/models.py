"""What the ledger stores and returns: identities and bets, money in integer cents."""

from __future__ import annotations

from attrs import frozen

from engine.board import BACK, LAY

from ..errors import LedgerError

PLACED, WON, LOST, PUSH, VOID = "placed", "won", "lost", "push", "void"
BET_STATUSES = (PLACED, WON, LOST, PUSH, VOID)


MAX_USERNAME = 64


def check_username(name: str) -> str:
    """A user name people can type and read: 1 to 64 printable characters, no surrounding spaces."""
    if not name or not name.strip():
        raise LedgerError("a user name must not be empty")
    if name != name.strip() or len(name) > MAX_USERNAME or not name.isprintable():
        raise LedgerError(f"a user name is 1 to {MAX_USERNAME} printable characters without surrounding spaces")
    return name


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
    price: str | None = None
    """The book's decimal quote as it wrote it; None when it quoted American odds (``odds`` is then exact)."""
    requested_price: str | None = None
    """The worst decimal price the bettor accepted, when they gave one instead of American odds."""
    fair_probability: float | None = None
    """The sharp line's de-vigged probability of the selection when the bet was placed (None without one)."""
    winners: int = 1
    """How many selections of the market win (an outright's place market: more than one)."""
    side: str = BACK
    liability_cents: int | None = None
    """A lay's: what it loses if the selection wins (stake × (price − 1)); None for a back."""


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
    price: str | None = None
    requested_price: str | None = None
    fair_probability: float | None = None
    closing_fair_probability: float | None = None
    clv: float | None = None
    """Closing line value, percent: (closing fair probability × the bet's decimal price − 1) × 100."""
    side: str = BACK
    """``back``, or ``lay`` (at an exchange: the bettor takes the other side of ``stake``)."""
    liability_cents: int | None = None
    commission_cents: int = 0
    """The exchange's commission on the bettor's net winnings in the market: this bet's share of it."""

    @property
    def risk_cents(self) -> int:
        """What the bet can lose: the stake of a back, the liability of a lay."""
        return self.liability_cents if self.side == LAY and self.liability_cents is not None else self.stake_cents


ALERT_KINDS = ("arbitrage", "value", "middle", "steam")


@frozen
class Webhook:
    id: str
    user_id: str
    url: str
    secret: str
    """Kept to sign deliveries (HMAC); never shown again after creation."""
    created_at: int


@frozen
class NewRule:
    user_id: str
    kind: str
    min_edge: float | None = None
    min_ev: float | None = None
    sports: tuple[str, ...] = ()
    bookmakers: tuple[str, ...] = ()
    webhook_id: str | None = None


@frozen
class Rule:
    id: str
    user_id: str
    kind: str
    min_edge: float | None
    min_ev: float | None
    sports: tuple[str, ...]
    bookmakers: tuple[str, ...]
    webhook_id: str | None
    muted_until: int | None
    created_at: int


@frozen
class AlertRecord:
    id: str
    rule_id: str
    user_id: str
    kind: str
    item_id: str
    body: bytes
    """The whole ``alert`` object as pushed, JSON."""
    created_at: int


@frozen
class Delivery:
    id: str
    webhook_id: str
    delivery_id: str
    """One per alert sent to the hook; the same across its retries (``X-Sbws-Delivery``)."""
    alert_id: str
    attempt: int
    status: int | None
    """The receiver's HTTP status; None when no answer came."""
    error: str | None
    at: int


@frozen
class PendingDelivery:
    """A webhook delivery not yet finished, kept in the ledger so a restart resumes it (``webhook_outbox``)."""

    delivery_id: str
    webhook_id: str
    user_id: str
    alert_id: str
    body: bytes
    attempts: int
    """Attempts made so far; a resumed delivery goes on from the next one."""
    created_at: int
