"""Betfair Exchange Stream market changes (``mcm``) applied to a cache: market → runner → ladders.  Pure.

The format of Betfair's stream and of its historical data files, one JSON
message per line.  A market change (``mc``) carries a ``marketDefinition``
(status, in play, bet delay, winners, base rate, runners with status, names
and adjustment factors), runner changes (``rc``) and ``img: true`` when it
replaces the market whole.  Runner changes, one method per kind:

* ``atb``/``atl`` (available to back/lay) and ``trd`` (traded): ``[price, size]``,
  a size of 0 removes the price;
* ``batb``/``batl``/``bdatb``/``bdatl`` (best, best display): ``[level, price, size]``,
  a size of 0 removes the level;
* ``ltp`` (last traded price) and ``tv`` (traded volume).

``MarketCache.apply`` returns the ids of the markets a message changed.  The
cache keeps everything the message says; what a market looks like to the
rest of sbws (best prices, settlement) is read from it by ``betfair.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define, field

OPEN, SUSPENDED, CLOSED = "OPEN", "SUSPENDED", "CLOSED"
ACTIVE, REMOVED, WINNER, LOSER, PLACED = "ACTIVE", "REMOVED", "WINNER", "LOSER", "PLACED"

Ladder = dict[float, float]
"""price → size."""
Levels = dict[int, tuple[float, float]]
"""level (0 best) → (price, size)."""


@define
class RunnerBook:
    selection_id: int
    status: str = ACTIVE
    name: str = ""
    adjustment_factor: float | None = None
    sort_priority: int = 0
    atb: Ladder = field(factory=dict)
    atl: Ladder = field(factory=dict)
    trd: Ladder = field(factory=dict)
    batb: Levels = field(factory=dict)
    batl: Levels = field(factory=dict)
    bdatb: Levels = field(factory=dict)
    bdatl: Levels = field(factory=dict)
    ltp: float | None = None
    tv: float | None = None

    def best(self, side: str) -> tuple[float, float] | None:
        """The best price to back (the highest offered) or to lay (the lowest), and its size."""
        levels = self.ladder(side, 1)
        return levels[0] if levels else None

    def ladder(self, side: str, levels: int) -> tuple[tuple[float, float], ...]:
        """The first ``levels`` (price, size) to back (highest first) or to lay (lowest first)."""
        full, best, display = (self.atb, self.batb, self.bdatb) if side == "back" else (self.atl, self.batl, self.bdatl)
        if full:
            prices = sorted(full, reverse=side == "back")[:levels]
            return tuple((p, full[p]) for p in prices)
        by_level = best or display
        return tuple(by_level[level] for level in sorted(by_level)[:levels])


@define
class MarketBook:
    market_id: str
    definition: dict[str, Any] = field(factory=dict)
    runners: dict[int, RunnerBook] = field(factory=dict)
    tv: float | None = None
    publish_time: int = 0
    """``pt`` of the last message that changed it (epoch ms)."""

    @property
    def status(self) -> str:
        return str(self.definition.get("status", OPEN))

    def runner(self, selection_id: int) -> RunnerBook:
        runner = self.runners.get(selection_id)
        if runner is None:
            runner = self.runners[selection_id] = RunnerBook(selection_id)
        return runner


class MarketCache:
    """Every market a stream or file has described, as its messages left it."""

    def __init__(self) -> None:
        self.markets: dict[str, MarketBook] = {}
        self.clk: str | None = None
        self.initial_clk: str | None = None

    def apply(self, message: Mapping[str, Any]) -> list[str]:
        """One ``mcm`` message; other operations change nothing.  The ids of the markets it changed."""
        if message.get("op") != "mcm":
            return []
        self.clk = message.get("clk", self.clk)
        self.initial_clk = message.get("initialClk", self.initial_clk)
        publish_time = int(message.get("pt", 0))
        changed = []
        for change in message.get("mc") or ():
            market_id = str(change["id"])
            if change.get("img") or market_id not in self.markets:
                self.markets[market_id] = MarketBook(market_id)
            book = self.markets[market_id]
            book.publish_time = publish_time
            if "marketDefinition" in change:
                self._definition(book, change["marketDefinition"])
            if "tv" in change:
                book.tv = float(change["tv"])
            for runner_change in change.get("rc") or ():
                self._runner(book.runner(int(runner_change["id"])), runner_change)
            changed.append(market_id)
        return changed

    @staticmethod
    def _definition(book: MarketBook, definition: Mapping[str, Any]) -> None:
        book.definition = dict(definition)
        for entry in definition.get("runners") or ():
            runner = book.runner(int(entry["id"]))
            runner.status = str(entry.get("status", ACTIVE))
            runner.sort_priority = int(entry.get("sortPriority", runner.sort_priority))
            if entry.get("name"):
                runner.name = str(entry["name"])
            if "adjustmentFactor" in entry:
                runner.adjustment_factor = float(entry["adjustmentFactor"])

    def _runner(self, runner: RunnerBook, change: Mapping[str, Any]) -> None:
        for name in ("atb", "atl", "trd"):
            if name in change:
                _prices(getattr(runner, name), change[name])
        for name in ("batb", "batl", "bdatb", "bdatl"):
            if name in change:
                _levels(getattr(runner, name), change[name])
        if "ltp" in change:
            runner.ltp = float(change["ltp"])
        if "tv" in change:
            runner.tv = float(change["tv"])


def _prices(ladder: Ladder, updates: Any) -> None:
    for price, size in updates:
        if size == 0:
            ladder.pop(float(price), None)
        else:
            ladder[float(price)] = float(size)


def _levels(levels: Levels, updates: Any) -> None:
    for level, price, size in updates:
        if size == 0:
            levels.pop(int(level), None)
        else:
            levels[int(level)] = (float(price), float(size))
