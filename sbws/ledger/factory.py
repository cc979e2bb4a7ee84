"""Opening the ledger a ``--db`` value names."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from ..errors import ConfigError
from ..observability.logs import redact
from .interface import Ledger
from .sqlite import AsyncSqliteDriver, SqliteDriver


async def open_ledger(db: str) -> Ledger:
    """``postgresql://…`` opens PostgreSQL (asyncpg); anything else is a SQLite file path."""
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PgDriver

        try:
            return Ledger(await PgDriver.connect(db))
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConfigError(f"cannot reach PostgreSQL at {redact(db)}: {exc}; is it running, and is --db right?") from None
    path = Path(db)
    if path.is_dir():
        raise ConfigError(f"--db {db!r} is a directory; name a file in it, like {str(path / 'sbws.db')!r}")
    if not path.parent.is_dir():
        raise ConfigError(f"--db {db!r}: the folder {str(path.parent)!r} does not exist; create it or choose another path")
    loop = asyncio.get_running_loop()
    try:
        return Ledger(AsyncSqliteDriver(await loop.run_in_executor(None, SqliteDriver, db)))
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the ledger {db!r}: {exc}; is the file and its folder writable?") from None
