"""The PostgreSQL driver of the ledger (asyncpg), for deployments with several nodes.

It runs the same plans as the SQLite driver (``plans``).  Exactly-once bets
across nodes come from the ``UNIQUE (user_id, client_ref)`` constraint with
``INSERT … ON CONFLICT DO NOTHING``, never from a check-then-insert.
Migrations are versioned in ``schema_migrations`` and applied under an
advisory lock, so nodes starting together do not race.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import asyncpg

from ..clock import now_ms
from ..errors import LedgerUnavailable
from .lanes import Lanes
from .plans import Cursor, Many, Plan, Row, Rows, Statement
from .schema import HEALTH_PROBE, POSTGRES, in_dialect, migrations, numbered

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
T = TypeVar("T")


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


class PgDriver:
    """Runs plans on a PostgreSQL pool: a write in one transaction, locking what it reads with ``lock``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.lanes = Lanes()
        """Background writes take one pooled connection at a time, never the pool a bet needs."""

    @classmethod
    async def connect(cls, dsn: str) -> PgDriver:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, command_timeout=COMMAND_TIMEOUT)
        driver = cls(pool)
        await driver.migrate()
        return driver

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
                        if script.strip():
                            await conn.execute(script)
                        await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", number, now_ms())
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
        return len(MIGRATIONS)

    async def close(self) -> None:
        await self.pool.close()

    @unavailable_on_outage
    async def run(self, plan: Plan[T]) -> T:
        if not plan.write:
            async with self.pool.acquire() as conn:
                return await run_steps(conn, plan)
        async with self.lanes.background() if plan.background else self.lanes.foreground():
            async with self.pool.acquire() as conn, conn.transaction():
                return await run_steps(conn, plan)

    async def writable(self) -> bool:
        try:
            await self.pool.execute(HEALTH_PROBE.format(now=now_ms()))
            return True
        except (asyncpg.PostgresError, *OUTAGES):
            return False


async def run_steps(conn: asyncpg.Connection, plan: Plan[T]) -> T:
    """Run a plan's statements on one connection (the caller holds any transaction)."""
    cursor = Cursor(plan)
    while (statement := cursor.next()) is not None:
        try:
            cursor.answer(await _one(conn, statement))
        except asyncpg.UniqueViolationError as exc:
            cursor.duplicate(exc)
    return cursor.value


@functools.lru_cache(maxsize=512)
def _sql(sql: str, lock: bool = False) -> str:
    return numbered(in_dialect(sql, POSTGRES)) + (" FOR UPDATE" if lock else "")


async def _one(conn: asyncpg.Connection, statement: Statement) -> Any:
    if isinstance(statement, Many):
        await conn.executemany(_sql(statement.sql), statement.rows)
        return None
    if isinstance(statement, Rows):
        return await conn.fetch(_sql(statement.sql, statement.lock), *statement.args)
    if isinstance(statement, Row):
        return await conn.fetchrow(_sql(statement.sql), *statement.args)
    status: str = await conn.execute(_sql(statement.sql), *statement.args)
    count = status.rsplit(" ", 1)[-1]  # "UPDATE 1", "INSERT 0 1"; "CREATE TABLE" counts nothing
    return int(count) if count.isdigit() else 0
