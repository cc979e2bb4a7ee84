"""The SQLite ledger: the default, one file, WAL with synchronous=FULL.

``SqliteLedger`` is plain synchronous code, usable by the CLI as is.  The
server wraps it in ``AsyncSqliteLedger``, which runs every call on one
dedicated thread so the event loop never waits on the disk.  A bet is durable
when ``place_bet`` returns, before anything is acknowledged.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from ..clock import now_ms
from ..errors import LedgerError, LedgerUnavailable
from . import alerts, schema
from .models import PLACED, AlertRecord, Bet, Delivery, Identity, NewBet, NewRule, Rule, Webhook, check_username
from .rules import closing_line_value, outcome, payout_cents, settled_payout
from .schema import BET_COLUMNS, CLOSING_COLUMNS, HEALTH_PROBE, SETTLE_COLUMNS, SQLITE, migrations
from .tokens import check_token, inactive, new_token, split_token

T = TypeVar("T")
MIGRATIONS = migrations(SQLITE)


BUSY_TIMEOUT = 2.0
"""Seconds a statement waits for another process's lock before the ledger reports itself unavailable."""


def enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """WAL mode, waiting for other processes that open the same new file at once: SQLite answers a concurrent
    switch with "database is locked" straight away, without its busy timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteLedger:
    """Writes go through ``conn``; reads through ``reads``, which WAL lets run while a writer holds its lock."""

    def __init__(self, path: str, busy_timeout: float = BUSY_TIMEOUT) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        enable_wal(self.conn, busy_timeout)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()
        self.reads = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        self.reads.execute("PRAGMA query_only=ON")

    def close(self) -> None:
        self.reads.close()
        self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def migrate(self) -> int:
        """Each step under the write lock, the version read again inside it: ``--workers`` processes opening a
        new file at once apply every step exactly once (reading it before the lock let two apply one)."""
        for number, script in enumerate(MIGRATIONS, start=1):
            with self.tx() as c:
                if c.execute("PRAGMA user_version").fetchone()[0] >= number:
                    continue
                for statement in script.split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")
        return len(MIGRATIONS)

    # -- users and tokens -------------------------------------------------------
    def add_user(self, username: str) -> str:
        check_username(username)
        user_id = "user_" + secrets.token_hex(6)
        try:
            with self.tx() as c:
                c.execute("INSERT INTO users VALUES (?, ?, ?)", (user_id, username, now_ms()))
        except sqlite3.IntegrityError:
            raise LedgerError(f"user {username!r} already exists") from None
        return user_id

    def list_users(self) -> list[dict[str, Any]]:
        rows = self.reads.execute(
            "SELECT u.id, u.username, u.created_at, "
            "(SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.revoked_at IS NULL) "
            "FROM users u ORDER BY u.username"
        ).fetchall()
        return [{"id": r[0], "username": r[1], "createdAt": r[2], "activeTokens": r[3]} for r in rows]

    def issue_token(self, username: str, expires_at: int | None = None) -> tuple[str, str]:
        row = self.conn.execute("SELECT id FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise LedgerError(f"no user named {username!r}")
        token_id, token, digest = new_token()
        with self.tx() as c:
            c.execute(
                "INSERT INTO tokens (id, user_id, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, row[0], digest, now_ms(), expires_at),
            )
        return token_id, token

    def revoke_token(self, token_id: str) -> bool:
        with self.tx() as c:
            cur = c.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now_ms(), token_id)
            )
        return cur.rowcount == 1

    def verify_token(self, token: str) -> Identity | None:
        parts = split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        row = self.reads.execute(
            "SELECT t.secret_hash, t.revoked_at, u.id, u.username, t.expires_at FROM tokens t "
            "JOIN users u ON u.id = t.user_id WHERE t.id = ?",
            (token_id,),
        ).fetchone()
        return check_token(row, secret, token_id)

    def trusted_identity(self, user_id: str | None, username: str) -> Identity | None:
        """Development mode (--trust-user-id): an existing user, without a token."""
        row = self.reads.execute(
            "SELECT id, username FROM users WHERE id = ? OR username = ?", (user_id or "", username)
        ).fetchone()
        return None if row is None else Identity(row[0], row[1], "")

    def token_active(self, token_id: str) -> bool:
        return token_id not in self.inactive_tokens([token_id])

    def inactive_tokens(self, token_ids: Collection[str]) -> dict[str, str]:
        ids = sorted({t for t in token_ids if t})
        rows = [
            row
            for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500))
            for row in self.reads.execute(
                f"SELECT id, revoked_at, expires_at FROM tokens WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
        ]
        return inactive(ids, rows, now_ms())

    # -- bets ------------------------------------------------------------------
    def place_bet(self, new: NewBet) -> tuple[Bet, bool]:
        """Insert a bet, or return the one with the same clientRef (duplicate=True)."""
        bet_id = "bet_" + secrets.token_hex(8)
        placed_at = now_ms()
        payout = payout_cents(new.stake_cents, new.odds, new.price)
        with self.tx() as c:
            cur = c.execute(
                f"INSERT INTO bets ({BET_COLUMNS}, three_way) VALUES "
                f"({', '.join('?' * 24)}) ON CONFLICT (user_id, client_ref) DO NOTHING",
                (
                    bet_id, new.user_id, new.client_ref, new.market_id, new.event_id, new.market_type, new.line,
                    new.selection_id, new.bookmaker, new.stake_cents, new.odds, new.requested_odds, payout,
                    PLACED, None, new.notes, placed_at, None, new.price, new.requested_price, new.fair_probability,
                    None, None, int(new.three_way),
                ),
            )
            if cur.rowcount == 0:  # the unique (user, clientRef) constraint: a retry
                return self._by_client_ref(new.user_id, new.client_ref or ""), True
        return self.get_bet(bet_id), False

    def find_by_client_ref(self, user_id: str, client_ref: str, conn: sqlite3.Connection | None = None) -> Bet | None:
        """On the read connection, or on ``conn`` (the writer's, inside its transaction)."""
        row = (conn or self.reads).execute(
            f"SELECT {BET_COLUMNS} FROM bets WHERE user_id = ? AND client_ref = ?", (user_id, client_ref)
        ).fetchone()
        return None if row is None else Bet(*row)

    def _by_client_ref(self, user_id: str, client_ref: str) -> Bet:
        """The bet that holds a clientRef the write transaction found taken."""
        existing = self.find_by_client_ref(user_id, client_ref, self.conn)
        if existing is None:
            raise LedgerError(f"no bet with clientRef {client_ref!r}")
        return existing

    def get_bet(self, bet_id: str) -> Bet:
        row = self.conn.execute(f"SELECT {BET_COLUMNS} FROM bets WHERE id = ?", (bet_id,)).fetchone()
        if row is None:
            raise LedgerError(f"no bet {bet_id}")
        return Bet(*row)

    def get_bets(
        self,
        user_id: str,
        status: str | None = None,
        bookmaker: str | None = None,
        market_id: str | None = None,
        from_ms: int | None = None,
        to_ms: int | None = None,
        limit: int = 50,
    ) -> list[Bet]:
        where = ["user_id = ?"]
        args: list[Any] = [user_id]
        for column, value in (("status", status), ("bookmaker", bookmaker), ("market_id", market_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if from_ms is not None:
            where.append("placed_at >= ?")
            args.append(from_ms)
        if to_ms is not None:
            where.append("placed_at <= ?")
            args.append(to_ms)
        args.append(limit)
        rows = self.reads.execute(
            f"SELECT {BET_COLUMNS} FROM bets WHERE {' AND '.join(where)} ORDER BY placed_at DESC, rowid DESC LIMIT ?",
            args,
        ).fetchall()
        return [Bet(*r) for r in rows]

    def settle_event(self, event_id: str, home: int, away: int) -> list[Bet]:
        """Settle every open bet on an event; idempotent (only 'placed' rows change)."""
        settled_at = now_ms()
        with self.tx() as c:
            rows = c.execute(
                f"SELECT {SETTLE_COLUMNS} FROM bets WHERE event_id = ? AND status = ?",
                (event_id, PLACED),
            ).fetchall()
            for bet_id, mtype, line, three_way, selection, stake, potential in rows:
                status = outcome(mtype, line, selection, home, away, bool(three_way))
                c.execute(
                    "UPDATE bets SET status = ?, payout_cents = ?, settled_at = ? WHERE id = ? AND status = ?",
                    (status, settled_payout(status, stake, potential), settled_at, bet_id, PLACED),
                )
        return [self.get_bet(r[0]) for r in rows]

    def record_closing(self, event_id: str, closing: Mapping[tuple[str, str], float]) -> list[Bet]:
        """Give the event's bets without a closing line theirs, with their CLV; returns the bets that changed."""
        changed = []
        with self.tx() as c:
            rows = c.execute(
                f"SELECT {CLOSING_COLUMNS} FROM bets WHERE event_id = ? AND closing_fair_probability IS NULL", (event_id,)
            ).fetchall()
            for bet_id, market_id, selection, odds, price in rows:
                p = closing.get((market_id, selection))
                if p is None:
                    continue
                c.execute(
                    "UPDATE bets SET closing_fair_probability = ?, clv = ? WHERE id = ? AND closing_fair_probability IS NULL",
                    (p, closing_line_value(p, odds, price), bet_id),
                )
                changed.append(bet_id)
        return [self.get_bet(b) for b in changed]

    def clv_summary(self, user_id: str) -> tuple[int, float | None]:
        row = self.reads.execute("SELECT COUNT(clv), AVG(clv) FROM bets WHERE user_id = ? AND clv IS NOT NULL",
                                 (user_id,)).fetchone()
        return int(row[0]), None if row[1] is None else float(row[1])

    # -- alert rules, webhooks, alerts, deliveries -----------------------------------------------
    def add_webhook(self, user_id: str, url: str, secret: str) -> Webhook:
        row = (alerts.new_id("hook"), user_id, url, secret, now_ms())
        with self.tx() as c:
            c.execute(schema.ADD_WEBHOOK, row)
        return alerts.webhook(row)

    def webhook(self, webhook_id: str) -> Webhook | None:
        row = self.reads.execute(schema.WEBHOOK, (webhook_id,)).fetchone()
        return None if row is None else alerts.webhook(row)

    def webhooks(self, user_id: str) -> list[Webhook]:
        return [alerts.webhook(r) for r in self.reads.execute(schema.WEBHOOKS, (user_id,))]

    def add_rule(self, new: NewRule) -> Rule:
        row = alerts.rule_row(new)
        with self.tx() as c:
            c.execute(schema.ADD_RULE, row)
        return alerts.rule(row)

    def rules(self, user_id: str | None) -> list[Rule]:
        """One user's rules, or everyone's (``None``: the alerter's view)."""
        rows = self.reads.execute(schema.RULES, (user_id,)) if user_id else self.reads.execute(schema.ALL_RULES)
        return [alerts.rule(r) for r in rows]

    def delete_rule(self, user_id: str, rule_id: str) -> bool:
        with self.tx() as c:
            return c.execute(schema.DELETE_RULE, (rule_id, user_id)).rowcount == 1

    def mute_rule(self, user_id: str, rule_id: str, until: int | None) -> Rule | None:
        with self.tx() as c:
            c.execute(schema.MUTE_RULE, (until, rule_id, user_id))
            row = c.execute(schema.RULE, (rule_id, user_id)).fetchone()
        return None if row is None else alerts.rule(row)

    def add_alerts(self, records: Sequence[AlertRecord]) -> None:
        with self.tx() as c:
            c.executemany(schema.ADD_ALERT, [(a.id, a.rule_id, a.user_id, a.kind, a.item_id, a.body, a.created_at)
                                             for a in records])

    def recent_alerts(self, user_id: str, limit: int) -> list[bytes]:
        return [bytes(r[0]) for r in self.reads.execute(schema.RECENT_ALERTS, (user_id, limit))]

    def add_delivery(self, d: Delivery) -> None:
        with self.tx() as c:
            c.execute(schema.ADD_DELIVERY, (d.id, d.webhook_id, d.delivery_id, d.alert_id, d.attempt, d.status, d.error, d.at))

    def deliveries(self, user_id: str, webhook_id: str, limit: int) -> list[Delivery]:
        return [alerts.delivery(r) for r in self.reads.execute(schema.DELIVERIES, (webhook_id, user_id, limit))]

    def active_bets_by_book(self) -> dict[str, int]:
        rows = self.reads.execute("SELECT bookmaker, COUNT(*) FROM bets WHERE status = ? GROUP BY bookmaker", (PLACED,))
        return {book: count for book, count in rows}

    def writable(self) -> bool:
        try:
            with self.tx() as c:
                c.execute(HEALTH_PROBE.format(now=now_ms()))
            return True
        except sqlite3.Error:
            return False


class AsyncSqliteLedger:
    """The SQLite ledger behind the async interface: writes on one dedicated thread, reads on another.

    Token checks and bet listings never queue behind a write that waits for a lock.  A lock held too
    long, a full disk or a read-only file become ``LedgerUnavailable`` (NX-503, retryable).
    """

    def __init__(self, store: SqliteLedger) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-reads")

    async def _run(self, fn: Callable[..., T], *args: Any, pool: ThreadPoolExecutor | None = None) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool or self._pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(str(exc)) from exc

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._run(fn, *args, pool=self._reads)

    async def add_user(self, username: str) -> str:
        return await self._run(self.store.add_user, username)

    async def list_users(self) -> list[dict[str, Any]]:
        return await self._read(self.store.list_users)

    async def issue_token(self, username: str, expires_at: int | None = None) -> tuple[str, str]:
        return await self._run(self.store.issue_token, username, expires_at)

    async def revoke_token(self, token_id: str) -> bool:
        return await self._run(self.store.revoke_token, token_id)

    async def verify_token(self, token: str) -> Identity | None:
        return await self._read(self.store.verify_token, token)

    async def trusted_identity(self, user_id: str | None, username: str) -> Identity | None:
        return await self._read(self.store.trusted_identity, user_id, username)

    async def token_active(self, token_id: str) -> bool:
        return await self._read(self.store.token_active, token_id)

    async def inactive_tokens(self, token_ids: Collection[str]) -> dict[str, str]:
        return await self._read(self.store.inactive_tokens, token_ids)

    async def place_bet(self, new: NewBet) -> tuple[Bet, bool]:
        return await self._run(self.store.place_bet, new)

    async def find_by_client_ref(self, user_id: str, client_ref: str) -> Bet | None:
        return await self._read(self.store.find_by_client_ref, user_id, client_ref)

    async def get_bets(self, user_id: str, status: str | None, bookmaker: str | None, market_id: str | None,
                       from_ms: int | None, to_ms: int | None, limit: int) -> list[Bet]:
        return await self._read(self.store.get_bets, user_id, status, bookmaker, market_id, from_ms, to_ms, limit)

    async def settle_event(self, event_id: str, home: int, away: int) -> list[Bet]:
        return await self._run(self.store.settle_event, event_id, home, away)

    async def record_closing(self, event_id: str, closing: Mapping[tuple[str, str], float]) -> list[Bet]:
        return await self._run(self.store.record_closing, event_id, closing)

    async def clv_summary(self, user_id: str) -> tuple[int, float | None]:
        return await self._read(self.store.clv_summary, user_id)

    async def add_webhook(self, user_id: str, url: str, secret: str) -> Webhook:
        return await self._run(self.store.add_webhook, user_id, url, secret)

    async def webhook(self, webhook_id: str) -> Webhook | None:
        return await self._read(self.store.webhook, webhook_id)

    async def webhooks(self, user_id: str) -> list[Webhook]:
        return await self._read(self.store.webhooks, user_id)

    async def add_rule(self, new: NewRule) -> Rule:
        return await self._run(self.store.add_rule, new)

    async def rules(self, user_id: str | None) -> list[Rule]:
        return await self._read(self.store.rules, user_id)

    async def delete_rule(self, user_id: str, rule_id: str) -> bool:
        return await self._run(self.store.delete_rule, user_id, rule_id)

    async def mute_rule(self, user_id: str, rule_id: str, until: int | None) -> Rule | None:
        return await self._run(self.store.mute_rule, user_id, rule_id, until)

    async def add_alerts(self, records: Sequence[AlertRecord]) -> None:
        await self._run(self.store.add_alerts, records)

    async def recent_alerts(self, user_id: str, limit: int) -> list[bytes]:
        return await self._read(self.store.recent_alerts, user_id, limit)

    async def add_delivery(self, d: Delivery) -> None:
        await self._run(self.store.add_delivery, d)

    async def deliveries(self, user_id: str, webhook_id: str, limit: int) -> list[Delivery]:
        return await self._read(self.store.deliveries, user_id, webhook_id, limit)

    async def active_bets_by_book(self) -> dict[str, int]:
        return await self._read(self.store.active_bets_by_book)

    async def writable(self) -> bool:
        return await self._run(self.store.writable)

    async def close(self) -> None:
        self._reads.shutdown(wait=True)
        await self._run(self.store.close)
        self._pool.shutdown(wait=True)
