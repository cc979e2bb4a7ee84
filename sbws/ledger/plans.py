"""Every ledger operation once, as a plan of SQL statements: the same logic on SQLite and on PostgreSQL.

A plan is a generator: it yields statements (``?`` placeholders) and gets
each one's result back, so the rules (bet insertion and its clientRef retry,
settlement, the closing line, tokens, alert rules) are written once and run
unchanged by either driver (``sqlite.SqliteDriver``, ``postgres.PgDriver``)
inside one transaction for a write.  A unique-key violation is thrown into
the plan as ``Duplicate``.  Plans do no I/O of their own.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from collections.abc import Collection, Generator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from attrs import frozen

from ..clock import now_ms
from ..errors import LedgerError
from . import alerts, schema
from .models import (PLACED, AlertRecord, Bet, Delivery, Identity, NewBet, NewRule, PendingDelivery, Rule, Webhook,
                     check_username)
from engine.board import LAY
from engine.markets import OUTRIGHT

from .rules import (closing_line_value, commission_shares, lay_outcome, outcome, payout_cents, placed_outcome,
                    settled_payout)
from .schema import BET_COLUMNS, CLOSING_COLUMNS, INSERTION_ORDER, SETTLE_COLUMNS
from .tokens import check_token, inactive, new_token, split_token

T = TypeVar("T")


class Duplicate(Exception):
    """A statement broke a unique constraint (the driver throws this into the plan)."""


@frozen
class Rows:
    """All rows; ``lock``: the rows stay locked until the transaction ends (PostgreSQL's FOR UPDATE)."""

    sql: str
    args: tuple[Any, ...] = ()
    lock: bool = False


@frozen
class Row:
    """The first row, or None."""

    sql: str
    args: tuple[Any, ...] = ()


@frozen
class Execute:
    """The number of rows the statement changed."""

    sql: str
    args: tuple[Any, ...] = ()


@frozen
class Many:
    sql: str
    rows: tuple[tuple[Any, ...], ...]


Statement = Rows | Row | Execute | Many
Steps = Generator[Statement, Any, T]


@frozen
class Plan(Generic[T]):
    steps: Steps[T]
    write: bool
    """Runs in one write transaction; otherwise on a read connection."""
    background: bool = False
    """A write that yields to the others (``lanes``): alerts, delivery attempts, pruning."""


class Cursor(Generic[T]):
    """Drives a plan for a driver: ``next`` gives its next statement, None once it is done (then ``value``)."""

    def __init__(self, plan: Plan[T]) -> None:
        self._steps = plan.steps
        self._result: Any = None
        self._error: Exception | None = None
        self.value: T

    def next(self) -> Statement | None:
        try:
            statement = self._steps.send(self._result) if self._error is None else self._steps.throw(self._error)
        except StopIteration as done:
            self.value = done.value
            return None
        self._result, self._error = None, None
        return statement

    def answer(self, result: Any) -> None:
        self._result = result

    def duplicate(self, exc: Exception) -> None:
        """The statement broke a unique constraint: the plan gets ``Duplicate`` at its ``yield``."""
        self._error = Duplicate(str(exc))


def _write(steps: Steps[T]) -> Plan[T]:
    return Plan(steps, True)


def _read(steps: Steps[T]) -> Plan[T]:
    return Plan(steps, False)


def _background(steps: Steps[T]) -> Plan[T]:
    return Plan(steps, True, background=True)


# -- users and tokens -------------------------------------------------------------------------------
def add_user(username: str) -> Plan[str]:
    check_username(username)

    def steps() -> Steps[str]:
        user_id = "user_" + secrets.token_hex(6)
        try:
            yield Execute("INSERT INTO users VALUES (?, ?, ?)", (user_id, username, now_ms()))
        except Duplicate:
            raise LedgerError(f"user {username!r} already exists") from None
        return user_id

    return _write(steps())


def list_users() -> Plan[list[dict[str, Any]]]:
    def steps() -> Steps[list[dict[str, Any]]]:
        rows = yield Rows(
            "SELECT u.id, u.username, u.created_at, "
            "(SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) "
            "FROM users u ORDER BY u.username"
        )
        return [{"id": r[0], "username": r[1], "createdAt": r[2], "activeTokens": int(r[3])} for r in rows]

    return _read(steps())


def issue_token(username: str, expires_at: int | None = None) -> Plan[tuple[str, str]]:
    def steps() -> Steps[tuple[str, str]]:
        row = yield Row("SELECT id FROM users WHERE username = ?", (username,))
        if row is None:
            raise LedgerError(f"no user named {username!r}")
        token_id, token, digest = new_token()
        yield Execute("INSERT INTO tokens (id, user_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                      (token_id, row[0], digest, now_ms(), expires_at))
        return token_id, token

    return _write(steps())


def revoke_token(token_id: str) -> Plan[bool]:
    def steps() -> Steps[bool]:
        changed = yield Execute("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                                (now_ms(), token_id))
        return bool(changed == 1)

    return _write(steps())


def verify_token(token: str) -> Plan[Identity | None]:
    def steps() -> Steps[Identity | None]:
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        row = yield Row("SELECT t.secret_hash, t.revoked_at, u.id, u.username, t.expires_at FROM tokens t "
                        "JOIN users u ON u.id = t.user_id WHERE t.id = ?", (token_id,))
        return check_token(row, secret, token_id)

    return _read(steps())


def trusted_identity(user_id: str | None, username: str) -> Plan[Identity | None]:
    """Development mode (--trust-user-id): an existing user, without a token."""

    def steps() -> Steps[Identity | None]:
        row = yield Row("SELECT id, username FROM users WHERE id = ? OR username = ?", (user_id or "", username))
        return None if row is None else Identity(row[0], row[1], "")

    return _read(steps())


def inactive_tokens(token_ids: Collection[str]) -> Plan[dict[str, str]]:
    """Which of these token ids no longer grant anything: revoked, expired or unknown, with the reason."""

    def steps() -> Steps[dict[str, str]]:
        ids = sorted({t for t in token_ids if t})
        rows: list[Any] = []
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            rows.extend((yield Rows(
                f"SELECT id, revoked_at, expires_at FROM tokens WHERE id IN ({', '.join('?' * len(chunk))})",
                tuple(chunk))))
        return inactive(ids, rows, now_ms())

    return _read(steps())


# -- bets -----------------------------------------------------------------------------------------------
def place_bet(new: NewBet) -> Plan[tuple[Bet, bool]]:
    """Insert a bet, or return the one holding the same clientRef (duplicate=True): the unique
    ``(user_id, client_ref)`` constraint decides, never a check before the insert."""

    def steps() -> Steps[tuple[Bet, bool]]:
        row = yield Row(
            f"INSERT INTO bets ({BET_COLUMNS}, three_way, winners) VALUES ({', '.join('?' * 28)}) "
            f"ON CONFLICT (user_id, client_ref) DO NOTHING RETURNING {BET_COLUMNS}",
            ("bet_" + secrets.token_hex(8), new.user_id, new.client_ref, new.market_id, new.event_id,
             new.market_type, new.line, new.selection_id, new.bookmaker, new.stake_cents, new.odds, new.requested_odds,
             potential_cents(new), PLACED, None, new.notes, now_ms(), None, new.price,
             new.requested_price, new.fair_probability, None, None, new.side, new.liability_cents, 0, new.three_way,
             new.winners))
        if row is not None:
            return Bet(*row), False
        existing = yield Row(f"SELECT {BET_COLUMNS} FROM bets WHERE user_id = ? AND client_ref = ?",
                             (new.user_id, new.client_ref or ""))
        if existing is None:
            raise LedgerError(f"no bet with clientRef {new.client_ref!r}")
        return Bet(*existing), True

    return _write(steps())


def find_by_client_ref(user_id: str, client_ref: str) -> Plan[Bet | None]:
    def steps() -> Steps[Bet | None]:
        row = yield Row(f"SELECT {BET_COLUMNS} FROM bets WHERE user_id = ? AND client_ref = ?", (user_id, client_ref))
        return None if row is None else Bet(*row)

    return _read(steps())


def get_bets(user_id: str, status: str | None = None, bookmaker: str | None = None, market_id: str | None = None,
             from_ms: int | None = None, to_ms: int | None = None, limit: int = 50) -> Plan[list[Bet]]:
    """Newest first; bets placed in the same millisecond, the later insert first (on both stores)."""

    def steps() -> Steps[list[Bet]]:
        where, args = ["user_id = ?"], [user_id]
        for column, value, op in (("status", status, "="), ("bookmaker", bookmaker, "="), ("market_id", market_id, "="),
                                  ("placed_at", from_ms, ">="), ("placed_at", to_ms, "<=")):
            if value is not None:
                where.append(f"{column} {op} ?")
                args.append(value)  # type: ignore[arg-type]
        rows = yield Rows(f"SELECT {BET_COLUMNS} FROM bets WHERE {' AND '.join(where)} "
                          f"ORDER BY placed_at DESC, {INSERTION_ORDER} DESC LIMIT ?", (*args, limit))
        return [Bet(*r) for r in rows]

    return _read(steps())


def potential_cents(new: NewBet) -> int:
    """A back returns stake × price if it wins; a lay returns its liability and the backer's stake."""
    if new.side == LAY and new.liability_cents is not None:
        return new.stake_cents + new.liability_cents
    return payout_cents(new.stake_cents, new.odds, new.price)


def settle_event(event_id: str, home: int, away: int, placing: tuple[str, ...] = (),
                 commission: Mapping[str, Decimal] | None = None) -> Plan[list[Bet]]:
    """Settle every open bet on an event (a match by its score, an outright by its ``placing``); idempotent (only
    'placed' rows change).  ``commission``: per exchange, its rate on each bettor's net winnings per market
    (``rules.commission_shares``), taken off the winning bets' payouts."""

    def steps() -> Steps[list[Bet]]:
        settled_at = now_ms()
        rows = yield Rows(f"SELECT {SETTLE_COLUMNS} FROM bets WHERE event_id = ? AND status = ?", (event_id, PLACED),
                          lock=True)
        settled: dict[str, tuple[str, int, int]] = {}
        groups: dict[tuple[str, str, str], list[tuple[str, int, int]]] = {}
        for (bet_id, user_id, market_id, book, market_type, line, three_way, winners, selection, stake, potential,
             side, liability) in rows:
            if market_type == OUTRIGHT:
                status = placed_outcome(selection, placing, winners)
            else:
                status = outcome(market_type, line, selection, home, away, bool(three_way))
            risk = stake
            if side == LAY:
                status, risk = lay_outcome(status), liability
            payout = settled_payout(status, risk, potential)
            settled[bet_id] = (status, payout, 0)
            if commission and book in commission:
                groups.setdefault((user_id, market_id, book), []).append((bet_id, risk, payout))
        for (_user, _market, book), bets in groups.items():
            for bet_id, share in commission_shares(bets, (commission or {})[book]).items():
                status, payout, _ = settled[bet_id]
                settled[bet_id] = (status, payout - share, share)
        out = []
        for bet_id, (status, payout, share) in settled.items():
            row = yield Row(f"UPDATE bets SET status = ?, payout_cents = ?, commission_cents = ?, settled_at = ? "
                            f"WHERE id = ? AND status = ? RETURNING {BET_COLUMNS}",
                            (status, payout, share, settled_at, bet_id, PLACED))
            if row is not None:
                out.append(Bet(*row))
        return out

    return _write(steps())


def record_closing(event_id: str, closing: Mapping[tuple[str, str], float]) -> Plan[list[Bet]]:
    """Closing fair probabilities per (market, selection) for the event's bets that have none, with their CLV;
    the bets that changed."""

    def steps() -> Steps[list[Bet]]:
        rows = yield Rows(f"SELECT {CLOSING_COLUMNS} FROM bets WHERE event_id = ? AND closing_fair_probability IS NULL",
                          (event_id,), lock=True)
        out = []
        for bet_id, market_id, selection, odds, price in rows:
            p = closing.get((market_id, selection))
            if p is None:
                continue
            row = yield Row("UPDATE bets SET closing_fair_probability = ?, clv = ? WHERE id = ? "
                            f"AND closing_fair_probability IS NULL RETURNING {BET_COLUMNS}",
                            (p, closing_line_value(p, odds, price), bet_id))
            if row is not None:
                out.append(Bet(*row))
        return out

    return _write(steps())


def clv_summary(user_id: str) -> Plan[tuple[int, float | None]]:
    """How many of the user's bets have a CLV, and their mean."""

    def steps() -> Steps[tuple[int, float | None]]:
        row = yield Row("SELECT COUNT(clv), AVG(clv) FROM bets WHERE user_id = ? AND clv IS NOT NULL", (user_id,))
        return int(row[0]), None if row[1] is None else float(row[1])

    return _read(steps())


def active_bets_by_book() -> Plan[dict[str, int]]:
    def steps() -> Steps[dict[str, int]]:
        rows = yield Rows("SELECT bookmaker, COUNT(*) FROM bets WHERE status = ? GROUP BY bookmaker", (PLACED,))
        return {book: int(count) for book, count in rows}

    return _read(steps())


# -- alert rules, webhooks, alerts, deliveries ---------------------------------------------------------------
def add_webhook(user_id: str, url: str, secret: str, limit: int) -> Plan[Webhook | None]:
    """None when the user has ``limit`` webhooks already (nothing is written)."""

    def steps() -> Steps[Webhook | None]:
        count = yield Row("SELECT COUNT(*) FROM webhooks WHERE user_id = ?", (user_id,))
        if int(count[0]) >= limit:
            return None
        row = (alerts.new_id("hook"), user_id, url, secret, now_ms())
        yield Execute(schema.ADD_WEBHOOK, row)
        return alerts.webhook(row)

    return _write(steps())


def webhook(webhook_id: str) -> Plan[Webhook | None]:
    def steps() -> Steps[Webhook | None]:
        row = yield Row(schema.WEBHOOK, (webhook_id,))
        return None if row is None else alerts.webhook(row)

    return _read(steps())


def webhooks(user_id: str) -> Plan[list[Webhook]]:
    def steps() -> Steps[list[Webhook]]:
        return [alerts.webhook(r) for r in (yield Rows(schema.WEBHOOKS, (user_id,)))]

    return _read(steps())


def add_rule(new: NewRule, limit: int) -> Plan[Rule | None]:
    """None when the user has ``limit`` rules already (nothing is written)."""

    def steps() -> Steps[Rule | None]:
        count = yield Row("SELECT COUNT(*) FROM alert_rules WHERE user_id = ?", (new.user_id,))
        if int(count[0]) >= limit:
            return None
        row = alerts.rule_row(new)
        yield Execute(schema.ADD_RULE, row)
        return alerts.rule(row)

    return _write(steps())


def prune_alerts(before_ms: int) -> Plan[int]:
    """Alerts and delivery attempts older than ``before_ms`` go; how many rows went."""

    def steps() -> Steps[int]:
        gone = yield Execute("DELETE FROM alerts WHERE created_at < ?", (before_ms,))
        gone += yield Execute("DELETE FROM webhook_deliveries WHERE at < ?", (before_ms,))
        gone += yield Execute("DELETE FROM webhook_outbox WHERE created_at < ?", (before_ms,))
        return int(gone)

    return _background(steps())


def rules(user_id: str | None) -> Plan[list[Rule]]:
    """One user's alert rules, or (``None``: the alerter's view) everyone's."""

    def steps() -> Steps[list[Rule]]:
        rows = yield (Rows(schema.RULES, (user_id,)) if user_id else Rows(schema.ALL_RULES))
        return [alerts.rule(r) for r in rows]

    return _read(steps())


def delete_rule(user_id: str, rule_id: str) -> Plan[bool]:
    def steps() -> Steps[bool]:
        return bool((yield Execute(schema.DELETE_RULE, (rule_id, user_id))) == 1)

    return _write(steps())


def mute_rule(user_id: str, rule_id: str, until: int | None) -> Plan[Rule | None]:
    def steps() -> Steps[Rule | None]:
        yield Execute(schema.MUTE_RULE, (until, rule_id, user_id))
        row = yield Row(schema.RULE, (rule_id, user_id))
        return None if row is None else alerts.rule(row)

    return _write(steps())


def add_alerts(records: Sequence[AlertRecord], outbox: Sequence[PendingDelivery] = ()) -> Plan[None]:
    """Alerts, and the webhook deliveries they start, in one transaction: a delivery is pending once stored."""

    def steps() -> Steps[None]:
        yield Many(schema.ADD_ALERT, tuple((a.id, a.rule_id, a.user_id, a.kind, a.item_id, a.body, a.created_at)
                                           for a in records))
        if outbox:
            yield Many(schema.ADD_OUTBOX, tuple((p.delivery_id, p.webhook_id, p.user_id, p.alert_id, p.body,
                                                 p.attempts, p.created_at) for p in outbox))

    return _background(steps())


def recent_alerts(user_id: str, limit: int) -> Plan[list[bytes]]:
    def steps() -> Steps[list[bytes]]:
        return [bytes(r[0]) for r in (yield Rows(schema.RECENT_ALERTS, (user_id, limit)))]

    return _read(steps())


def add_delivery(d: Delivery, final: bool) -> Plan[None]:
    """One attempt; the delivery leaves the outbox with its ``final`` attempt (answered, or the last)."""

    def steps() -> Steps[None]:
        yield Execute(schema.ADD_DELIVERY, (d.id, d.webhook_id, d.delivery_id, d.alert_id, d.attempt, d.status, d.error,
                                            d.at))
        if final:
            yield Execute(schema.OUTBOX_DONE, (d.delivery_id,))
        else:
            yield Execute(schema.OUTBOX_ATTEMPTED, (d.attempt, d.delivery_id))

    return _background(steps())


def pending_deliveries(limit: int) -> Plan[list[PendingDelivery]]:
    """The outbox, oldest first: deliveries a stopped server had not finished."""

    def steps() -> Steps[list[PendingDelivery]]:
        return [alerts.pending(r) for r in (yield Rows(schema.OUTBOX, (limit,)))]

    return _read(steps())


def deliveries(user_id: str, webhook_id: str, limit: int) -> Plan[list[Delivery]]:
    def steps() -> Steps[list[Delivery]]:
        return [alerts.delivery(r) for r in (yield Rows(schema.DELIVERIES, (webhook_id, user_id, limit)))]

    return _read(steps())
