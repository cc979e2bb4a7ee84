"""The price history in PostgreSQL (cluster mode), written by the leader: the plans of ``plans`` in the
``POSTGRES`` dialect (its own table names, absolute times and double prices).

Writes go through a queue that one task drains in a transaction per drain, so
a burst of changes costs the event loop an append, and a slow database delays
the history, never a push.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import structlog

from ..errors import LedgerUnavailable
from ..ledger.postgres import OUTAGES, run_steps
from . import plans
from .plans import POSTGRES, Found, Item, Known, PointRow, SteamRow

log = structlog.get_logger("sbws.history")

SCHEMA_LOCK = 0x5B_75_5C


class PgHistory:
    def __init__(self, pool: asyncpg.Pool, days: int, known: Known) -> None:
        self.pool = pool
        self.days = days
        self.known = known
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.failures = 0

    @classmethod
    async def connect(cls, dsn: str, days: int) -> PgHistory:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, command_timeout=10.0)
        async with pool.acquire() as conn:
            # Several nodes start at once; concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
            await conn.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK)
            try:
                for statement in plans.schema(POSTGRES):
                    await conn.execute(statement)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SCHEMA_LOCK)
            known = await run_steps(conn, plans.load(POSTGRES))
        store = cls(pool, days, known)
        store.task = asyncio.create_task(store._run(), name="history-writer")
        return store

    def record(self, rows: Sequence[PointRow]) -> None:
        if rows:
            self.queue.put_nowait(("points", rows))

    def record_steam(self, rows: Sequence[SteamRow]) -> None:
        if rows:
            self.queue.put_nowait(("steam", rows))

    async def prune(self, now_ms: int) -> None:
        self.queue.put_nowait(("prune", now_ms))

    async def flush(self) -> bool:
        done = asyncio.Event()
        self.queue.put_nowait(("flush", done))
        await done.wait()
        return True

    async def close(self) -> None:
        if self.task is not None:
            await self.flush()
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.pool.close()

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            while not self.queue.empty() and len(items) < 1000:
                items.append(self.queue.get_nowait())
            writes = [item for item in items if item[0] != "flush"]
            try:
                if writes:
                    async with self.pool.acquire() as conn, conn.transaction():
                        made = await run_steps(conn, plans.write(writes, self.known, self.days, POSTGRES))
                    self.known.committed(made)
            except Exception as exc:  # the writer outlives any one failed write
                self.failures += 1
                log.error("history_write_failed", error=f"{type(exc).__name__}: {exc}")
            for kind, payload in items:
                if kind == "flush":
                    payload.set()

    async def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0,
                    budget: int = 0) -> Found:
        try:
            async with self.pool.acquire() as conn:
                return await run_steps(conn, plans.query(market_id, book, lo, hi, buckets, POSTGRES, budget))
        except OUTAGES as exc:
            raise LedgerUnavailable(f"price history: PostgreSQL: {exc}") from exc
