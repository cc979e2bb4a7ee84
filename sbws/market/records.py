"""The normalized records every feed produces and the market state consumes.

A feed yields ``Batch`` values.  A batch may declare events and markets
(``engine.markets.MarketKey``: market identity has one definition), carry
quotes (decimal prices, outcome index as in ``engine.markets.outcomes_for``),
close markets, report results for settlement and report sportsbook status.
"""

from __future__ import annotations

from typing import Any

import orjson
from attrs import asdict, field, frozen

from engine.board import Quote
from engine.markets import MarketKey

ONLINE, DEGRADED, OFFLINE = "online", "degraded", "offline"


@frozen
class EventInfo:
    id: str
    sport: str
    league: str
    home: str
    away: str
    start_ms: int
    three_way: bool = False

    @property
    def description(self) -> str:
        return f"{self.home} vs {self.away}" if self.three_way else f"{self.away} @ {self.home}"


@frozen
class EventResult:
    event_id: str
    home_score: int
    away_score: int


@frozen
class BookStatus:
    id: str
    name: str
    status: str = ONLINE
    response_time_ms: int = 0
    last_update_ms: int = 0
    quota_remaining: int | None = None


def _events(items: Any) -> tuple[EventInfo, ...]:
    return tuple(i if isinstance(i, EventInfo) else EventInfo(**i) for i in items)


def _markets(items: Any) -> tuple[MarketKey, ...]:
    return tuple(i if isinstance(i, MarketKey) else MarketKey(**i) for i in items)


def _quotes(items: Any) -> tuple[Quote, ...]:
    return tuple(i if isinstance(i, Quote) else Quote(**i) for i in items)


def _results(items: Any) -> tuple[EventResult, ...]:
    return tuple(i if isinstance(i, EventResult) else EventResult(**i) for i in items)


def _statuses(items: Any) -> tuple[BookStatus, ...]:
    return tuple(i if isinstance(i, BookStatus) else BookStatus(**i) for i in items)


def _strings(items: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in items)


@frozen
class Batch:
    ts: float
    events: tuple[EventInfo, ...] = field(default=(), converter=_events)
    markets: tuple[MarketKey, ...] = field(default=(), converter=_markets)
    quotes: tuple[Quote, ...] = field(default=(), converter=_quotes)
    closed: tuple[str, ...] = field(default=(), converter=_strings)
    results: tuple[EventResult, ...] = field(default=(), converter=_results)
    statuses: tuple[BookStatus, ...] = field(default=(), converter=_statuses)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_json(cls, line: bytes | str) -> Batch:
        return cls(**orjson.loads(line))
