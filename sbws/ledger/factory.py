"""Opening the ledger a ``--db`` value names."""

from __future__ import annotations

import asyncio

from .interface import Ledger
from .sqlite import AsyncSqliteLedger, SqliteLedger


async def open_ledger(db: str) -> Ledger:
    """``postgresql://…`` opens PostgreSQL (asyncpg); anything else is a SQLite file path."""
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PgLedger

        return await PgLedger.connect(db)
    loop = asyncio.get_running_loop()
    return AsyncSqliteLedger(await loop.run_in_executor(None, SqliteLedger, db))
