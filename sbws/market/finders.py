"""Each signal kind's engine call over the market state: what a rescan found, and what it covered.

A finder is the glue between one engine function and ``MarketState``; the
signal-kind table (``sbws.signals``) names it.  An eager finder runs on every
rescan of the touched markets; a lazy one (middles) runs over the groups of
markets marked since it last ran, when a push or a request needs its items.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, cast

from attrs import frozen

from engine import backlay
from engine.arbitrage import Opportunity
from engine.backlay import BackLay
from engine.board import BACK, LAY
from engine.markets import SPREAD, TOTAL, MarketKey
from engine.middles import Middle, find_middles
from engine.value import ValueBet

from .signals import Scanned, Scope


@frozen
class PerMarketFinder:
    """A kind whose every item belongs to one market (it has a ``market_id``), found on every rescan of it."""

    name: str
    scan: Callable[[Scanned, Scope], Iterable[Any]]
    leg_books: Callable[[Any], tuple[str, ...]]
    metric: Callable[[Any], float | None]
    lazy: bool = False

    def find(self, state: Scanned, scope: Scope) -> tuple[Callable[[Any], bool], Mapping[str, Any]]:
        found = {item.id: item for item in self.scan(state, scope)}
        ids = scope.ids
        return (lambda item: True) if ids is None else (lambda item: item.market_id in ids), found

    def groups(self, keys: Iterable[MarketKey]) -> set[Hashable]:
        return set()

    def markets(self, item: Any) -> tuple[str, ...]:
        return (item.market_id,)

    def books(self, item: Any) -> tuple[str, ...]:
        return self.leg_books(item)

    def score(self, item: Any) -> float | None:
        return self.metric(item)


def _arbitrage(state: Scanned, scope: Scope) -> list[Opportunity | BackLay]:
    """All-back arbitrage and back-lay arbitrage: one kind, told apart by the item's class (``kind`` on the wire)."""
    found: list[Opportunity | BackLay] = []
    for i, tier in enumerate(state.tiers):
        if _covers(scope, i):
            rows = scope.tier_rows(i)
            found += tier.scanner.scan(scope.now, rows)
            commission = tier.scanner.config.commission
            for opp in backlay.scan(tier.board, tier.scanner.config, scope.now, rows):
                back, lay = opp.legs
                found.append(backlay.capped(
                    opp, state.size_at(opp.market_id, lay.outcome, lay.book, LAY, lay.price),
                    state.size_at(opp.market_id, back.outcome, back.book, BACK, back.price),
                    commission.get(lay.book, 0.0)))
    return [item for item in found if not state.suspended(item.market_id)]


def _value(state: Scanned, scope: Scope) -> list[ValueBet]:
    return [found for i, tier in enumerate(state.tiers) if _covers(scope, i)
            for found in tier.value_scanner.scan(scope.now, scope.tier_rows(i), scope.line(i))
            if not state.suspended(found.market_id)]


def _covers(scope: Scope, tier: int) -> bool:
    rows = scope.tier_rows(tier)
    return rows is None or rows.size > 0


@frozen
class MiddlesFinder:
    """Middles pair a spread's or total's lines across books: found per (event, market type) group.

    A group costs about a hundred microseconds and every event is re-quoted on
    almost every batch, so middles are found when a push or a request needs them.
    """

    name: str = "middles"
    lazy: bool = True

    def groups(self, keys: Iterable[MarketKey]) -> set[Hashable]:
        return {(k.event_id, k.market_type) for k in keys if k.market_type in (SPREAD, TOTAL)}

    def find(self, state: Scanned, scope: Scope) -> tuple[Callable[[Any], bool], Mapping[str, Any]]:
        groups = state.take_lazy(self.name)
        found: dict[str, Middle] = {}
        for group in groups:
            event_id, market_type = cast(tuple[str, str], group)
            keys = state.keys_of(event_id, market_type)
            sharp = {k.id: fair[0] for k in keys if (fair := state.fair_probabilities(k.id)) is not None}
            for middle in find_middles(state.board, keys, state.middle_config, scope.now, sharp,
                                       state.sport_of_event(event_id)):
                found[middle.id] = middle
        return (lambda m: (m.event_id, m.market_type) in groups), found

    def markets(self, item: Middle) -> tuple[str, ...]:
        return tuple(leg.market_id for leg in item.legs)

    def books(self, item: Middle) -> tuple[str, ...]:
        return tuple(leg.book for leg in item.legs)

    def score(self, item: Middle) -> float | None:
        return item.ev


FINDERS = (
    PerMarketFinder("arbitrage", _arbitrage, lambda o: tuple(leg.book for leg in o.legs), lambda o: o.edge),
    PerMarketFinder("value", _value, lambda v: (v.book,), lambda v: v.ev),
    MiddlesFinder(),
)
"""The built-in kinds' finders, in the order the table lists them."""
