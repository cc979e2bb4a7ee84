"""Replays: recorded JSONL batches, or football-data.co.uk seasons as a compressed season.

Timestamps are rebased so the first batch happens now and the rest keep their
relative timing: quotes look fresh to the staleness filter and events that
had not started when recorded have not started in the replay either.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs

from engine.board import Quote
from engine.markets import MONEYLINE, MarketKey

from ..errors import ConfigError, FeedError
from ..market.records import ONLINE, Batch, BookStatus, EventInfo, EventResult
from .base import NO_QUOTA
from .football_data import Match, read_seasons


def rebase(batch: Batch, shift_s: float) -> Batch:
    ms = int(shift_s * 1000)
    return attrs.evolve(
        batch,
        ts=batch.ts + shift_s,
        events=tuple(attrs.evolve(e, start_ms=e.start_ms + ms) for e in batch.events),
        quotes=tuple(attrs.evolve(q, ts=q.ts + shift_s) for q in batch.quotes),
        runner_quotes=tuple(attrs.evolve(q, ts=q.ts + shift_s) for q in batch.runner_quotes),
        statuses=tuple(attrs.evolve(s, last_update_ms=s.last_update_ms + ms) for s in batch.statuses),
    )


class JsonlReplay:
    """Feeds back what ``--record`` wrote, batch for batch, at the recorded pace / speed."""

    name = "replay-jsonl"
    quota = NO_QUOTA

    def __init__(self, path: str, speed: float = 1.0, rebase_time: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"no such recording {path}")
        self.speed = speed
        self.rebase_time = rebase_time
        self.last_batch = time.time()

    def read(self) -> Iterator[Batch]:
        with self.path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield Batch.from_json(line)

    def is_healthy(self, now: float) -> bool:
        return True

    async def batches(self) -> AsyncIterator[Batch]:
        first_ts: float | None = None
        started = time.time()
        for batch in self.read():
            if first_ts is None:
                first_ts = batch.ts
            due = started + (batch.ts - first_ts) / self.speed
            await asyncio.sleep(max(0.0, due - time.time()))
            self.last_batch = time.time()
            yield rebase(batch, started - first_ts) if self.rebase_time else batch


class SeasonReplay:
    """A football-data season as a fast-forward: per match day, opening odds, closing odds, result."""

    name = "replay-season"
    quota = NO_QUOTA

    def __init__(self, paths: list[str], tick_s: float = 0.5) -> None:
        """Reads the files at once, with the backtest's reader: a file or a run that gives nothing says why."""
        for p in paths:
            if not Path(p).is_file():
                raise ConfigError(f"no such season file {p}")
        try:
            self.matches = [m for s in read_seasons(paths) for m in s.matches]
        except FeedError as exc:
            raise ConfigError(f"--feed replay: {exc}") from None
        self.paths = paths
        self.tick = tick_s

    def is_healthy(self, now: float) -> bool:
        return True

    @staticmethod
    def _day(matches: list[Match], phase: str, now: float, start_ms: int) -> Batch:
        events: list[EventInfo] = []
        specs: list[MarketKey] = []
        quotes: list[Quote] = []
        for m in matches:
            events.append(EventInfo(m.id, "Soccer", m.league or "football-data", m.home, m.away, start_ms,
                                    three_way=True))
            for market in m.phases.get(phase, ()):
                spec = MarketKey(m.id, market.market_type, market.line, market.market_type == MONEYLINE)
                specs.append(spec)
                for o, prices in enumerate(market.prices):
                    quotes.extend(Quote(spec.id, o, book, price, now) for book, price in prices.items())
        books = sorted({q.book for q in quotes})
        statuses = [BookStatus(b, b, ONLINE, 0, int(now * 1000)) for b in books]
        return Batch(now, events, specs, quotes, statuses=statuses)

    async def batches(self) -> AsyncIterator[Batch]:
        days: dict[int, list[Match]] = {}
        for m in self.matches:
            days.setdefault(m.kickoff_ms // 86_400_000, []).append(m)
        for day in sorted(days):
            matches = days[day]
            start_ms = int((time.time() + 3 * self.tick) * 1000)
            opened: set[str] = set()
            for phase in ("opening", "closing"):
                batch = self._day(matches, phase, time.time(), start_ms)
                opened |= {spec.id for spec in batch.markets}
                yield batch
                await asyncio.sleep(self.tick)
            yield Batch(time.time(), closed=sorted(opened))
            await asyncio.sleep(self.tick)
            yield Batch(time.time(), results=[
                EventResult(m.id, m.home_goals, m.away_goals)
                for m in matches if m.home_goals is not None and m.away_goals is not None
            ])
            await asyncio.sleep(self.tick)
