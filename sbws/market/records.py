"""The normalized records every feed produces and the market state consumes.

A feed yields ``Batch`` values.  A batch may declare events and markets
(``engine.markets.MarketKey``: market identity has one definition), carry
quotes (decimal prices, outcome index as in ``engine.markets.outcomes_for``),
declare and quote the runners of outrights (a runner is known by its id,
``engine.markets.runner_id`` of its name unless the source has its own), close
markets, report results for settlement and report sportsbook status.
"""

from __future__ import annotations

from typing import Any

import orjson
from attrs import asdict, field, frozen

from engine.board import BACK, Quote
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
    title: str = ""
    """An event that is not one side against another (a tournament, a race, a season) is known by its title."""

    @property
    def description(self) -> str:
        if self.title:
            return self.title
        return f"{self.home} vs {self.away}" if self.three_way else f"{self.away} @ {self.home}"


@frozen
class Runner:
    """One runner of an outright, declared before or with its first quote; its name is for display."""

    market_id: str
    id: str
    name: str


@frozen
class RunnerQuote:
    """One book's decimal price for one runner of an outright, to back (default) or to lay it; NaN or <= 1
    withdraws it."""

    market_id: str
    runner: str
    book: str
    price: float
    ts: float
    side: str = BACK


OPEN_STATUS, SUSPENDED_STATUS = "open", "suspended"

Ladder = tuple[tuple[float, float], ...]
"""(price, size) levels, best first."""


def _ladder(items: Any) -> Ladder:
    return tuple((float(p), float(s)) for p, s in items)


@frozen
class ExchangeState:
    """What an exchange says of one of its markets beyond prices: suspended or open, in play, its bet delay."""

    market_id: str
    status: str = OPEN_STATUS
    in_play: bool = False
    bet_delay: int = 0


@frozen
class Depth:
    """An exchange's ladder for one selection (its id: an outcome's or a runner's), best first each side, with
    the last traded price and the volume traded."""

    market_id: str
    selection: str
    book: str
    back: Ladder = field(default=(), converter=_ladder)
    lay: Ladder = field(default=(), converter=_ladder)
    last_traded: float | None = None
    traded: float | None = None


def _rates(items: Any) -> tuple[tuple[str, float], ...]:
    return tuple((str(book), float(rate)) for book, rate in items)


def _placing(items: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in items)


@frozen
class EventResult:
    """How an event ended: the score of a match, or for an outright's event the runners in finishing order
    (as far as the places paid: a place market of k winners settles on the first k)."""

    event_id: str
    home_score: int = 0
    away_score: int = 0
    placing: tuple[str, ...] = field(default=(), converter=_placing)
    commission: tuple[tuple[str, float], ...] = field(default=(), converter=_rates)
    """(exchange, rate) where the source says the event's commission (Betfair's ``marketBaseRate``); it overrides
    ``--commission`` for the event's settlement."""


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


def _runners(items: Any) -> tuple[Runner, ...]:
    return tuple(i if isinstance(i, Runner) else Runner(**i) for i in items)


def _runner_quotes(items: Any) -> tuple[RunnerQuote, ...]:
    return tuple(i if isinstance(i, RunnerQuote) else RunnerQuote(**i) for i in items)


def _results(items: Any) -> tuple[EventResult, ...]:
    return tuple(i if isinstance(i, EventResult) else EventResult(**i) for i in items)


def _exchange(items: Any) -> tuple[ExchangeState, ...]:
    return tuple(i if isinstance(i, ExchangeState) else ExchangeState(**i) for i in items)


def _depth(items: Any) -> tuple[Depth, ...]:
    return tuple(i if isinstance(i, Depth) else Depth(**i) for i in items)


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
    runners: tuple[Runner, ...] = field(default=(), converter=_runners)
    runner_quotes: tuple[RunnerQuote, ...] = field(default=(), converter=_runner_quotes)
    exchange: tuple[ExchangeState, ...] = field(default=(), converter=_exchange)
    depth: tuple[Depth, ...] = field(default=(), converter=_depth)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_json(cls, line: bytes | str) -> Batch:
        return cls(**orjson.loads(line))
