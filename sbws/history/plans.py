"""The price history's logic once, as plans of statements: the same writes and reads on SQLite and PostgreSQL.

Both stores keep one points table per UTC day (retention is a ``DROP TABLE``),
a series table naming (market, outcome, book), and the steam seen.  What
differs is a ``Dialect``: table names, how a point is encoded (SQLite stores
``t`` within its day and prices as integer thousandths; PostgreSQL absolute
``t`` and doubles), and a few statements.  Plans run on the ledger's drivers'
plan runners (``ledger.plans``), so a write is one transaction.  A write plan
returns the series and day tables it created; the store adds them to what it
knows only after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from attrs import define, field, frozen

from ..ledger.plans import Execute, Many, Plan, Row, Rows, Steps
from .series import DAY_MS, Point, SeriesKey, day_of

PointRow = tuple[str, int, str, int, float | None]
"""(market id, outcome, book, t ms, decimal price or None for a withdrawal): what the node records."""
SteamRow = tuple[str, str, int, bytes]
"""(steam id, market id, t ms, the steam event as JSON)."""
Found = tuple[dict[SeriesKey, list[Point]], dict[SeriesKey, Point], dict[SeriesKey, Point], list[bytes]]
"""Points per series in range, each series' first priced point and last point, and the steam in range."""
Item = tuple[str, Any]
"""A queued write: ("points", rows), ("steam", rows) or ("prune", now_ms)."""


def steam_row(steam_id: str, market_id: str, t_ms: int, body: dict[str, Any]) -> SteamRow:
    return (steam_id, market_id, t_ms, orjson.dumps(body))


def encode_price(price: float | None) -> int | float | None:
    """A price with at most three decimals as the integer of its thousandths (1.91 as 1910), else as given."""
    if price is None:
        return None
    thousandths = price * 1000.0
    whole = round(thousandths)
    return whole if abs(thousandths - whole) < 1e-6 and whole / 1000.0 == price else price


def decode_price(stored: int | float | None) -> float | None:
    if stored is None or isinstance(stored, float):
        return stored
    return stored / 1000.0


@frozen
class Dialect:
    series: str
    steam: str
    points: str
    """The day tables' name prefix (``points_`` + the day number)."""
    day_table_ddl: str
    """``{table}`` is the day's table."""
    insert_points: str
    insert_steam: str
    list_tables: str
    encode: Callable[[int, int, int, float | None], tuple[Any, ...]]
    """(series id, t ms, day, price) → the stored row."""
    decode: Callable[[int, int, Any], Point]
    """(day, stored t, stored price) → the point."""
    relative_t: bool
    """Stored ``t`` is milliseconds since the day began."""
    ends: str
    """First (``{agg}`` MIN) or last (MAX) point per series of one day table: ``{table}``, ``{ids}``, ``{priced}``."""
    bucketed: str
    """The last point of each bucket of a dense series: ``{table}``, ``{ids}``, ``{bucket}`` (the bucket of ``t``)."""

    def table(self, day: int) -> str:
        return f"{self.points}{day}"

    def days(self, names: Sequence[Any]) -> set[int]:
        out = set()
        for (name,) in names:
            suffix = str(name)[len(self.points):]
            if str(name).startswith(self.points) and suffix.isdigit():
                out.add(int(suffix))
        return out


SQLITE = Dialect(
    series="series", steam="steam", points="points_",
    # ``price`` has no declared type, so an integer stays an integer (REAL affinity would make it 1910.0).
    day_table_ddl="CREATE TABLE IF NOT EXISTS {table} (series INTEGER NOT NULL, t INTEGER NOT NULL, price, "
                  "PRIMARY KEY (series, t)) WITHOUT ROWID",
    insert_points="INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)",
    insert_steam="INSERT OR IGNORE INTO steam VALUES (?, ?, ?, ?)",
    list_tables="SELECT name FROM sqlite_master WHERE type = 'table'",
    encode=lambda sid, t, day, price: (sid, t - day * DAY_MS, encode_price(price)),
    decode=lambda day, t, price: (day * DAY_MS + t, decode_price(price)),
    relative_t=True,
    # SQLite returns the bare column of the row holding MIN()/MAX().
    ends="SELECT series, {agg}(t), price FROM {table} WHERE series IN ({ids}) {priced} GROUP BY series",
    bucketed="SELECT series, MAX(t), price FROM {table} WHERE series IN ({ids}) AND t BETWEEN ? AND ? "
             "GROUP BY series, {bucket} ORDER BY series, 2",
)

POSTGRES = Dialect(
    series="history_series", steam="history_steam", points="history_points_",
    day_table_ddl="CREATE TABLE IF NOT EXISTS {table} (series INTEGER NOT NULL, t BIGINT NOT NULL, "
                  "price DOUBLE PRECISION, PRIMARY KEY (series, t))",
    insert_points="INSERT INTO {table} VALUES (?, ?, ?) ON CONFLICT (series, t) DO UPDATE SET price = excluded.price",
    insert_steam="INSERT INTO history_steam VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    list_tables="SELECT tablename FROM pg_tables WHERE tablename LIKE 'history_points_%'",
    encode=lambda sid, t, day, price: (sid, t, price),
    decode=lambda day, t, price: (t, price),
    relative_t=False,
    ends="SELECT DISTINCT ON (series) series, t, price FROM {table} WHERE series IN ({ids}) {priced} "
         "ORDER BY series, t {order}",
    bucketed="SELECT DISTINCT ON (series, {bucket}) series, t, price FROM {table} WHERE series IN ({ids}) "
             "AND t BETWEEN ? AND ? ORDER BY series, {bucket}, t DESC",
)


def schema(d: Dialect) -> list[str]:
    steam_key = "BIGINT" if d is POSTGRES else "INTEGER"
    body = "BYTEA" if d is POSTGRES else "BLOB"
    serial = "SERIAL" if d is POSTGRES else "INTEGER"
    return [
        f"CREATE TABLE IF NOT EXISTS {d.series} (id {serial} PRIMARY KEY, market_id TEXT NOT NULL, "
        "outcome INTEGER NOT NULL, book TEXT NOT NULL, UNIQUE (market_id, outcome, book))",
        f"CREATE TABLE IF NOT EXISTS {d.steam} (id TEXT PRIMARY KEY, market_id TEXT NOT NULL, t {steam_key} NOT NULL, "
        f"body {body} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {d.steam}_market ON {d.steam} (market_id, t)",
    ]


@define
class Known:
    """What a store knows it has written: series ids and the day tables that exist (committed only)."""

    series: dict[tuple[str, int, str], int] = field(factory=dict)
    tables: set[int] = field(factory=set)
    written: int = 0
    dropped: set[int] = field(factory=set)
    """In a write's result: the day tables it dropped."""

    def committed(self, made: Known) -> None:
        """A write's transaction committed: what it made is now known."""
        self.series.update(made.series)
        self.tables |= made.tables
        self.tables -= made.dropped
        self.written += made.written


def load(d: Dialect) -> Plan[Known]:
    def steps() -> Steps[Known]:
        series = yield Rows(f"SELECT id, market_id, outcome, book FROM {d.series}")
        tables = yield Rows(d.list_tables)
        return Known({(m, o, b): int(i) for i, m, o, b in series}, d.days(tables))

    return Plan(steps(), False)


def write(items: Sequence[Item], known: Known, days_kept: int, d: Dialect) -> Plan[Known]:
    """Everything queued, in one transaction; returns what it created (series, day tables, points written)."""

    def steps() -> Steps[Known]:
        made = Known()
        for kind, payload in items:
            if kind == "points":
                yield from _points(payload, known, made, d)
            elif kind == "steam":
                yield Many(d.insert_steam, tuple(payload))
            elif kind == "prune":
                made.dropped |= yield from _prune(payload, days_kept, d)
                made.tables -= made.dropped
        return made

    return Plan(steps(), True)


def _points(rows: Sequence[PointRow], known: Known, made: Known, d: Dialect) -> Steps[None]:
    by_day: dict[int, list[tuple[Any, ...]]] = {}
    for market_id, outcome, book, t, price in rows:
        key = (market_id, outcome, book)
        sid = known.series.get(key) or made.series.get(key)
        if sid is None:
            row = yield Row(f"INSERT INTO {d.series} (market_id, outcome, book) VALUES (?, ?, ?) "
                            "ON CONFLICT (market_id, outcome, book) DO UPDATE SET book = excluded.book RETURNING id", key)
            sid = made.series[key] = int(row[0])
        day = day_of(t)
        by_day.setdefault(day, []).append(d.encode(sid, t, day, price))
    for day, points in by_day.items():
        if (day not in known.tables or day in made.dropped) and day not in made.tables:
            yield Execute(d.day_table_ddl.format(table=d.table(day)))
            made.tables.add(day)
        yield Many(d.insert_points.format(table=d.table(day)), tuple(points))
        made.written += len(points)


def _prune(now_ms: int, days_kept: int, d: Dialect) -> Steps[set[int]]:
    """Whole days older than the retention go; steam rows by time."""
    cutoff = now_ms - days_kept * DAY_MS
    dropped = set()
    for day in sorted(d.days((yield Rows(d.list_tables)))):
        if (day + 1) * DAY_MS <= cutoff:
            yield Execute(f"DROP TABLE IF EXISTS {d.table(day)}")
            dropped.add(day)
    yield Execute(f"DELETE FROM {d.steam} WHERE t < ?", (cutoff,))
    return dropped


def query(market_id: str, book: str | None, lo: int, hi: int, buckets: int, d: Dialect,
          budget: int = 0) -> Plan[Found]:
    """Points in [lo, hi] per series (at most the last of each of ``buckets`` equal slices of it where a series
    has more points than that, bucketed in SQL on both stores), each series' first priced and last point, and
    the steam in [lo, hi].  ``budget``: at most that many points over all series (each its share), so a
    market with many series never brings hundreds of thousands of rows into Python to drop most of them."""

    def steps() -> Steps[Found]:
        rows = yield Rows(f"SELECT id, market_id, outcome, book FROM {d.series} WHERE market_id = ? "
                          "AND (CAST(? AS TEXT) IS NULL OR book = ?)", (market_id, book, book))
        keys = {int(i): SeriesKey(m, o, b) for i, m, o, b in rows}
        share = max(1, budget // len(keys)) if budget and keys else 0
        cap = min(buckets, share) if buckets and share else buckets or share
        series: dict[SeriesKey, list[Point]] = {}
        opening: dict[SeriesKey, Point] = {}
        current: dict[SeriesKey, Point] = {}
        if keys:
            days = sorted(d.days((yield Rows(d.list_tables))))
            spans = [day for day in days if day * DAY_MS + DAY_MS > lo and day * DAY_MS <= hi]
            by_id = yield from _ranged(keys, spans, lo, hi, cap, d)
            series.update((keys[sid], points) for sid, points in by_id.items())
            yield from _ends(keys, days, opening, True, d)
            yield from _ends(keys, list(reversed(days)), current, False, d)
        steam = yield Rows(f"SELECT body FROM {d.steam} WHERE market_id = ? AND t BETWEEN ? AND ? ORDER BY t",
                           (market_id, lo, hi))
        return series, opening, current, [bytes(r[0]) for r in steam]

    return Plan(steps(), False)


def _window(day: int, lo: int, hi: int, d: Dialect) -> tuple[int, int]:
    base = day * DAY_MS if d.relative_t else 0
    return max(0, lo - base), hi - base


def _ranged(keys: dict[int, SeriesKey], days: list[int], lo: int, hi: int, buckets: int,
            d: Dialect) -> Steps[dict[int, list[Point]]]:
    ids = ",".join(map(str, keys))
    dense: set[int] = set()
    if buckets:
        counts: dict[int, int] = {}
        for day in days:
            for sid, n in (yield Rows(f"SELECT series, COUNT(*) FROM {d.table(day)} WHERE series IN ({ids}) "
                                      "AND t BETWEEN ? AND ? GROUP BY series", _window(day, lo, hi, d))):
                counts[sid] = counts.get(sid, 0) + n
        dense = {sid for sid, n in counts.items() if n > buckets}
    width = max(1, hi - lo + 1)
    by_id: dict[int, list[Point]] = {}
    for day in days:
        shift = (day * DAY_MS if d.relative_t else 0) - lo
        sparse = [i for i in keys if i not in dense]
        statements = [(sparse, f"SELECT series, t, price FROM {d.table(day)} WHERE series IN ({{ids}}) "
                               "AND t BETWEEN ? AND ? ORDER BY series, t")]
        if dense:  # the last point of each bucket
            bucket = f"((t + {shift}) * {buckets}) / {width}"
            statements.append((sorted(dense), d.bucketed.format(table=d.table(day), ids="{ids}", bucket=bucket)))
        for chosen, sql in statements:
            if not chosen:
                continue
            for sid, t, price in (yield Rows(sql.format(ids=",".join(map(str, chosen))), _window(day, lo, hi, d))):
                by_id.setdefault(sid, []).append(d.decode(day, t, price))
    return by_id


def _ends(keys: dict[int, SeriesKey], days: list[int], into: dict[SeriesKey, Point], first: bool,
          d: Dialect) -> Steps[None]:
    """Each series' first priced point (``first``) or last point, over the day tables in the order given."""
    agg, order, priced = ("MIN", "", "AND price IS NOT NULL") if first else ("MAX", "DESC", "")
    for day in days:
        missing = [i for i in keys if keys[i] not in into]
        if not missing:
            return
        for sid, t, price in (yield Rows(d.ends.format(agg=agg, order=order, table=d.table(day),
                                                       ids=",".join(map(str, missing)), priced=priced))):
            into[keys[sid]] = d.decode(day, t, price)
