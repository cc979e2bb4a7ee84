"""The PostgreSQL ledger (asyncpg), for deployments with several nodes.

Same interface and rules as the SQLite ledger.  Exactly-once bets across
nodes come from the ``UNIQUE (user_id, client_ref)`` constraint with
``INSERT … ON CONFLICT DO NOTHING``, never from a check-then-insert.
Migrations are versioned in ``schema_migrations`` and applied under an
advisory lock, so nodes starting together do not race.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import asyncpg

from ..clock import now_ms
from ..errors import LedgerError, LedgerUnavailable
from . import alerts, schema
from .models import PLACED, AlertRecord, Bet, Delivery, Identity, NewBet, NewRule, Rule, Webhook, check_username
from .rules import closing_line_value, outcome, payout_cents, settled_payout
from .schema import BET_COLUMNS, CLOSING_COLUMNS, HEALTH_PROBE, POSTGRES, SETTLE_COLUMNS, migrations, numbered
from .tokens import check_token, inactive, new_token, split_token

MIGRATIONS = migrations(POSTGRES)
COMMAND_TIMEOUT = 5.0
"""Seconds a statement may wait (on a lock, a busy server) before the ledger reports itself unavailable."""
OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,  # 08xxx: the connection failed or was lost
    asyncpg.InterfaceError,  # the client's connection is closed or unusable
    asyncpg.InsufficientResourcesError,  # 53xxx: disk full, out of memory, too many connections
    asyncpg.OperatorInterventionError,  # 57xxx: the server shuts down or ended the session
    asyncpg.ObjectNotInPrerequisiteStateError,  # 55000: the database takes no connections now
    asyncpg.InternalClientError,  # a pooled connection the server ended is used before the pool notices
)

P = ParamSpec("P")
R = TypeVar("R")


def unavailable_on_outage(method: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """A server that cannot be reached or cannot take the work is ``LedgerUnavailable`` (NX-503), not a crash."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except OUTAGES as exc:
            raise LedgerUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    return guarded
MIGRATION_LOCK = 0x5B_75_5B  # advisory lock id for schema changes


def _bet(row: asyncpg.Record) -> Bet:
    return Bet(*row.values())


class PgLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PgLedger:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, command_timeout=COMMAND_TIMEOUT)
        ledger = cls(pool)
        await ledger.migrate()
        return ledger

    async def migrate(self) -> int:
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
                )
                done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for number, script in enumerate(MIGRATIONS, start=1):
                    if number in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(script)
                        await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", number, now_ms())
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return len(MIGRATIONS)

    async def close(self) -> None:
        await self.pool.close()

    @unavailable_on_outage
    async def add_user(self, username: str) -> str:
        check_username(username)
        user_id = "user_" + secrets.token_hex(6)
        try:
            await self.pool.execute("INSERT INTO users VALUES ($1, $2, $3)", user_id, username, now_ms())
        except asyncpg.UniqueViolationError:
            raise LedgerError(f"user {username!r} already exists") from None
        return user_id

    @unavailable_on_outage
    async def list_users(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT u.id, u.username, u.created_at, "
            "(SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) "
            "FROM users u ORDER BY u.username"
        )
        return [{"id": r[0], "username": r[1], "createdAt": r[2], "activeTokens": r[3]} for r in rows]

    @unavailable_on_outage
    async def issue_token(self, username: str, expires_at: int | None = None) -> tuple[str, str]:
        user_id = await self.pool.fetchval("SELECT id FROM users WHERE username = $1", username)
        if user_id is None:
            raise LedgerError(f"no user named {username!r}")
        token_id, token, digest = new_token()
        await self.pool.execute(
            "INSERT INTO tokens (id, user_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            token_id, user_id, digest, now_ms(), expires_at,
        )
        return token_id, token

    @unavailable_on_outage
    async def revoke_token(self, token_id: str) -> bool:
        status: str = await self.pool.execute(
            "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", now_ms(), token_id
        )
        return status.endswith(" 1")

    @unavailable_on_outage
    async def verify_token(self, token: str) -> Identity | None:
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        row = await self.pool.fetchrow(
            "SELECT t.secret_hash, t.revoked_at, u.id, u.username, t.expires_at FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.id = $1",
            token_id,
        )
        return check_token(row, secret, token_id)

    @unavailable_on_outage
    async def trusted_identity(self, user_id: str | None, username: str) -> Identity | None:
        row = await self.pool.fetchrow("SELECT id, username FROM users WHERE id = $1 OR username = $2", user_id or "", username)
        return None if row is None else Identity(row[0], row[1], "")

    async def token_active(self, token_id: str) -> bool:
        return token_id not in await self.inactive_tokens([token_id])

    @unavailable_on_outage
    async def inactive_tokens(self, token_ids: Collection[str]) -> dict[str, str]:
        ids = sorted({t for t in token_ids if t})
        rows = await self.pool.fetch("SELECT id, revoked_at, expires_at FROM tokens WHERE id = ANY($1::text[])", ids)
        return inactive(ids, rows, now_ms())

    @unavailable_on_outage
    async def place_bet(self, new: NewBet) -> tuple[Bet, bool]:
        row = await self.pool.fetchrow(
            f"INSERT INTO bets ({BET_COLUMNS}, three_way) VALUES "
            f"({', '.join(f'${i}' for i in range(1, 25))}) "
            f"ON CONFLICT (user_id, client_ref) DO NOTHING RETURNING {BET_COLUMNS}",
            "bet_" + secrets.token_hex(8), new.user_id, new.client_ref, new.market_id, new.event_id, new.market_type,
            new.line, new.selection_id, new.bookmaker, new.stake_cents, new.odds, new.requested_odds,
            payout_cents(new.stake_cents, new.odds, new.price), PLACED, None, new.notes, now_ms(), None, new.price,
            new.requested_price, new.fair_probability, None, None, new.three_way,
        )
        if row is not None:
            return _bet(row), False
        existing = await self.find_by_client_ref(new.user_id, new.client_ref or "")
        if existing is None:
            raise LedgerError(f"no bet with clientRef {new.client_ref!r}")
        return existing, True

    @unavailable_on_outage
    async def find_by_client_ref(self, user_id: str, client_ref: str) -> Bet | None:
        row = await self.pool.fetchrow(f"SELECT {BET_COLUMNS} FROM bets WHERE user_id = $1 AND client_ref = $2", user_id, client_ref)
        return None if row is None else _bet(row)

    @unavailable_on_outage
    async def get_bets(self, user_id: str, status: str | None, bookmaker: str | None, market_id: str | None,
                       from_ms: int | None, to_ms: int | None, limit: int) -> list[Bet]:
        where, args = ["user_id = $1"], [user_id]
        for column, value, op in (("status", status, "="), ("bookmaker", bookmaker, "="), ("market_id", market_id, "="),
                                  ("placed_at", from_ms, ">="), ("placed_at", to_ms, "<=")):
            if value is not None:
                args.append(value)  # type: ignore[arg-type]
                where.append(f"{column} {op} ${len(args)}")
        args.append(limit)  # type: ignore[arg-type]
        rows = await self.pool.fetch(
            f"SELECT {BET_COLUMNS} FROM bets WHERE {' AND '.join(where)} ORDER BY placed_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [_bet(r) for r in rows]

    @unavailable_on_outage
    async def settle_event(self, event_id: str, home: int, away: int) -> list[Bet]:
        settled_at = now_ms()
        out = []
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {SETTLE_COLUMNS} FROM bets WHERE event_id = $1 AND status = $2 FOR UPDATE",
                event_id, PLACED,
            )
            for bet_id, mtype, line, three_way, selection, stake, potential in rows:
                status = outcome(mtype, line, selection, home, away, bool(three_way))
                row = await conn.fetchrow(
                    f"UPDATE bets SET status = $1, payout_cents = $2, settled_at = $3 WHERE id = $4 AND status = $5 "
                    f"RETURNING {BET_COLUMNS}",
                    status, settled_payout(status, stake, potential), settled_at, bet_id, PLACED,
                )
                if row is not None:
                    out.append(_bet(row))
        return out

    @unavailable_on_outage
    async def record_closing(self, event_id: str, closing: Mapping[tuple[str, str], float]) -> list[Bet]:
        out = []
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                f"SELECT {CLOSING_COLUMNS} FROM bets WHERE event_id = $1 AND closing_fair_probability IS NULL FOR UPDATE",
                event_id,
            )
            for bet_id, market_id, selection, odds, price in rows:
                p = closing.get((market_id, selection))
                if p is None:
                    continue
                row = await conn.fetchrow(
                    "UPDATE bets SET closing_fair_probability = $1, clv = $2 WHERE id = $3 "
                    f"AND closing_fair_probability IS NULL RETURNING {BET_COLUMNS}",
                    p, closing_line_value(p, odds, price), bet_id,
                )
                if row is not None:
                    out.append(_bet(row))
        return out

    @unavailable_on_outage
    async def clv_summary(self, user_id: str) -> tuple[int, float | None]:
        row = await self.pool.fetchrow("SELECT COUNT(clv), AVG(clv) FROM bets WHERE user_id = $1 AND clv IS NOT NULL",
                                       user_id)
        return int(row[0]), None if row[1] is None else float(row[1])

    # -- alert rules, webhooks, alerts, deliveries -----------------------------------------------
    @unavailable_on_outage
    async def add_webhook(self, user_id: str, url: str, secret: str) -> Webhook:
        row = (alerts.new_id("hook"), user_id, url, secret, now_ms())
        await self.pool.execute(numbered(schema.ADD_WEBHOOK), *row)
        return alerts.webhook(row)

    @unavailable_on_outage
    async def webhook(self, webhook_id: str) -> Webhook | None:
        row = await self.pool.fetchrow(numbered(schema.WEBHOOK), webhook_id)
        return None if row is None else alerts.webhook(tuple(row.values()))

    @unavailable_on_outage
    async def webhooks(self, user_id: str) -> list[Webhook]:
        return [alerts.webhook(tuple(r.values())) for r in await self.pool.fetch(numbered(schema.WEBHOOKS), user_id)]

    @unavailable_on_outage
    async def add_rule(self, new: NewRule) -> Rule:
        row = alerts.rule_row(new)
        await self.pool.execute(numbered(schema.ADD_RULE), *row)
        return alerts.rule(row)

    @unavailable_on_outage
    async def rules(self, user_id: str | None) -> list[Rule]:
        if user_id:
            rows = await self.pool.fetch(numbered(schema.RULES), user_id)
        else:
            rows = await self.pool.fetch(schema.ALL_RULES)
        return [alerts.rule(tuple(r.values())) for r in rows]

    @unavailable_on_outage
    async def delete_rule(self, user_id: str, rule_id: str) -> bool:
        status: str = await self.pool.execute(numbered(schema.DELETE_RULE), rule_id, user_id)
        return status.endswith(" 1")

    @unavailable_on_outage
    async def mute_rule(self, user_id: str, rule_id: str, until: int | None) -> Rule | None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(numbered(schema.MUTE_RULE), until, rule_id, user_id)
            row = await conn.fetchrow(numbered(schema.RULE), rule_id, user_id)
        return None if row is None else alerts.rule(tuple(row.values()))

    @unavailable_on_outage
    async def add_alerts(self, records: Sequence[AlertRecord]) -> None:
        await self.pool.executemany(numbered(schema.ADD_ALERT),
                                    [(a.id, a.rule_id, a.user_id, a.kind, a.item_id, a.body, a.created_at) for a in records])

    @unavailable_on_outage
    async def recent_alerts(self, user_id: str, limit: int) -> list[bytes]:
        return [bytes(r[0]) for r in await self.pool.fetch(numbered(schema.RECENT_ALERTS), user_id, limit)]

    @unavailable_on_outage
    async def add_delivery(self, d: Delivery) -> None:
        await self.pool.execute(numbered(schema.ADD_DELIVERY), d.id, d.webhook_id, d.delivery_id, d.alert_id, d.attempt,
                                d.status, d.error, d.at)

    @unavailable_on_outage
    async def deliveries(self, user_id: str, webhook_id: str, limit: int) -> list[Delivery]:
        rows = await self.pool.fetch(numbered(schema.DELIVERIES), webhook_id, user_id, limit)
        return [alerts.delivery(tuple(r.values())) for r in rows]

    @unavailable_on_outage
    async def active_bets_by_book(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT bookmaker, COUNT(*) FROM bets WHERE status = $1 GROUP BY bookmaker", PLACED)
        return {r[0]: int(r[1]) for r in rows}

    async def writable(self) -> bool:
        try:
            await self.pool.execute(HEALTH_PROBE.format(now=now_ms()))
            return True
        except (asyncpg.PostgresError, *OUTAGES):
            return False
