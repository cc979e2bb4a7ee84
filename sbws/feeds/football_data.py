"""Reader for football-data.co.uk season CSV files.

The header decides what is read: for every known bookmaker code present,
1X2 (``B365H/D/A``), Over/Under 2.5 (``B365>2.5``/``B365<2.5``) and Asian
handicap (``AHh`` with ``B365AHH``/``B365AHA``), each as opening odds and,
with a ``C`` after the code, closing odds.  ``Max``/``Avg`` columns are
aggregates across the market, not bookmakers, and are never used: an
"arbitrage" against the market maximum is not one anybody could bet.
Asian handicaps on quarter lines (x.25, x.75) split the stake over two lines
and do not pay level, so they are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import structlog
from attrs import frozen

from engine.markets import MONEYLINE, SPREAD, TOTAL

from ..errors import FeedError

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
PHASES = ("opening", "closing")


@frozen
class PricedMarket:
    market_type: str
    line: float | None
    three_way: bool
    prices: tuple[dict[str, float], ...]
    """One {bookmaker: decimal price} per outcome, in engine outcome order."""


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


def _price(row: dict[str, str], column: str) -> float | None:
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 1.0 else None


def _collect(row: dict[str, str], columns: list[tuple[str, str]]) -> dict[str, float]:
    """Prices per bookmaker; when two codes map to one book (PS and P) the first present wins."""
    out: dict[str, float] = {}
    for code, column in columns:
        price = _price(row, column)
        if price is not None and BOOKMAKERS[code] not in out:
            out[BOOKMAKERS[code]] = price
    return out


def _line(row: dict[str, str], column: str) -> float | None:
    raw = (row.get(column) or "").strip()
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%Y-%m-%d")
"""Dates as football-data.co.uk writes them (two- and four-digit years) and as copies in circulation do."""


def parse_kickoff(date: str, time_: str = "") -> datetime:
    """The kickoff in UTC; the time of day is optional (older seasons have none)."""
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(date, fmt)
        except ValueError:
            continue
        if time_.strip():
            try:
                clock = datetime.strptime(time_.strip(), "%H:%M")
            except ValueError:
                raise FeedError(f"unreadable time {time_!r}") from None
            day = day.replace(hour=clock.hour, minute=clock.minute)
        return day.replace(tzinfo=timezone.utc)
    raise FeedError(f"unreadable date {date!r}; expected dd/mm/yy, dd/mm/yyyy, dd-mm-yyyy, dd-mm-yy or yyyy-mm-dd")


def read_season(path: str | Path, strict: bool = False) -> list[Match]:
    """Every match of one season file.  A row that cannot be read is skipped with a warning naming
    file and line (``strict``: it stops the read with ``FeedError`` instead)."""
    path = Path(path)
    matches = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = set(reader.fieldnames or ())
        layout = {phase: _layout(header, "C" if phase == "closing" else "") for phase in PHASES}
        for row in reader:
            try:
                match = _match(path.stem, row, layout)
            except FeedError as exc:
                if strict:
                    raise FeedError(f"{path}:{reader.line_num}: {exc}") from None
                log.warning("row_skipped", file=str(path), line=reader.line_num, reason=str(exc))
                continue
            if match is not None:
                matches.append(match)
    return matches


def _layout(header: set[str], c: str) -> dict[str, list[list[tuple[str, str]]]]:
    def cols(suffixes: tuple[str, ...]) -> list[list[tuple[str, str]]]:
        return [[(code, f"{code}{c}{s}") for code in BOOKMAKERS if f"{code}{c}{s}" in header] for s in suffixes]

    return {"1x2": cols(("H", "D", "A")), "ou": cols((">2.5", "<2.5")), "ah": cols(("AHH", "AHA"))}


def _match(source: str, row: dict[str, str], layout: dict[str, dict[str, list[list[tuple[str, str]]]]]) -> Match | None:
    home, away, date = (row.get("HomeTeam") or "").strip(), (row.get("AwayTeam") or "").strip(), (row.get("Date") or "").strip()
    if not home or not away or not date:
        return None
    kickoff = parse_kickoff(date, row.get("Time") or "")
    day = kickoff.date().isoformat()
    digest = hashlib.blake2b(f"{source}|{day}|{home}|{away}".encode(), digest_size=5).hexdigest()
    phases: dict[str, tuple[PricedMarket, ...]] = {}
    for phase in PHASES:
        cols = layout[phase]
        markets = [PricedMarket(MONEYLINE, None, True, tuple(_collect(row, c) for c in cols["1x2"]))]
        if cols["ou"][0]:
            markets.append(PricedMarket(TOTAL, 2.5, False, tuple(_collect(row, c) for c in cols["ou"])))
        ah_line = _line(row, "AHCh" if phase == "closing" else "AHh")
        if ah_line is not None and cols["ah"][0] and (ah_line * 2) == int(ah_line * 2):
            markets.append(PricedMarket(SPREAD, ah_line, False, tuple(_collect(row, c) for c in cols["ah"])))
        phases[phase] = tuple(m for m in markets if any(m.prices))
    goals = (row.get("FTHG") or "").strip(), (row.get("FTAG") or "").strip()
    return Match(
        id=f"fd-{digest}",
        date=day,
        kickoff_ms=int(kickoff.timestamp() * 1000),
        home=home,
        away=away,
        home_goals=int(goals[0]) if goals[0].isdigit() else None,
        away_goals=int(goals[1]) if goals[1].isdigit() else None,
        phases=phases,
    )


def iter_seasons(paths: list[str]) -> Iterator[Match]:
    for p in paths:
        yield from read_season(p)
