"""Opening the price history where the ledger is: a SQLite file beside it, or its PostgreSQL database."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from collections.abc import Sequence
from typing import Protocol

from ..errors import ConfigError
from ..observability.logs import redact
from .plans import Found, PointRow, SteamRow
from .sqlite import AsyncSqliteHistory, SqliteHistory


class History(Protocol):
    """The price history as the node and the service use it, on either store."""

    @property
    def failures(self) -> int:
        """Writes that failed (and rolled back) since the store opened."""
        ...

    def record(self, rows: Sequence[PointRow]) -> None:
        """Queue changed prices for the writer (never waits on the store)."""
        ...

    def record_steam(self, rows: Sequence[SteamRow]) -> None: ...

    async def prune(self, now_ms: int) -> None: ...

    async def flush(self) -> bool:
        """Until everything queued so far is written."""
        ...

    async def close(self) -> None: ...

    async def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0,
                    budget: int = 0) -> Found:
        """``buckets``: at most that many points per series; ``budget``: at most that many over all series."""
        ...


def history_path(db: str) -> str:
    """``sbws.db`` keeps its history in ``sbws.history.db`` beside it."""
    path = Path(db)
    return str(path.with_name(path.stem + ".history" + (path.suffix or ".db")))


async def open_history(db: str, days: int) -> History:
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PgHistory

        try:
            return await PgHistory.connect(db, days)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConfigError(f"cannot reach PostgreSQL for the price history at {redact(db)}: {exc}") from None
    path = history_path(db)
    try:
        store = await asyncio.get_running_loop().run_in_executor(None, SqliteHistory, path, days)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the price history {path!r}: {exc}") from None
    return AsyncSqliteHistory(store)
