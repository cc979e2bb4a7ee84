"""Matching one source's markets to another's events: an exchange's match market onto a bookmaker feed's moneyline.

When ``--feed`` names several sources (``combined.py``), the first is the
primary: its events and markets are the market model.  A market of another
source is the same event's moneyline when

1. both start within ``START_TOLERANCE`` (15 minutes) of each other;
2. its runners' names, normalised (``engine.markets.runner_id``), name the
   primary event's home and away sides: each equal, or one made of the
   other's words plus more ("fc-barcelona" and "barcelona"; never a match on
   a shared word alone);
3. it has at most one other runner, and that one is the draw ("The Draw",
   "Draw") of a three-way moneyline.

A matched market's quotes, ladders and status are the moneyline's, its
runners its outcomes (home, draw, away); its own events, markets, runners and
results are dropped (the primary settles the event).  Anything unmatched
stays a market of its own.  Pure.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import evolve, frozen

from engine.board import Quote
from engine.markets import MONEYLINE, MarketKey, outcomes_for, runner_id

from ..market.records import Batch, EventInfo

START_TOLERANCE_MS = 15 * 60 * 1000
DRAWS = frozenset({"draw", "the-draw", "x"})


def same_side(a: str, b: str) -> bool:
    """Two normalised names of one side: equal, or one's words all among the other's."""
    if a == b:
        return True
    left, right = set(a.split("-")), set(b.split("-"))
    return bool(left) and bool(right) and (left <= right or right <= left)


@frozen
class Match:
    market_id: str
    """The primary's moneyline."""
    outcomes: Mapping[str, int]
    """The secondary's runner id → the moneyline's outcome index."""
    selections: tuple[str, ...]
    """The moneyline's outcomes in order (home, draw, away)."""


def match(event: EventInfo, start_ms: int, runners: Mapping[str, str]) -> Match | None:
    """The moneyline of ``event`` a market of runners (id → name) starting at ``start_ms`` is, if it is one."""
    if not event.home or not event.away or abs(event.start_ms - start_ms) > START_TOLERANCE_MS:
        return None
    key = MarketKey(event.id, MONEYLINE, None, event.three_way)
    order = outcomes_for(MONEYLINE, event.three_way)
    home, away = runner_id(event.home), runner_id(event.away)
    found: dict[str, int] = {}
    for rid, name in runners.items():
        plain = runner_id(name) if any(c.isalnum() for c in name) else ""
        if plain in DRAWS and "draw" in order:
            found[rid] = order.index("draw")
        elif same_side(plain, home) and not same_side(plain, away):
            found[rid] = order.index("home")
        elif same_side(plain, away) and not same_side(plain, home):
            found[rid] = order.index("away")
        else:
            return None
    sides = set(found.values())
    if {order.index("home"), order.index("away")} <= sides and len(sides) == len(found):
        return Match(key.id, found, order)
    return None


class Matcher:
    """Keeps the primary's events and translates a secondary's batches onto them."""

    def __init__(self) -> None:
        self.events: dict[str, EventInfo] = {}
        self.matched: dict[str, Match] = {}
        """A secondary's market id → the primary moneyline it is."""
        self.starts: dict[str, int] = {}
        self.names: dict[str, dict[str, str]] = {}
        self.pending: dict[str, MarketKey] = {}
        """A secondary's markets not matched yet (tried again as names and events arrive)."""

    def primary(self, batch: Batch) -> Batch:
        for event in batch.events:
            self.events[event.id] = event
        for result in batch.results:
            self.events.pop(result.event_id, None)
        return batch

    def secondary(self, batch: Batch) -> Batch:
        for event in batch.events:
            self.starts[event.id] = event.start_ms
        for runner in batch.runners:
            self.names.setdefault(runner.market_id, {})[runner.id] = runner.name
        for market in batch.markets:
            if market.id not in self.matched:
                self.pending[market.id] = market
        late = [m for m in list(self.pending) if self._try(self.pending[m])]
        out = self._translated(batch, late) if self.matched else batch
        for market_id in batch.closed:  # a closed market quotes no more: nothing to match it by
            for table in (self.matched, self.pending, self.names, self.starts):
                table.pop(market_id, None)
        return out

    def _translated(self, batch: Batch, late: list[str]) -> Batch:
        """The batch with the matched markets' records on the primary's moneylines, and theirs dropped."""
        matched = self.matched
        declared = {m.id for m in batch.markets}
        kept = [m for m in batch.markets if m.id not in matched]
        kept_events = {m.event_id for m in kept}
        quotes = list(batch.quotes)
        runner_quotes = []
        for q in batch.runner_quotes:
            m = matched.get(q.market_id)
            if m is None:
                runner_quotes.append(q)
            elif q.runner in m.outcomes:
                quotes.append(Quote(m.market_id, m.outcomes[q.runner], q.book, q.price, q.ts, q.side))
        depth = []
        for d in batch.depth:
            m = matched.get(d.market_id)
            if m is None:
                depth.append(d)
            elif d.selection in m.outcomes:
                depth.append(evolve(d, market_id=m.market_id, selection=m.selections[m.outcomes[d.selection]]))
        return evolve(
            batch, markets=kept, quotes=quotes, runner_quotes=runner_quotes, depth=depth,
            events=[e for e in batch.events if e.id not in matched or e.id in kept_events],
            runners=[r for r in batch.runners if r.market_id not in matched],
            # a market matched after it went out as its own closes under its own id
            closed=[c for c in batch.closed if c not in matched] + [m for m in late if m not in declared],
            results=[r for r in batch.results if r.event_id not in matched],
            exchange=[evolve(s, market_id=matched[s.market_id].market_id) if s.market_id in matched else s
                      for s in batch.exchange],
        )

    def _try(self, market: MarketKey) -> bool:
        """Whether the pending market is now matched."""
        names = self.names.get(market.id, {})
        start = self.starts.get(market.event_id)
        if not names or start is None:
            return False
        for event in self.events.values():
            found = match(event, start, names)
            if found is not None:
                self.matched[market.id] = found
                del self.pending[market.id]
                return True
        return False

