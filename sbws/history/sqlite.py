"""The embedded price history: one SQLite file beside the ledger, one table per day (``plans``, ``SQLITE``).

Writes never touch the event loop: ``record`` puts rows on a queue that one
writer thread drains in transactions of everything waiting.  A point is
(series, t, price) in a WITHOUT ROWID table keyed by (series, t), so one
market's history is a few contiguous range scans; a table per UTC day makes
retention a ``DROP TABLE``.  Compact: ``t`` is milliseconds since the day's
start (4 bytes), and a price with at most three decimals is stored as the
integer of its thousandths (1.91 as 1910, 2 bytes).  Reads run on their own
connection and thread, and a query that asks for fewer points than are stored
buckets them in SQL.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import structlog

from ..errors import LedgerUnavailable
from ..ledger.sqlite import enable_wal, run_steps
from . import plans
from .plans import SQLITE, Found, Item, PointRow, SteamRow

log = structlog.get_logger("sbws.history")


class SqliteHistory:
    def __init__(self, path: str, days: int) -> None:
        self.path = path
        self.days = days
        self.writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        enable_wal(self.writer, 5.0)
        self.writer.execute("PRAGMA synchronous=NORMAL")  # history is not money: a power cut may lose the last second
        for statement in plans.schema(SQLITE):
            self.writer.execute(statement)
        self.reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self.reader.execute("PRAGMA query_only=ON")
        self.known = run_steps(self.writer, plans.load(SQLITE))
        self.queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self.failed = 0
        self.thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self.thread.start()
        self.reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-reads")

    @property
    def tables(self) -> set[int]:
        return self.known.tables

    @property
    def written(self) -> int:
        return self.known.written

    # -- the event loop's side: enqueue only --------------------------------------------
    def record(self, rows: Sequence[PointRow]) -> None:
        if rows:
            self.queue.put(("points", rows))

    def record_steam(self, rows: Sequence[SteamRow]) -> None:
        if rows:
            self.queue.put(("steam", rows))

    def prune(self, now_ms: int) -> None:
        self.queue.put(("prune", now_ms))

    def flush(self, timeout: float = 10.0) -> bool:
        """Blocks (off the loop) until everything queued so far is written."""
        done = threading.Event()
        self.queue.put(("flush", done))
        return done.wait(timeout)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=10)
        self.reads.shutdown(wait=True)
        self.reader.close()
        self.writer.close()

    # -- the writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self.queue.get()
            batch = [item]
            while item is not None and len(batch) < 1000:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            stop = batch[-1] is None
            writes = [b for b in batch if b is not None and b[0] != "flush"]
            try:
                if writes:
                    self._write(writes)
            except Exception as exc:  # the writer outlives any one failed write
                self.failed += 1
                log.error("history_write_failed", error=f"{type(exc).__name__}: {exc}")
            for entry in batch:
                if entry is not None and entry[0] == "flush":
                    entry[1].set()
            if stop:
                return

    def _write(self, items: list[Item]) -> None:
        c = self.writer
        c.execute("BEGIN")
        try:
            made = run_steps(c, plans.write(items, self.known, self.days, SQLITE))
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        self.known.committed(made)

    # -- reads (their own thread and connection) -----------------------------------------------
    def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0, budget: int = 0) -> Found:
        return run_steps(self.reader, plans.query(market_id, book, lo, hi, buckets, SQLITE, budget))

    def size_bytes(self) -> int:
        page_size = self.reader.execute("PRAGMA page_size").fetchone()[0]
        pages = self.reader.execute("PRAGMA page_count").fetchone()[0]
        return int(page_size) * int(pages)


class AsyncSqliteHistory:
    """The store behind the async interface the server uses (``factory.History``)."""

    def __init__(self, store: SqliteHistory) -> None:
        self.store = store

    @property
    def failures(self) -> int:
        return self.store.failed

    def record(self, rows: Sequence[PointRow]) -> None:
        self.store.record(rows)

    def record_steam(self, rows: Sequence[SteamRow]) -> None:
        self.store.record_steam(rows)

    async def prune(self, now_ms: int) -> None:
        self.store.prune(now_ms)

    async def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0,
                    budget: int = 0) -> Found:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.store.reads, self.store.query, market_id, book, lo, hi, buckets,
                                              budget)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"price history: {exc}") from exc

    async def flush(self) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.flush)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.store.close)
