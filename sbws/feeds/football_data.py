"""Reader for football-data.co.uk season files, in both of its layouts, as they come.

The header decides, per file (``docs/feeds.md`` lists every accepted layout):

* **main** (``Div, Date, [Time], HomeTeam, AwayTeam, FTHG, FTAG, FTR, …``): per
  bookmaker code X, 1X2 ``XH/XD/XA``, over/under 2.5 ``X>2.5/X<2.5`` and
  Asian handicap ``XAHH/XAHA`` on the line ``AHh`` (older files: the book's
  own ``XAH``, or ``BbAHh``); a ``C`` after the code marks closing odds
  (``XCH``, ``XC>2.5``, ``XCAHH`` on ``AHCh``).
* **extra leagues** (``Country, League, Season, Date, Time, Home, Away, HG,
  AG, Res, PH/PD/PA, Max…, Avg…`` and closing ``PSCH…``, ``MaxCH…``,
  ``B365CH…``, ``BFECH…``): many seasons per file.

A code in ``BOOKMAKERS`` is that book; any other code with a full set of
columns is a book named by its code in lower case.  ``Max``, ``Avg``,
``BbMx`` and ``BbAv`` are aggregates across the market, never books: an
"arbitrage" against the market maximum is not one anybody could bet.  In the
extra-leagues layout, where Pinnacle is the only named book at the opening,
the maximum is kept as the pseudo-book ``max`` (``PricedMarket.pseudo``) for
the value strategy alone.  Asian handicaps on quarter lines split the stake
over two lines and do not pay level, so they are skipped.

A file is read whatever its encoding (``text.decode_lines``); a row that
cannot be used is counted under its reason and skipped (``strict``: the first
stops the read); a file that cannot be used at all says why in
``Season.problem``.  Nothing here raises on bad input but ``FeedError`` in
strict mode.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import structlog
from attrs import Factory, define, frozen

from engine.markets import MONEYLINE, SPREAD, TOTAL

from ..errors import FeedError
from .text import decode_lines

log = structlog.get_logger("sbws.feeds.football_data")

BOOKMAKERS = {
    "B365": "bet365",
    "BW": "betwin",
    "IW": "interwetten",
    "PS": "pinnacle",
    "P": "pinnacle",
    "WH": "williamhill",
    "VC": "vcbet",
    "LB": "ladbrokes",
    "1XB": "1xbet",
    "BV": "betvictor",
    "CL": "coral",
    "GB": "gamebookers",
    "SJ": "stanjames",
    "SB": "sportingbet",
    "BS": "bluesquare",
    "SO": "sportingodds",
    "BF": "betfair_sportsbook",
    "BFE": "betfair",
}
DIVISIONS = {
    "E0": "EPL", "E1": "Championship", "E2": "League One", "E3": "League Two", "EC": "National League",
    "SC0": "Scottish Premiership", "SC1": "Scottish Championship", "SC2": "Scottish League One",
    "SC3": "Scottish League Two", "D1": "Bundesliga", "D2": "2. Bundesliga", "I1": "Serie A", "I2": "Serie B",
    "SP1": "La Liga", "SP2": "Segunda Division", "F1": "Ligue 1", "F2": "Ligue 2", "N1": "Eredivisie",
    "B1": "Jupiler League", "P1": "Primeira Liga", "T1": "Super Lig", "G1": "Super League Greece",
}
"""The main layout's ``Div`` codes as leagues are named; any other code is its own name."""
AGGREGATES = ("Max", "Avg", "BbMx", "BbAv")
PSEUDO_BOOK = "max"
"""The market maximum of the extra-leagues layout: a real price at some unnamed book (value strategy only)."""
PHASES = ("opening", "closing")
MAIN, EXTRA = "main", "extra-leagues"
CONVENTIONS = {
    MAIN: "named bookmakers only; Max and Avg columns are aggregates and never used",
    EXTRA: "Pinnacle and the other named bookmakers; the market maximum (Max) is the pseudo-book 'max' for the "
           "value strategy only, never a leg of an arbitrage",
}
COLUMNS = {
    MAIN: {"home": "HomeTeam", "away": "AwayTeam", "home_goals": "FTHG", "away_goals": "FTAG", "result": "FTR",
           "league": "Div"},
    EXTRA: {"home": "Home", "away": "Away", "home_goals": "HG", "away_goals": "AG", "result": "Res",
            "league": "League", "country": "Country", "season": "Season"},
}
FAMILIES = {"1x2": ("H", "D", "A"), "ou": (">2.5", "<2.5"), "ah": ("AHH", "AHA")}
CODE = re.compile(r"^[A-Za-z0-9]{1,8}$")
TIME = re.compile(r"^(\d{1,2})(?:([:.])(\d{1,2}))?(?::\d{2})?$")
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%Y-%m-%d")
"""Dates as football-data.co.uk writes them (two- and four-digit years) and as copies in circulation do."""


@frozen
class PricedMarket:
    market_type: str
    line: float | None
    three_way: bool
    prices: tuple[dict[str, float], ...]
    """One {bookmaker: decimal price} per outcome, in engine outcome order."""
    pseudo: tuple[dict[str, float], ...] = ()
    """The same for pseudo-books (``max``): prices at some book, for the value strategy, never an arbitrage leg."""


@frozen
class Match:
    id: str
    date: str
    """ISO 8601 (YYYY-MM-DD), whatever the file wrote."""
    kickoff_ms: int
    home: str
    away: str
    home_goals: int | None
    away_goals: int | None
    phases: dict[str, tuple[PricedMarket, ...]]
    result: str | None = None
    """H, D or A: from the score, or from FTR/Res alone when the score is missing; None for a fixture."""
    season: str = ""
    league: str = ""

    def score(self, market_type: str) -> tuple[int, int] | None:
        """The score to settle a market with: the real one, or for a 1X2 market a stand-in with the result."""
        if self.home_goals is not None and self.away_goals is not None:
            return self.home_goals, self.away_goals
        if market_type == MONEYLINE and self.result is not None:
            return {"H": (1, 0), "D": (0, 0), "A": (0, 1)}[self.result]
        return None


@frozen
class Source:
    """One code's columns for one market family and phase."""

    code: str
    book: str
    columns: tuple[str, ...]
    pseudo: bool = False
    line_column: str | None = None
    """Asian handicap: the book's own line column (older files), else the file's common line."""


@define
class Season:
    """What one file gave: its matches, and everything about how it was read."""

    path: str
    layout: str | None = None
    encoding: str | None = None
    problem: str | None = None
    """Why the file could not be used at all (missing, a directory, empty, not a season file)."""
    matches: list[Match] = Factory(list)
    rows: int = 0
    fixtures: int = 0
    """Matches with no result: priced, not settled."""
    skipped: Counter[str] = Factory(Counter)
    """Rows not used, per reason."""
    ignored: Counter[str] = Factory(Counter)
    """Prices not used (non-numeric, <= 1), per reason."""
    notes: list[str] = Factory(list)
    first_skip: str | None = None
    untimed: int = 0
    """Matches whose kick-off time could not be read: they keep their date alone."""

    def skip(self, line: int, reason: str, strict: bool) -> None:
        if strict:
            raise FeedError(f"{self.path}:{line}: {reason}")
        self.skipped[_reason_kind(reason)] += 1
        if self.first_skip is None:
            self.first_skip = f"line {line}: {reason}"
        log.warning("row_skipped", file=self.path, line=line, reason=reason)

    def report(self) -> dict[str, Any]:
        seasons: Counter[str] = Counter(m.season for m in self.matches)
        return {
            "file": self.path, "layout": self.layout, "encoding": self.encoding, "problem": self.problem,
            "convention": CONVENTIONS.get(self.layout or ""), "rows": self.rows, "matches": len(self.matches),
            "fixtures": self.fixtures, "seasons": dict(sorted(seasons.items())), "skipped": dict(self.skipped),
            "ignoredPrices": dict(self.ignored), "notes": list(self.notes),
        }


def _reason_kind(reason: str) -> str:
    """The reason without the row's own value ("unreadable date '31/02/2023'" counts as "unreadable date")."""
    return re.split(r" '| \(", reason, maxsplit=1)[0]


# -- times and dates ------------------------------------------------------------------------------------
def parse_time(text: str) -> tuple[int, int] | None:
    """``HH:MM``, ``H:MM``, and a spreadsheet's ``HH``, ``HH.M`` and ``HH.MM`` (17.3 is 17:30, 20.15 is 20:15)."""
    m = TIME.match(text.strip())
    if m is None:
        return None
    hour, separator, minutes = int(m[1]), m[2], m[3]
    if minutes is None:
        minute = 0
    elif separator == "." and len(minutes) == 1:
        minute = int(minutes) * 10
    elif len(minutes) == 2:
        minute = int(minutes)
    else:
        return None
    return (hour, minute) if hour < 24 and minute < 60 else None


def parse_day(date: str) -> datetime:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(date.strip(), fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise FeedError(f"unreadable date {date!r}; expected dd/mm/yy, dd/mm/yyyy, dd-mm-yyyy, dd-mm-yy or yyyy-mm-dd")


def parse_kickoff(date: str, time_: str = "") -> datetime:
    """The kickoff in UTC; a time of day that cannot be read is an error here (``read_season`` falls back)."""
    day = parse_day(date)
    if not time_.strip():
        return day
    clock = parse_time(time_)
    if clock is None:
        raise FeedError(f"unreadable time {time_!r}")
    return day.replace(hour=clock[0], minute=clock[1])


def season_of(day: datetime) -> str:
    """A European season from a date: August 2020 to June 2021 is 2020/2021."""
    start = day.year if day.month >= 7 else day.year - 1
    return f"{start}/{start + 1}"


# -- the header ---------------------------------------------------------------------------------------
def _codes(header: Sequence[str], suffixes: tuple[str, ...]) -> list[str]:
    """Codes with a column for every suffix of a family, in header order."""
    found: dict[str, set[str]] = {}
    for column in header:
        for suffix in suffixes:
            if column.endswith(suffix) and CODE.match(column[:-len(suffix)]):
                found.setdefault(column[:-len(suffix)], set()).add(suffix)
    return [code for code, have in found.items() if len(have) == len(suffixes)]


def _phase_of(code: str, codes: list[str]) -> tuple[str, str]:
    """(phase, base code): a trailing C on a known code, an aggregate or another code of the file is closing."""
    base = code[:-1]
    if code.endswith("C") and base and (base in BOOKMAKERS or base in AGGREGATES or base in codes):
        return "closing", base
    return "opening", code


Layout = dict[str, dict[str, list[Source]]]


def _layout(header: Sequence[str], layout: str) -> Layout:
    """Per phase and family, the sources the header offers: named books first (``BOOKMAKERS`` order), then
    other codes; aggregates only as the pseudo-book of the extra-leagues layout."""
    order = {code: i for i, code in enumerate(BOOKMAKERS)}
    out: Layout = {phase: {family: [] for family in FAMILIES} for phase in PHASES}
    present = set(header)
    for family, suffixes in FAMILIES.items():
        codes = _codes(header, suffixes)
        sources: list[tuple[int, Source, str]] = []
        for code in codes:
            phase, base = _phase_of(code, codes)
            columns = tuple(code + s for s in suffixes)
            if base in AGGREGATES:
                if layout == EXTRA and base == "Max":
                    sources.append((len(order) + 1, Source(code, PSEUDO_BOOK, columns, pseudo=True), phase))
                continue
            own_line = f"{code}AH" if family == "ah" and phase == "opening" and f"{code}AH" in present else None
            book = BOOKMAKERS.get(base, base.lower())
            sources.append((order.get(base, len(order)), Source(code, book, columns, line_column=own_line), phase))
        for _rank, source, phase in sorted(sources, key=lambda s: s[0]):
            out[phase][family].append(source)
    return out


def _detect(header: Sequence[str]) -> str | None:
    names = set(header)
    if {"Home", "Away", "Date"} <= names:
        return EXTRA
    if {"HomeTeam", "AwayTeam", "Date"} <= names:
        return MAIN
    return None


# -- rows -------------------------------------------------------------------------------------------------
class Row:
    """One CSV row by column name (the first of duplicate names)."""

    def __init__(self, index: dict[str, int], cells: list[str], season: Season) -> None:
        self.index, self.cells, self.season = index, cells, season

    def text(self, column: str) -> str:
        i = self.index.get(column)
        return self.cells[i].strip() if i is not None and i < len(self.cells) else ""

    def price(self, column: str) -> float | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.season.ignored["non-numeric"] += 1
            return None
        if not (math.isfinite(value) and value > 1.0):
            self.season.ignored["odds <= 1 or not finite"] += 1
            return None
        return value

    def line(self, column: str | None) -> float | None:
        if column is None:
            return None
        try:
            value = float(self.text(column))
        except ValueError:
            return None
        return value if math.isfinite(value) and value * 2 == int(value * 2) and abs(value) < 100 else None

    def goals(self, column: str) -> int | None:
        """A score as written, or as a spreadsheet writes it (``2.0``)."""
        try:
            value = float(self.text(column))
        except ValueError:
            return None
        return int(value) if value.is_integer() and 0 <= value < 100 else None


def _prices(row: Row, sources: list[Source], pseudo: bool) -> tuple[dict[str, float], ...]:
    """Per outcome, {book: price}; when two codes name one book (PS and P) the first present wins."""
    if not sources:
        return ()
    width = len(sources[0].columns)
    out: tuple[dict[str, float], ...] = tuple({} for _ in range(width))
    for source in sources:
        if source.pseudo != pseudo:
            continue
        for o, column in enumerate(source.columns):
            price = row.price(column)
            if price is not None and source.book not in out[o]:
                out[o][source.book] = price
    return out


def _markets(row: Row, layout: Layout, phase: str) -> tuple[PricedMarket, ...]:
    families = layout[phase]
    markets: list[PricedMarket] = []
    for family, market_type, line, three_way in (("1x2", MONEYLINE, None, True), ("ou", TOTAL, 2.5, False)):
        sources = families[family]
        if sources:
            markets.append(PricedMarket(market_type, line, three_way, _prices(row, sources, False),
                                        _prices(row, sources, True)))
    common = "AHCh" if phase == "closing" else ("AHh" if "AHh" in row.index else "BbAHh")
    by_line: dict[float, list[Source]] = {}
    for source in families["ah"]:
        line = row.line(source.line_column or common)
        if line is not None:
            by_line.setdefault(line, []).append(source)
    for line, sources in sorted(by_line.items()):
        markets.append(PricedMarket(SPREAD, line, False, _prices(row, sources, False), _prices(row, sources, True)))
    return tuple(m for m in markets if any(m.prices) or any(m.pseudo))


def _match(source: str, row: Row, layout: str, sources: Layout) -> Match | None:
    names = COLUMNS[layout]
    home, away, date = row.text(names["home"]), row.text(names["away"]), row.text("Date")
    if not home and not away and not date:
        return None  # a blank line, or a spreadsheet's trailing commas
    if not home or not away:
        raise FeedError("no team names")
    day = parse_day(date)
    kickoff = day
    raw_time = row.text("Time")
    if raw_time:
        clock = parse_time(raw_time)
        if clock is not None:
            kickoff = day.replace(hour=clock[0], minute=clock[1])
        else:
            row.season.untimed += 1
    hg, ag = row.goals(names["home_goals"]), row.goals(names["away_goals"])
    stated = row.text(names["result"]).upper() or None
    if stated is not None and stated not in ("H", "D", "A"):
        raise FeedError(f"unreadable result {stated!r}")
    result = stated
    if hg is not None and ag is not None:
        result = "H" if hg > ag else "A" if ag > hg else "D"
        if stated is not None and stated != result:
            raise FeedError(f"result contradicts the score ({stated} against {hg}-{ag})")
    else:
        hg = ag = None
    phases = {phase: _markets(row, sources, phase) for phase in PHASES}
    if not any(phases.values()):
        raise FeedError("no usable odds")
    iso = day.date().isoformat()
    digest = hashlib.blake2b(f"{source}|{iso}|{home}|{away}".encode(), digest_size=5).hexdigest()
    if layout == EXTRA:
        season = row.text(names["season"]) or season_of(day)
        league = " ".join(x for x in (row.text(names["country"]), row.text(names["league"])) if x)
    else:
        division = row.text(names["league"])
        season, league = season_of(day), DIVISIONS.get(division, division)
    return Match(id=f"fd-{digest}", date=iso, kickoff_ms=int(kickoff.timestamp() * 1000), home=home, away=away,
                 home_goals=hg, away_goals=ag, phases=phases, result=result, season=season, league=league)


# -- files --------------------------------------------------------------------------------------------------
def _open(season: Season, strict: bool) -> list[str] | None:
    path = Path(season.path)
    problem = None
    if path.is_dir():
        problem = "is a directory, not a season file"
    elif not path.exists():
        problem = "no such file"
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror or exc})"
        else:
            lines, season.encoding = decode_lines(data)
            log.info("season_file", file=season.path, encoding=season.encoding)
            if any(line.strip(" ,\t") for line in lines):
                return lines
            problem = "is empty"
    season.problem = problem
    if strict:
        raise FeedError(f"{season.path}: {problem}")
    return None


def read_season(path: str | Path, strict: bool = False) -> Season:
    """Every usable match of one season file, and how the file was read."""
    season = Season(str(path))
    lines = _open(season, strict)
    if lines is None:
        return season
    reader = csv.reader(lines)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        header = []
        season.notes.append(f"unreadable header: {exc}")
    season.layout = _detect(header)
    if season.layout is None:
        season.problem = ("not a football-data.co.uk season file: its header has neither HomeTeam, AwayTeam and "
                          "Date nor Home, Away and Date")
        if strict:
            raise FeedError(f"{season.path}: {season.problem}")
        return season
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name in index:
            season.notes.append(f"duplicate column {name!r}: the first is used")
        index.setdefault(name, i)
    sources = _layout(header, season.layout)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            season.rows += 1
            season.skip(reader.line_num, f"unreadable CSV ({exc})", strict)
            continue
        season.rows += 1
        try:
            match = _match(Path(path).stem, Row(index, cells, season), season.layout, sources)
        except FeedError as exc:
            season.skip(reader.line_num, str(exc), strict)
            continue
        if match is None:
            season.rows -= 1
            continue
        season.matches.append(match)
        season.fixtures += match.result is None
    if season.untimed:
        note = "some kick-off times could not be read: those matches use their date alone"
        season.notes.append(note)
        log.warning("times_unreadable", file=season.path, detail=note)
    if season.rows == 0:
        season.problem = "has a header and no rows"
    return season


def why_nothing(seasons: Sequence[Season]) -> str | None:
    """Why a run read no usable match at all (None when it read some): the first reason met."""
    if any(s.matches for s in seasons):
        return None
    for s in seasons:
        if s.problem is not None:
            return f"{s.path} {s.problem}"
        if s.first_skip is not None:
            return f"every row was skipped ({s.path}, {s.first_skip})"
    return "no rows"


def read_seasons(paths: Sequence[str], strict: bool = False) -> list[Season]:
    """Every file's season; ``FeedError`` when none gave a usable match (a run that read nothing is an error)."""
    seasons = [read_season(p, strict) for p in paths]
    reason = why_nothing(seasons)
    if reason is not None:
        raise FeedError(f"nothing to read: {reason}")
    return seasons
