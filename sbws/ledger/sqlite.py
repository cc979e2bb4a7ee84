"""The SQLite driver of the ledger: the default, one file, WAL with synchronous=FULL.

It runs the plans of ``plans`` (the ledger's logic, shared with PostgreSQL).
``SqliteDriver`` is synchronous; the server wraps it in ``AsyncSqliteDriver``,
which runs writes on one dedicated thread and reads on another, so the event
loop never waits on the disk.  A bet is durable when ``place_bet`` returns,
before anything is acknowledged.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from ..clock import now_ms
from ..errors import LedgerUnavailable
from .lanes import Lanes
from .plans import Cursor, Execute, Many, Plan, Rows, Statement
from .schema import HEALTH_PROBE, SQLITE, in_dialect, migrations

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


class SqliteDriver:
    """Runs plans on one SQLite file: writes on ``conn`` in one ``BEGIN IMMEDIATE`` transaction each, reads on
    ``reads``, which WAL lets run while a writer holds its lock.  Plain synchronous code: the CLI's and the
    tests' ledger as is; the server runs it on threads (``AsyncSqliteDriver``)."""

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

    def run(self, plan: Plan[T]) -> T:
        if plan.write:
            with self.tx() as c:
                return run_steps(c, plan)
        return run_steps(self.reads, plan)

    def writable(self) -> bool:
        try:
            with self.tx() as c:
                c.execute(HEALTH_PROBE.format(now=now_ms()))
            return True
        except sqlite3.Error:
            return False


def run_steps(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run a plan's statements on one connection (the caller holds any transaction)."""
    cursor = Cursor(plan)
    while (statement := cursor.next()) is not None:
        try:
            cursor.answer(_one(conn, statement))
        except sqlite3.IntegrityError as exc:
            cursor.duplicate(exc)
    return cursor.value


def _one(conn: sqlite3.Connection, statement: Statement) -> Any:
    if isinstance(statement, Many):
        conn.executemany(statement.sql, statement.rows)
        return None
    cur = conn.execute(in_dialect(statement.sql, SQLITE), statement.args)
    if isinstance(statement, Execute):
        return cur.rowcount
    rows = cur.fetchall()
    if isinstance(statement, Rows):
        return rows
    return rows[0] if rows else None


class AsyncSqliteDriver:
    """The SQLite driver for the event loop: writes on one dedicated thread, reads on another.

    Token checks and bet listings never queue behind a write that waits for a lock, and bets never queue
    behind background writes (``lanes``).  A lock held too long, a full disk or a read-only file become
    ``LedgerUnavailable`` (NX-503, retryable).
    """

    def __init__(self, store: SqliteDriver) -> None:
        self.store = store
        self.lanes = Lanes()
        self._writes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-reads")

    async def _call(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except sqlite3.OperationalError as exc:
            raise LedgerUnavailable(str(exc)) from exc

    async def run(self, plan: Plan[T]) -> T:
        if not plan.write:
            return await self._call(self._reads, self.store.run, plan)
        async with self.lanes.background() if plan.background else self.lanes.foreground():
            return await self._call(self._writes, self.store.run, plan)

    async def writable(self) -> bool:
        return await self._call(self._writes, self.store.writable)

    async def close(self) -> None:
        self._reads.shutdown(wait=True)
        await self._call(self._writes, self.store.close)
        self._writes.shutdown(wait=True)
