"""Betfair Exchange files: ``--feed betfair:FILE[,FILE...]`` replays stream / historical data files.

One ``mcm`` message per line, plain, ``.gz`` or ``.bz2`` (the format Betfair
sells its historical data in), applied to ``betfair_stream.MarketCache`` and
paced by the messages' ``pt`` times over ``--replay-speed`` (1 real time, 0 as
fast as possible); times are shifted so the first message is now.

Mapping: a Betfair market is an outright of its own (its id, ``1.197931750``,
is the market's and the event's id; ``numberOfWinners`` its winners); a
runner's id is its selection id as a string, so a name arriving late (from a
later definition, or ``--betfair-catalogue``) changes only the display name.
Each runner is quoted at book ``betfair`` at its best price to back and its
best price to lay, with its ladder (``--depth`` levels each side, the last
traded price, the volume traded), and the market's status (suspended, in
play, bet delay); a removed runner, or every runner of a suspended market,
is withdrawn.  A ``CLOSED`` market closes, and its WINNER and PLACED runners
(by sort order) settle its bets, at its ``marketBaseRate`` of commission.
"""

from __future__ import annotations

import asyncio
import bz2
import gzip
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from engine.board import BACK, LAY
from engine.markets import OUTRIGHT, MarketKey

from ..clock import iso_ms
from ..errors import ConfigError
from ..market.records import (ONLINE, OPEN_STATUS, SUSPENDED_STATUS, Batch, BookStatus, Depth, EventInfo, EventResult,
                              ExchangeState, Runner, RunnerQuote)
from .base import NO_QUOTA
from .betfair_stream import CLOSED, OPEN, PLACED, REMOVED, SUSPENDED, WINNER, MarketBook, MarketCache

BOOK = "betfair"
SPORTS = {"1": "Soccer", "2": "Tennis", "4": "Cricket", "7": "Horse Racing", "7522": "Basketball",
          "4339": "Greyhound Racing", "6423": "American Football", "7511": "Baseball", "7524": "Ice Hockey"}
"""Betfair event type ids → sport names (others are "Betfair <id>")."""


def _open(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    if path.suffix == ".bz2":
        return cast(BinaryIO, bz2.open(path, "rb"))
    return path.open("rb")


def read_catalogue(path: str) -> dict[str, dict[str, Any]]:
    """A market catalogue JSON (one market or a list of them) by market id."""
    try:
        body = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"--betfair-catalogue {path}: {exc}") from None
    entries = body if isinstance(body, list) else [body]
    return {str(e["marketId"]): e for e in entries if isinstance(e, dict) and "marketId" in e}


class Mapper:
    """The pure part: a message in, the batch it means out; ``when`` turns a Betfair time (epoch ms) into the
    replay's (epoch seconds)."""

    def __init__(self, catalogue: Mapping[str, Mapping[str, Any]] | None = None, depth: int = 3) -> None:
        self.cache = MarketCache()
        self.depth = depth
        self.states: dict[str, ExchangeState] = {}
        self.ladders: dict[tuple[str, str], Depth] = {}
        self.catalogue = catalogue or {}
        self.declared: dict[str, int] = {}
        """Markets declared, with their winners (a change re-declares them)."""
        self.named: set[tuple[str, str]] = set()
        self.quoted: dict[tuple[str, str, str], float] = {}
        self.settled: set[str] = set()

    def batch(self, message: Mapping[str, Any], when: Callable[[int], float]) -> Batch:
        ts = when(int(message.get("pt", 0)))
        events, markets, runners, quotes, closed, results = [], [], [], [], [], []
        states: list[ExchangeState] = []
        ladders: list[Depth] = []
        touched = {str(mc["id"]): {int(rc["id"]) for rc in mc.get("rc") or ()} for mc in message.get("mc") or ()}
        for market_id in self.cache.apply(message):
            book = self.cache.markets[market_id]
            key = MarketKey(market_id, OUTRIGHT, winners=int(book.definition.get("numberOfWinners", 1) or 1),
                            own_id=True)
            if self.declared.get(market_id) != key.winners:
                self.declared[market_id] = key.winners
                events.append(self._event(book, when))
                markets.append(key)
            runners += self._runners(book)
            quotes += self._quotes(book, ts)
            state = ExchangeState(market_id, SUSPENDED_STATUS if book.status == SUSPENDED else OPEN_STATUS,
                                  bool(book.definition.get("inPlay", False)), int(book.definition.get("betDelay", 0) or 0))
            if book.status != CLOSED and self.states.get(market_id) != state:
                self.states[market_id] = state
                states.append(state)
            for selection in touched.get(market_id, ()):
                ladders += self._ladder(book, selection)
            if book.status == CLOSED and market_id not in self.settled:
                self.settled.add(market_id)
                closed.append(market_id)
                placing = [str(r.selection_id) for r in sorted(book.runners.values(), key=lambda r: r.sort_priority)
                           if r.status in (WINNER, PLACED)]
                if placing:
                    rate = book.definition.get("marketBaseRate")
                    results.append(EventResult(market_id, placing=placing,
                                               commission=[] if rate is None else [(BOOK, float(rate) / 100.0)]))
        return Batch(ts, events, markets, (), closed, results, (), runners, quotes, states, ladders)

    def _ladder(self, book: MarketBook, selection: int) -> list[Depth]:
        runner = book.runners[selection]
        depth = Depth(book.market_id, str(selection), BOOK, runner.ladder(BACK, self.depth),
                      runner.ladder(LAY, self.depth), runner.ltp, runner.tv)
        if self.ladders.get((book.market_id, depth.selection)) == depth:
            return []
        self.ladders[(book.market_id, depth.selection)] = depth
        return [depth]

    def _event(self, book: MarketBook, when: Callable[[int], float]) -> EventInfo:
        definition, listed = book.definition, self.catalogue.get(book.market_id, {})
        venue = definition.get("venue") or listed.get("event", {}).get("venue") or definition.get("countryCode") or ""
        name = listed.get("marketName") or definition.get("marketType") or "market"
        event_type = str(definition.get("eventTypeId", ""))
        when_iso = definition.get("marketTime") or listed.get("marketStartTime")
        start = iso_ms(when_iso) if when_iso else 0
        return EventInfo(book.market_id, SPORTS.get(event_type, f"Betfair {event_type}"), str(venue or "Betfair"),
                         "", "", int(when(start) * 1000) if start else 0, title=f"{venue} {name}".strip())

    def _runners(self, book: MarketBook) -> list[Runner]:
        listed = {str(r.get("selectionId")): r.get("runnerName") for r in
                  self.catalogue.get(book.market_id, {}).get("runners", ())}
        out = []
        for runner in sorted(book.runners.values(), key=lambda r: r.sort_priority):
            rid = str(runner.selection_id)
            name = runner.name or listed.get(rid) or ""
            if name and (book.market_id, rid) not in self.named:
                self.named.add((book.market_id, rid))
                out.append(Runner(book.market_id, rid, name))
        return out

    def _quotes(self, book: MarketBook, ts: float) -> list[RunnerQuote]:
        out = []
        for runner in book.runners.values():
            for side in (BACK, LAY):
                best = runner.best(side)
                price = best[0] if best is not None and book.status == OPEN and runner.status != REMOVED else 0.0
                cell = (book.market_id, str(runner.selection_id), side)
                if self.quoted.get(cell, 0.0) != price:
                    self.quoted[cell] = price
                    out.append(RunnerQuote(book.market_id, cell[1], BOOK, price, ts, side))
        return out


class BetfairFiles:
    name = "betfair"
    quota = NO_QUOTA

    def __init__(self, paths: list[str], speed: float = 1.0, catalogue: str | None = None, depth: int = 3) -> None:
        self.paths = [Path(p) for p in paths]
        for path in self.paths:
            if not path.is_file():
                raise ConfigError(f"--feed betfair: no such file {path}")
        self.speed = speed
        self.mapper = Mapper(read_catalogue(catalogue) if catalogue else None, depth)

    def messages(self) -> Iterator[dict[str, Any]]:
        for path in self.paths:
            with _open(path) as handle:
                for line in handle:
                    if line.strip():
                        yield orjson.loads(line)

    def is_healthy(self, now: float) -> bool:
        return True

    async def batches(self) -> AsyncIterator[Batch]:
        yield Batch(time.time(), statuses=[BookStatus(BOOK, "Betfair Exchange", ONLINE)])
        started = time.time()
        first: int | None = None
        pace = self.speed if self.speed > 0 else 1.0  # as fast as possible: times keep their real spacing

        def when(pt: int) -> float:
            return started + (pt - (first or pt)) / 1000.0 / pace

        for message in self.messages():
            pt = int(message.get("pt", 0))
            if first is None:
                first = pt
            if self.speed > 0:
                await asyncio.sleep(max(0.0, when(pt) - time.time()))
            yield self.mapper.batch(message, when)
