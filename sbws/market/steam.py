"""Steam: one selection moving the same way at several books within a short window.

A book has *moved* a selection when its implied probability now differs from
its price ``window`` seconds ago (the last price it quoted at or before that
moment, or its first price inside the window) by at least ``move`` points.
When ``books`` or more books have moved the same selection the same way
within the window, that is steam; it is reported once, and again only after
the movers have left the window.  The sharp book moving first is marked.
Pure: it sees prices and times, never a clock.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence

from attrs import define, field, frozen

from engine.board import Quote

SHORTENING = "shortening"
"""The implied probability rose: the price fell, money came in."""
DRIFTING = "drifting"


@frozen
class SteamConfig:
    move: float = 2.0
    """Implied-probability points (percent) a book must move."""
    books: int = 3
    window: float = 60.0
    """Seconds."""
    sharp: tuple[str, ...] = ()


@frozen
class BookMove:
    book: str
    before: float
    """Implied probability (0-1) at the start of the window."""
    after: float
    at: float
    """When the move crossed the threshold."""


@frozen
class Steam:
    id: str
    market_id: str
    outcome: int
    direction: str
    moves: tuple[BookMove, ...]
    """Earliest mover first."""
    sharp_first: bool
    detected_at: float

    @property
    def move(self) -> float:
        """Mean move in implied-probability points."""
        return sum(abs(m.after - m.before) for m in self.moves) / len(self.moves) * 100.0


@define
class _Track:
    """One book's recent prices of one selection: (time, implied probability), oldest first."""

    points: deque[tuple[float, float]] = field(factory=deque)


def steam_id(market_id: str, outcome: int, direction: str, detected_at: float) -> str:
    digest = hashlib.blake2b(f"{market_id}|{outcome}|{direction}|{detected_at}".encode(), digest_size=8)
    return "stm_" + digest.hexdigest()


class SteamDetector:
    def __init__(self, config: SteamConfig) -> None:
        self.config = config
        self.tracks: dict[tuple[str, int, str], _Track] = {}
        self.movers: dict[tuple[str, int, str], dict[str, BookMove]] = {}
        """Per (market, outcome, direction): the books that moved within the window, with their move."""
        self.reported: set[tuple[str, int, str]] = set()

    def feed(self, quotes: Iterable[Quote]) -> list[Steam]:
        """Price changes in time order; returns the steam they complete."""
        found = []
        for q in quotes:
            steam = self._one(q)
            if steam is not None:
                found.append(steam)
        return found

    def forget(self, market_ids: Iterable[str]) -> None:
        gone = set(market_ids)
        for table in (self.tracks, self.movers):
            for key in [k for k in table if k[0] in gone]:
                del table[key]
        self.reported = {k for k in self.reported if k[0] not in gone}

    def _one(self, q: Quote) -> Steam | None:
        cfg = self.config
        key = (q.market_id, q.outcome, q.book)
        track = self.tracks.setdefault(key, _Track())
        points = track.points
        start = q.ts - cfg.window
        while len(points) > 1 and points[1][0] <= start:
            points.popleft()  # keep the last price at or before the window's start
        if q.price <= 1.0 or q.price != q.price:
            return None  # a withdrawal is no move
        p = 1.0 / q.price
        points.append((q.ts, p))
        before = points[0][1]
        if abs(p - before) * 100.0 < cfg.move:
            return None
        direction = SHORTENING if p > before else DRIFTING
        group = (q.market_id, q.outcome, direction)
        movers = self.movers.setdefault(group, {})
        for book in [b for b, m in movers.items() if m.at < start]:
            del movers[book]
        if not movers:
            self.reported.discard(group)
        if q.book not in movers:
            movers[q.book] = BookMove(q.book, before, p, q.ts)
        else:
            movers[q.book] = BookMove(q.book, movers[q.book].before, p, movers[q.book].at)
        if len(movers) < cfg.books or group in self.reported:
            return None
        self.reported.add(group)
        ordered = tuple(sorted(movers.values(), key=lambda m: (m.at, m.book)))
        return Steam(
            id=steam_id(q.market_id, q.outcome, direction, q.ts),
            market_id=q.market_id, outcome=q.outcome, direction=direction, moves=ordered,
            sharp_first=_sharp_first(ordered, cfg.sharp), detected_at=q.ts,
        )


def _sharp_first(moves: Sequence[BookMove], sharp: tuple[str, ...]) -> bool:
    return bool(moves) and moves[0].book in sharp
