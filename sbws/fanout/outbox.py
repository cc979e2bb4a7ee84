"""One socket's pending frames and the slow-consumer policy, as pure decisions.

A healthy socket gets whole shared frames, written at once when nothing is
queued for it.  Once the bytes it has not taken pass the soft limit, market
updates are kept per market id (newest state only) and become one frame when
the socket catches up; past the hard limit, or too long over the soft one,
the socket is closed (1013).  Order holds: a market update never overtakes
the conflated markets (it joins them) and any other frame waits behind them
(the delivery queues them first), so no frame tells a position the socket's
markets have not reached.
"""

from __future__ import annotations

import enum
from collections import deque

from collections.abc import Callable
from typing import Any

from attrs import define, field, frozen


class Decision(enum.Enum):
    WRITE = "write"
    """Nothing is queued: write the frame straight to the socket."""
    QUEUE = "queue"
    """Frames are waiting: append behind them, for the socket's writer task (started while frames wait)."""
    CONFLATE = "conflate"
    """Over the soft limit: keep only the newest state of each market."""
    CLOSE = "close"
    """Over the hard limit, or over the soft one too long: close with 1013."""
    DROP = "drop"
    """The socket is closing: nothing more goes to it."""


@frozen
class Budget:
    soft_bytes: int
    hard_bytes: int
    slow_timeout: float


@define(eq=False)
class Outbox:
    frames: deque[bytes] | None = None
    """Frames waiting for the writer task (made on the first one: an idle socket holds no queue)."""
    queued_bytes: int = 0
    conflated: dict[str, Any] = field(factory=dict)
    """v1: each market's newest bytes; v2: each market's pending deltas merged into one (``merge``)."""
    merge: Callable[[Any, Any], Any] | None = None
    conflated_seq: int = 0
    over_soft_since: float | None = None
    draining: bool = False
    """A writer task is draining what waits (``Delivery`` starts one when frames queue, and it ends when none do)."""
    closing: bool = False

    def offer(self, budget: Budget, buffered: int, now: float, conflatable: bool) -> Decision:
        """Where one more frame goes, given what the socket has not taken yet (``buffered``: in the transport)."""
        if self.closing:
            return Decision.DROP
        pending = self.queued_bytes + buffered
        if pending > budget.hard_bytes or (
            self.over_soft_since is not None and now - self.over_soft_since > budget.slow_timeout
        ):
            return Decision.CLOSE
        if pending > budget.soft_bytes:
            if self.over_soft_since is None:
                self.over_soft_since = now
            if conflatable:
                return Decision.CONFLATE
        else:
            self.over_soft_since = None
        if conflatable and self.conflated:  # newer market states join the older ones waiting, never overtake them
            return Decision.CONFLATE
        return Decision.QUEUE if (self.frames or self.conflated) else Decision.WRITE

    @property
    def clear(self) -> bool:
        """Nothing waits and the socket was not over its soft limit: ``offer`` answers WRITE for any ``buffered``
        up to the soft limit (the fan-out's fast path asks this, and the transport's buffer, instead)."""
        return not (self.frames or self.conflated or self.closing) and self.over_soft_since is None

    def put(self, frame: bytes) -> None:
        if self.frames is None:
            self.frames = deque()
        self.frames.append(frame)
        self.queued_bytes += len(frame)

    def conflate(self, fragments: dict[str, Any], seq: int = 0) -> None:
        if self.merge is None:
            self.conflated.update(fragments)
        else:
            for key, value in fragments.items():
                self.conflated[key] = self.merge(self.conflated.get(key), value)
        self.conflated_seq = max(self.conflated_seq, seq)

    def pop(self) -> bytes | None:
        if self.frames:
            frame = self.frames.popleft()
            self.queued_bytes -= len(frame)
            return frame
        return None

    def take_conflated(self) -> dict[str, Any]:
        fragments, self.conflated = self.conflated, {}
        return fragments

    def shut(self) -> None:
        """Nothing more is sent; what waits is dropped (a writer task finishes at its next step)."""
        self.closing = True
        self.frames = None
        self.conflated.clear()
        self.queued_bytes = 0
