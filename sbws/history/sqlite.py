"""The embedded price history: one SQLite file beside the ledger, one table per day.

Writes never touch the event loop: ``record`` puts rows on a queue that one
writer thread drains in transactions of everything waiting.  A point is
(series, t, price) in a WITHOUT ROWID table keyed by (series, t), so one
market's history is a few contiguous range scans; a table per UTC day makes
retention a ``DROP TABLE``.  Compact: ``t`` is milliseconds since the day's
start (4 bytes), and a price with at most three decimals is stored as the
integer of its thousandths (1.91 as 1910, 2 bytes), any other price as the
REAL the feed delivered.  Reads run on their own connection and thread, and
a query that asks for fewer points than are stored buckets them in SQL.
"""

from __future__ import annotations

import asyncio
import queue
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import structlog

from ..errors import LedgerUnavailable
from ..ledger.sqlite import enable_wal
from .series import DAY_MS, Point, SeriesKey, day_of

log = structlog.get_logger("sbws.history")

Row = tuple[str, int, str, int, float | None]
"""(market id, outcome, book, t ms, decimal price or None for a withdrawal)."""
SteamRow = tuple[str, str, int, bytes]
"""(steam id, market id, t ms, the steam event as JSON)."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, market_id TEXT NOT NULL, outcome INTEGER NOT NULL, "
    "book TEXT NOT NULL, UNIQUE (market_id, outcome, book))",
    "CREATE TABLE IF NOT EXISTS steam (id TEXT PRIMARY KEY, market_id TEXT NOT NULL, t INTEGER NOT NULL, body BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS steam_market ON steam (market_id, t)",
)
DAY_TABLE = re.compile(r"^points_(\d+)$")


def day_table(day: int) -> str:
    return f"points_{day}"


def _days(conn: sqlite3.Connection) -> set[int]:
    """The days that have a table, as this connection sees the schema."""
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {int(m.group(1)) for (name,) in names if (m := DAY_TABLE.match(name))}


def encode_price(price: float | None) -> int | float | None:
    if price is None:
        return None
    thousandths = price * 1000.0
    whole = round(thousandths)
    return whole if abs(thousandths - whole) < 1e-6 and whole / 1000.0 == price else price


def decode_price(stored: int | float | None) -> float | None:
    if stored is None or isinstance(stored, float):
        return stored
    return stored / 1000.0


class SqliteHistory:
    def __init__(self, path: str, days: int) -> None:
        self.path = path
        self.days = days
        self.writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        enable_wal(self.writer, 5.0)
        self.writer.execute("PRAGMA synchronous=NORMAL")  # history is not money: a power cut may lose the last second
        for statement in SCHEMA:
            self.writer.execute(statement)
        self.reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self.reader.execute("PRAGMA query_only=ON")
        self.series: dict[tuple[str, int, str], int] = {
            (m, o, b): i for i, m, o, b in self.writer.execute("SELECT id, market_id, outcome, book FROM series")
        }
        self.tables: set[int] = _days(self.writer)
        self.queue: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self.written = 0
        self.failed = 0
        self.thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self.thread.start()
        self.reads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-reads")

    # -- the event loop's side: enqueue only --------------------------------------------
    def record(self, rows: Sequence[Row]) -> None:
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
            try:
                self._write([b for b in batch if b is not None])
            except sqlite3.Error as exc:
                self.failed += 1
                log.error("history_write_failed", error=str(exc))
            for entry in batch:
                if entry is not None and entry[0] == "flush":
                    entry[1].set()
            if stop:
                return

    def _write(self, items: list[tuple[str, Any]]) -> None:
        c = self.writer
        c.execute("BEGIN")
        try:
            for kind, payload in items:
                if kind == "points":
                    self._points(payload)
                elif kind == "steam":
                    c.executemany("INSERT OR IGNORE INTO steam VALUES (?, ?, ?, ?)", payload)
                elif kind == "prune":
                    self._prune(payload)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def _series_id(self, market_id: str, outcome: int, book: str) -> int:
        key = (market_id, outcome, book)
        found = self.series.get(key)
        if found is None:
            cur = self.writer.execute("INSERT INTO series (market_id, outcome, book) VALUES (?, ?, ?)", key)
            found = self.series[key] = int(cur.lastrowid or 0)
        return found

    def _points(self, rows: Iterable[Row]) -> None:
        by_day: dict[int, list[tuple[int, int, int | float | None]]] = {}
        for market_id, outcome, book, t, price in rows:
            day = day_of(t)
            by_day.setdefault(day, []).append((self._series_id(market_id, outcome, book), t - day * DAY_MS,
                                               encode_price(price)))
        for day, points in by_day.items():
            if day not in self.tables:
                self.writer.execute(
                    # ``price`` has no declared type, so an integer stays an integer (REAL affinity would make it 1910.0).
                    f"CREATE TABLE IF NOT EXISTS {day_table(day)} (series INTEGER NOT NULL, t INTEGER NOT NULL, "
                    "price, PRIMARY KEY (series, t)) WITHOUT ROWID"
                )
                self.tables.add(day)
            self.writer.executemany(f"INSERT OR REPLACE INTO {day_table(day)} VALUES (?, ?, ?)", points)
            self.written += len(points)

    def _prune(self, now_ms: int) -> None:
        """Whole days older than the retention go; steam rows by time."""
        cutoff = now_ms - self.days * DAY_MS
        for day in sorted(self.tables):
            if (day + 1) * DAY_MS <= cutoff:
                self.writer.execute(f"DROP TABLE IF EXISTS {day_table(day)}")
                self.tables.discard(day)
        self.writer.execute("DELETE FROM steam WHERE t < ?", (cutoff,))

    # -- reads (their own thread and connection) -----------------------------------------------
    def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0
              ) -> tuple[dict[SeriesKey, list[Point]], dict[SeriesKey, Point], dict[SeriesKey, Point], list[bytes]]:
        """Points in [lo, hi] per series (at most the last of each of ``buckets`` equal slices of it, when
        given), each series' first priced and last point, and the steam in [lo, hi]."""
        keys = {
            i: SeriesKey(m, o, b)
            for i, m, o, b in self.reader.execute(
                "SELECT id, market_id, outcome, book FROM series WHERE market_id = ? AND (? IS NULL OR book = ?)",
                (market_id, book, book),
            )
        }
        series: dict[SeriesKey, list[Point]] = {}
        opening: dict[SeriesKey, Point] = {}
        current: dict[SeriesKey, Point] = {}
        if keys:
            ids = ",".join(str(i) for i in keys)
            days = sorted(_days(self.reader))
            width = max(1, hi - lo + 1)
            spans = [(day, day * DAY_MS) for day in days if day * DAY_MS + DAY_MS > lo and day * DAY_MS <= hi]
            dense: set[int] = set()
            by_id: dict[int, list[Point]] = {}
            if buckets:
                counts: dict[int, int] = {}
                for day, base in spans:
                    for sid, n in self.reader.execute(
                        f"SELECT series, COUNT(*) FROM {day_table(day)} WHERE series IN ({ids}) AND t BETWEEN ? AND ? "
                        "GROUP BY series", (max(0, lo - base), hi - base),
                    ):
                        counts[sid] = counts.get(sid, 0) + n
                dense = {sid for sid, n in counts.items() if n > buckets}
            for day, base in spans:
                window = (max(0, lo - base), hi - base)
                for chosen, sql in (
                    ([i for i in keys if i not in dense],
                     "SELECT series, t, price FROM {table} WHERE series IN ({ids}) AND t BETWEEN ? AND ? ORDER BY series, t"),
                    # SQLite returns the bare column of the row holding MAX(): the last point of each bucket.
                    (sorted(dense),
                     "SELECT series, MAX(t), price FROM {table} WHERE series IN ({ids}) AND t BETWEEN ? AND ? "
                     f"GROUP BY series, ((t + {base - lo}) * {buckets}) / {width} ORDER BY series, 2"),
                ):
                    if not chosen:
                        continue
                    query = sql.format(table=day_table(day), ids=",".join(map(str, chosen)))
                    for sid, t, price in self.reader.execute(query, window):
                        points = by_id.get(sid)
                        if points is None:
                            points = by_id[sid] = []
                        points.append((base + t, price / 1000.0 if type(price) is int else price))
            series.update((keys[sid], points) for sid, points in by_id.items())
            self._ends(keys, days, opening, first=True)
            self._ends(keys, reversed(days), current, first=False)
        steam = [body for (body,) in self.reader.execute(
            "SELECT body FROM steam WHERE market_id = ? AND t BETWEEN ? AND ? ORDER BY t", (market_id, lo, hi)
        )]
        return series, opening, current, steam

    def _ends(self, keys: dict[int, SeriesKey], days: Iterable[int], into: dict[SeriesKey, Point], first: bool) -> None:
        """Each series' first priced point (``first``) or last point, over the day tables in the order given."""
        aggregate, priced = ("MIN", "AND price IS NOT NULL") if first else ("MAX", "")
        for day in days:
            missing = [i for i in keys if keys[i] not in into]
            if not missing:
                return
            for sid, t, price in self.reader.execute(
                f"SELECT series, {aggregate}(t), price FROM {day_table(day)} WHERE series IN "
                f"({','.join(map(str, missing))}) {priced} GROUP BY series"
            ):
                into[keys[sid]] = (day * DAY_MS + t, decode_price(price))

    def size_bytes(self) -> int:
        page_size = self.reader.execute("PRAGMA page_size").fetchone()[0]
        pages = self.reader.execute("PRAGMA page_count").fetchone()[0]
        return int(page_size) * int(pages)


class AsyncSqliteHistory:
    """The store behind the async interface the server uses."""

    def __init__(self, store: SqliteHistory) -> None:
        self.store = store

    def record(self, rows: Sequence[Row]) -> None:
        self.store.record(rows)

    def record_steam(self, rows: Sequence[SteamRow]) -> None:
        self.store.record_steam(rows)

    async def prune(self, now_ms: int) -> None:
        self.store.prune(now_ms)

    async def query(self, market_id: str, book: str | None, lo: int, hi: int, buckets: int = 0
                    ) -> tuple[dict[SeriesKey, list[Point]], dict[SeriesKey, Point], dict[SeriesKey, Point], list[bytes]]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.store.reads, self.store.query, market_id, book, lo, hi, buckets)
        except sqlite3.Error as exc:
            raise LedgerUnavailable(f"price history: {exc}") from exc

    async def flush(self) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.store.flush)

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.store.close)


def steam_row(steam_id: str, market_id: str, t_ms: int, body: dict[str, Any]) -> SteamRow:
    return (steam_id, market_id, t_ms, orjson.dumps(body))
