"""Live signals of any kind (arbitrage, value, middles, ...) with one opened/changed/closed mechanism.

The market state keeps one ``LiveSet`` per signal kind.  A rescan hands a
kind's finder a ``Scope`` (the markets that moved); the finder says which
live items the scope covers and what the engine found there, and
``LiveSet.reconcile`` opens, updates and closes items by that one rule.  What
closed since the last push, and whether anything changed, is read once by
``take``.  Which kinds exist is the table in ``sbws.signals``; this module
knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from attrs import define, field, frozen

from engine.arbitrage import Scanner
from engine.board import QuoteBoard
from engine.markets import MarketKey
from engine.middles import MiddleConfig
from engine.value import FairLine, ValueScanner

T = TypeVar("T")


@define
class Live(Generic[T]):
    """One live item as the engine last found it, with when it was first and last seen."""

    item: T
    detected_at: float
    updated_at: float


@define
class Tier:
    """One quote board with its scanners.  The market state has two: the fixed 2/3-way markets, and the
    outrights, whose wide outcome axis would otherwise widen every match's row."""

    board: QuoteBoard
    scanner: Scanner
    value_scanner: ValueScanner


@frozen
class Scope:
    """What a rescan covers: each tier's board rows, and their market ids (None: every board, whole)."""

    rows: tuple[np.ndarray, ...] | None
    ids: frozenset[str] | None
    now: float
    lines: tuple[FairLine, ...] | None = None
    """Each tier's fair line of this rescan (the lazy kinds, found later, read ``MarketState.fair`` instead)."""

    def tier_rows(self, tier: int) -> np.ndarray | None:
        return None if self.rows is None else self.rows[tier]

    def line(self, tier: int) -> FairLine | None:
        return None if self.lines is None else self.lines[tier]


class Scanned(Protocol):
    """What a finder reads of the market state."""

    tiers: tuple[Tier, ...]

    @property
    def board(self) -> QuoteBoard:
        """The fixed markets' board (spreads and totals: where middles are)."""
        ...

    @property
    def middle_config(self) -> MiddleConfig: ...

    def take_lazy(self, kind: str) -> set[Hashable]: ...

    def keys_of(self, event_id: str, market_type: str) -> list[MarketKey]: ...

    def fair_probabilities(self, market_id: str) -> tuple[float, ...] | None: ...

    def sport_of_event(self, event_id: str) -> str | None: ...

    def suspended(self, market_id: str) -> bool: ...

    def size_at(self, market_id: str, outcome: int, book: str, side: str, price: float) -> float | None:
        """The size an exchange offers at this price (None: no ladder says)."""
        ...


class Finder(Protocol):
    """How the market state finds one kind's items with its engine function."""

    @property
    def name(self) -> str:
        """The kind's name (its ``LiveSet`` in the market state)."""
        ...

    @property
    def lazy(self) -> bool:
        """Found when a push or a request needs them (``MarketState.found``), not on every batch."""
        ...

    def find(self, state: Scanned, scope: Scope) -> tuple[Callable[[Any], bool], Mapping[str, Any]]:
        """(which live items the scope covers, what the engine found in it, by id)."""
        ...

    def groups(self, keys: Iterable[MarketKey]) -> set[Hashable]:
        """Lazy kinds: the groups of markets whose items a change to these markets may alter."""
        ...

    def markets(self, item: Any) -> tuple[str, ...]:
        """The markets an item is made of (the first one names its event, sport and market type)."""
        ...

    def books(self, item: Any) -> tuple[str, ...]:
        """Where one bets it: every leg's book (a ``sportsbooks`` subscription must hold them all)."""
        ...

    def score(self, item: Any) -> float | None:
        """Its edge or EV in percent: what thresholds compare and ranks sort by (None: unknown, ranked last)."""
        ...


@define
class LiveSet(Generic[T]):
    items: dict[str, Live[T]] = field(factory=dict)
    closed: set[str] = field(factory=set)
    """Ids closed since the last ``take`` (v1 pushes list them)."""
    changed: bool = False
    """Anything opened, changed or closed since the last ``take``."""
    version: int = 0
    """Moves on every change: equal versions, equal items (images are shared by it)."""

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __getitem__(self, item_id: str) -> Live[T]:
        return self.items[item_id]

    def values(self) -> Iterable[Live[T]]:
        return self.items.values()

    def reconcile(self, covers: Callable[[T], bool], found: Mapping[str, T], now: float) -> None:
        """Bring the items the rescan covered in line with what it found."""
        gone = [i for i, live in self.items.items() if covers(live.item) and i not in found]
        self.drop(gone)
        for i, item in found.items():
            held = self.items.get(i)
            if held is None:
                self.items[i] = Live(item, now, now)
                self.changed = True
                self.version += 1
            elif held.item != item:
                held.item = item
                held.updated_at = now
                self.changed = True
                self.version += 1
        self.closed.difference_update(found)

    def drop(self, ids: Iterable[str]) -> None:
        for i in ids:
            del self.items[i]
            self.closed.add(i)
            self.changed = True
            self.version += 1

    def clear(self) -> None:
        """The market restarted: everything live is closed."""
        self.drop(list(self.items))

    def take(self) -> set[str]:
        """What closed since the last call; the set is clean again afterwards."""
        closed, self.closed = self.closed, set()
        self.changed = False
        return closed
