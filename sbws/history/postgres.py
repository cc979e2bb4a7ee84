"""The price history in PostgreSQL (cluster mode): the same tables as the SQLite store, written by the leader.

Writes go through a queue that one task drains with ``executemany`` in a
transaction per drain, so a burst of changes costs the event loop an append,
and a slow database delays the history, never a push.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import structlog

from ..errors import LedgerUnavailable
from ..ledger.postgres import OUTAGES
from .series import DAY_MS, Point, SeriesKey, day_of
from .sqlite import Row, SteamRow

log = structlog.get_logger("sbws.history")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS history_series (id SERIAL PRIMARY KEY, market_id TEXT NOT NULL, outcome INTEGER NOT NULL, "
    "book TEXT NOT NULL, UNIQUE (market_id, outcome, book))",
    "CREATE TABLE IF NOT EXISTS history_steam (id TEXT PRIMARY KEY, market_id TEXT NOT NULL, t BIGINT NOT NULL, body BYTEA NOT NULL)",
    "CREATE INDEX IF NOT EXISTS history_steam_market ON history_steam (market_id, t)",
)


SCHEMA_LOCK = 0x5B_75_5C


def day_table(day: int) -> str:
    return f"history_points_{day}"


class PgHistory:
    def __init__(self, pool: asyncpg.Pool, days: int) -> None:
        self.pool = pool
        self.days = days
        self.series: dict[tuple[str, int, str], int] = {}
        self.tables: set[int] = set()
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.written = 0

    @classmethod
    async def connect(cls, dsn: str, days: int) -> PgHistory:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4, command_timeout=10.0)
        store = cls(pool, days)
        async with pool.acquire() as conn:
            # Several nodes start at once; concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
            await conn.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK)
            try:
                for statement in SCHEMA:
                    await conn.execute(statement)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SCHEMA_LOCK)
            store.tables = await store._days(conn)
        store.task = asyncio.create_task(store._run(), name="history-writer")
        return store

    def record(self, rows: Sequence[Row]) -> None:
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
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    for kind, payload in items:
                        if kind == "points":
                            await self._points(conn, payload)
                        elif kind == "steam":
                            await conn.executemany("INSERT INTO history_steam VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                                   payload)
                        elif kind == "prune":
                            await self._prune(conn, payload)
            except (asyncpg.PostgresError, *OUTAGES) as exc:
                log.error("history_write_failed", error=str(exc))
            for kind, payload in items:
                if kind == "flush":
                    payload.set()

    async def _series_id(self, conn: asyncpg.Connection, market_id: str, outcome: int, book: str) -> int:
        key = (market_id, outcome, book)
        found = self.series.get(key)
        if found is None:
            found = await conn.fetchval(
                "INSERT INTO history_series (market_id, outcome, book) VALUES ($1, $2, $3) "
                "ON CONFLICT (market_id, outcome, book) DO UPDATE SET book = excluded.book RETURNING id", *key,
            )
            self.series[key] = int(found)
        return int(found)

    async def _points(self, conn: asyncpg.Connection, rows: Iterable[Row]) -> None:
        by_day: dict[int, list[tuple[int, int, float | None]]] = {}
        for market_id, outcome, book, t, price in rows:
            sid = await self._series_id(conn, market_id, outcome, book)
            by_day.setdefault(day_of(t), []).append((sid, t, price))
        for day, points in by_day.items():
            if day not in self.tables:
                await conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {day_table(day)} (series INTEGER NOT NULL, t BIGINT NOT NULL, "
                    "price DOUBLE PRECISION, PRIMARY KEY (series, t))"
                )
                self.tables.add(day)
            await conn.executemany(
                f"INSERT INTO {day_table(day)} VALUES ($1, $2, $3) ON CONFLICT (series, t) DO UPDATE SET price = excluded.price",
                points,
            )
            self.written += len(points)

    async def _prune(self, conn: asyncpg.Connection, now_ms: int) -> None:
        cutoff = now_ms - self.days * DAY_MS
        for day in sorted(await self._days(conn)):
            if (day + 1) * DAY_MS <= cutoff:
                await conn.execute(f"DROP TABLE IF EXISTS {day_table(day)}")
                self.tables.discard(day)
        await conn.execute("DELETE FROM history_steam WHERE t < $1", cutoff)

    @staticmethod
    async def _days(conn: asyncpg.Connection) -> set[int]:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE tablename LIKE 'history_points_%'")
        return {int(r[0].rsplit("_", 1)[1]) for r in rows}

    @staticmethod
    async def _ends(conn: asyncpg.Connection, keys: dict[int, SeriesKey], days: list[int],
                    into: dict[SeriesKey, Point], first: bool) -> None:
        """Each series' first priced point (``first``) or last point, over the day tables in the order given."""
        order, priced = ("t", "AND price IS NOT NULL") if first else ("t DESC", "")
        for day in days:
            missing = [i for i in keys if keys[i] not in into]
            if not missing:
                return
            for sid, t, price in await conn.fetch(
                f"SELECT DISTINCT ON (series) series, t, price FROM {day_table(day)} WHERE series = ANY($1::int[]) "
                f"{priced} ORDER BY series, {order}", missing,
            ):
                into[keys[sid]] = (t, price)

    async def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0
                    ) -> tuple[dict[SeriesKey, list[Point]], dict[SeriesKey, Point], dict[SeriesKey, Point], list[bytes]]:
        """Every point in range; the service's ``downsample`` buckets them (``buckets`` is the SQLite store's
        shortcut)."""
        try:
            async with self.pool.acquire() as conn:
                return await self._query(conn, market_id, book, lo, hi)
        except OUTAGES as exc:
            raise LedgerUnavailable(f"price history: PostgreSQL: {exc}") from exc

    async def _query(self, conn: asyncpg.Connection, market_id: str, book: str | None, lo: int,
                     hi: int) -> tuple[dict[SeriesKey, list[Point]], dict[SeriesKey, Point], dict[SeriesKey, Point], list[bytes]]:
        rows = await conn.fetch(
            "SELECT id, market_id, outcome, book FROM history_series WHERE market_id = $1 "
            "AND ($2::text IS NULL OR book = $2)", market_id, book,
        )
        keys = {r[0]: SeriesKey(r[1], r[2], r[3]) for r in rows}
        series: dict[SeriesKey, list[Point]] = {}
        opening: dict[SeriesKey, Point] = {}
        current: dict[SeriesKey, Point] = {}
        if keys:
            ids = list(keys)
            days = sorted(await self._days(conn))
            for day in days:
                if (day + 1) * DAY_MS <= lo or day * DAY_MS > hi:
                    continue
                for sid, t, price in await conn.fetch(
                    f"SELECT series, t, price FROM {day_table(day)} WHERE series = ANY($1::int[]) AND t BETWEEN $2 AND $3 "
                    "ORDER BY series, t", ids, lo, hi,
                ):
                    series.setdefault(keys[sid], []).append((t, price))
            await self._ends(conn, keys, days, opening, first=True)
            await self._ends(conn, keys, list(reversed(days)), current, first=False)
        steam = [bytes(r[0]) for r in await conn.fetch(
            "SELECT body FROM history_steam WHERE market_id = $1 AND t BETWEEN $2 AND $3 ORDER BY t", market_id, lo, hi,
        )]
        return series, opening, current, steam
