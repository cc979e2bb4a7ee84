"""Protocol v2's market stream: epoch and sequence, per-update deltas, and the replay window.

Each engine update moves ``seq`` by one within an ``epoch`` (an id that
changes whenever the state restarts).  ``advance`` turns the update's changed
markets into deltas against each market's previous object, merges them into
what the next push carries, and keeps what a resume needs: the sequence at
which each market last changed, and tombstones of quotes, bests and markets
that went away.  The window is bounded by time and by the bytes its deltas
took; a resume from before its start needs a fresh image.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Iterable
from typing import TypeVar

import orjson

from ..market.state import MarketState
from ..wire import views
from ..wire.deltas import Delta, View, closed, diff, merge, whole

EPOCH_CHANGED = "epoch_changed"
WINDOW_EXCEEDED = "window_exceeded"


K = TypeVar("K")


def _newer(table: dict[K, int], floor: int) -> dict[K, int]:
    if table and min(table.values()) <= floor:
        return {k: s for k, s in table.items() if s > floor}
    return table


def _newer_per_market(tables: dict[str, dict[K, int]], floor: int) -> dict[str, dict[K, int]]:
    out = {}
    for market_id, table in tables.items():
        kept = _newer(table, floor)
        if kept:
            out[market_id] = kept
    return out


def new_epoch() -> str:
    return "ep_" + secrets.token_hex(6)


class MarketStream:
    def __init__(self, window_s: float = 60.0, max_bytes: int = 16 * 1024 * 1024, active: bool = False,
                 fragments: views.MarketFragments | None = None) -> None:
        self.window_s = window_s
        self.max_bytes = max_bytes
        self.active = active
        self.fragments = fragments
        """The market objects, shared with v1's encoder (one view per revision for both protocols)."""
        self.restart(new_epoch(), 0)

    def _view(self, state: MarketState, market_id: str) -> View:
        if self.fragments is None or self.fragments.state is not state:
            self.fragments = views.MarketFragments(state)
        return self.fragments.view(market_id)

    def restart(self, epoch: str, seq: int) -> None:
        """A new stream (process start, a new leader term, a replay): nothing before ``seq`` can be resumed."""
        self.epoch = epoch
        self.seq = seq
        self.floor = seq
        """The lowest ``seq`` a resume may start from."""
        self.views: dict[str, View] = {}
        self.changed_at: dict[str, int] = {}
        self.closed_at: dict[str, int] = {}
        self.gone_books: dict[str, dict[tuple[str, str], int]] = {}
        """Per market: (selection, book) → the seq its quote went away (a resume touches its own market's only)."""
        self.gone_best: dict[str, dict[str, int]] = {}
        """Per market: selection → the seq its best price went away."""
        self.log: deque[tuple[int, float, int]] = deque()
        self.bytes = 0
        self.pending: dict[str, Delta] = {}
        self.delivered = seq
        """The seq the last market push brought every socket to (the pending deltas are after it)."""

    @property
    def position(self) -> tuple[str, int]:
        return self.epoch, self.seq

    @property
    def delivered_position(self) -> tuple[str, int]:
        """A position every socket's market state has reached: one it can resume from without a gap (the
        newest one when no delta waits for a push)."""
        return self.epoch, self.delivered if self.pending else self.seq

    def activate(self, state: MarketState) -> None:
        """Start keeping deltas (the first v2 socket, or at start in cluster mode): until then only ``seq`` moves,
        so a server with v1 sockets alone pays nothing for v2."""
        if self.active:
            return
        self.active = True
        self.floor = self.seq
        for market_id in state.market_ids():
            view = self._view(state, market_id)
            if view["status"] != "closed":
                self.views[market_id] = view

    def advance(self, state: MarketState, changed: Iterable[str], gone: Iterable[str], now: float,
                position: tuple[str, int] | None = None) -> None:
        """One feed batch applied: ``changed`` markets moved, ``gone`` ones left the board.

        ``position``: the (epoch, seq) the leader gave the batch in cluster mode (a new epoch restarts the
        stream); without it this node numbers its own batches.
        """
        if position is not None and position[0] != self.epoch:
            self.restart(position[0], position[1] - 1)
        self.seq = self.seq + 1 if position is None else position[1]
        if not self.active:
            self.floor = self.delivered = self.seq
            return
        size = 0
        for market_id in changed:
            if state.key(market_id) is None:
                continue
            new = self._view(state, market_id)
            if new["status"] == "closed":
                size += self._close(market_id)
                continue
            delta = diff(self.views.get(market_id), new)
            self.views[market_id] = new
            if delta is None:
                continue
            self.changed_at[market_id] = self.seq
            self._tombstones(market_id, delta)
            self.pending[market_id] = merge(self.pending.get(market_id), delta)
            size += len(orjson.dumps(delta))
        for market_id in gone:
            size += self._close(market_id)
        self.log.append((self.seq, now, size))
        self.bytes += size
        self._prune(now)

    def _close(self, market_id: str) -> int:
        if self.views.pop(market_id, None) is None and market_id in self.closed_at:
            return 0
        self.closed_at[market_id] = self.seq
        self.changed_at.pop(market_id, None)
        self.pending[market_id] = closed(market_id)
        return 40

    def _tombstones(self, market_id: str, delta: Delta) -> None:
        for sel in delta.get("s", ()):
            for book, price in sel.get("d", {}).items():
                if price is None:
                    self.gone_books.setdefault(market_id, {})[(sel["id"], book)] = self.seq
        for sel, best in delta.get("b", {}).items():
            if best is None:
                self.gone_best.setdefault(market_id, {})[sel] = self.seq

    def _prune(self, now: float) -> None:
        while self.log and (self.log[0][1] < now - self.window_s or self.bytes > self.max_bytes):
            seq, _ts, size = self.log.popleft()
            self.bytes -= size
            self.floor = seq
        self.gone_books = _newer_per_market(self.gone_books, self.floor)
        self.gone_best = _newer_per_market(self.gone_best, self.floor)
        self.closed_at = _newer(self.closed_at, self.floor)

    def take_pending(self) -> dict[str, Delta]:
        pending, self.pending = self.pending, {}
        self.delivered = self.seq
        return pending

    def resume_problem(self, epoch: str, seq: int) -> str | None:
        if epoch != self.epoch:
            return EPOCH_CHANGED
        if not self.floor <= seq <= self.seq:
            return WINDOW_EXCEEDED
        return None

    def resume(self, since: int, wanted: Callable[[str], bool]) -> list[Delta]:
        """What a client that held the state at ``since`` needs: each market changed since then whole, with
        nulls for the quotes and bests that went away, and the markets closed since then."""
        out: list[Delta] = []
        for market_id, seq in self.changed_at.items():
            if seq <= since or not wanted(market_id) or market_id not in self.views:
                continue
            view = self.views[market_id]
            delta = whole(view)
            entries = {e["id"]: e for e in delta["s"]}
            for (sel, book), when in self.gone_books.get(market_id, {}).items():
                if when > since and sel in entries and book not in entries[sel]["d"]:
                    entries[sel]["d"][book] = None
            for sel, when in self.gone_best.get(market_id, {}).items():
                if when > since and sel not in view["bestOdds"]:
                    delta.setdefault("b", {})[sel] = None
            out.append(delta)
        out.extend(closed(m) for m, seq in self.closed_at.items() if seq > since)
        return out
