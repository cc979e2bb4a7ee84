"""Per-socket state: the design document's contextual data plus delivery state.

The context must never hold the socket strongly: it is the value of a
``WeakKeyDictionary`` keyed by that socket, and a strong back-reference would
keep every closed socket alive forever.  It holds a weak reference instead.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from typing import Any

from attrs import define, field

from .protocol import Subscription


@define
class TokenBucket:
    """Allows ``rate`` messages a second with bursts of up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(factory=time.monotonic)

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


@define(eq=False)
class Outbox:
    """Frames waiting for this socket's writer task, with conflation when slow.

    Healthy sockets get whole shared frames.  Once the bytes it has not yet
    taken pass the soft limit, market updates are kept per market id (newest
    state only) and turned into one frame when the writer catches up.
    """

    frames: deque[bytes] = field(factory=deque)
    queued_bytes: int = 0
    conflated: dict[str, bytes] = field(factory=dict)
    over_soft_since: float | None = None
    wake: asyncio.Event = field(factory=asyncio.Event)
    closing: bool = False

    def put(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.queued_bytes += len(frame)
        self.wake.set()

    def conflate(self, fragments: dict[str, bytes]) -> None:
        self.conflated.update(fragments)
        self.wake.set()

    def pop(self) -> bytes | None:
        if self.frames:
            frame = self.frames.popleft()
            self.queued_bytes -= len(frame)
            return frame
        return None


@define(eq=False)
class SocketContext:
    client_id: str
    user_id: str | None
    username: str | None
    token: str | None
    token_id: str | None
    connected_at: int
    last_activity: int
    last_ping: int
    remote: str | None = None
    subscribed_sportsbooks: set[str] = field(factory=set)
    subscribed_markets: set[str] = field(factory=set)
    subscribed_arbitrage: bool = False
    market_type_filters: set[str] = field(factory=set)
    sport_filters: set[str] = field(factory=set)
    bucket: TokenBucket = field(factory=lambda: TokenBucket(10.0, 20.0))
    strikes: int = 0
    last_strike: float = 0.0
    identity: Any = None
    """The ledger's Identity when a token (or --trust-user-id) verified the socket."""
    outbox: Outbox = field(factory=Outbox)
    socket_ref: weakref.ref[Any] | None = None
    transport_ref: weakref.ref[Any] | None = None

    @property
    def verified(self) -> bool:
        return self.identity is not None

    def subscription(self) -> Subscription:
        return Subscription(
            sportsbooks=frozenset(self.subscribed_sportsbooks),
            markets=frozenset(self.subscribed_markets),
            arbitrage=self.subscribed_arbitrage,
            market_types=frozenset(self.market_type_filters),
            sports=frozenset(self.sport_filters),
        )

    def apply(self, change: Subscription, add: bool) -> None:
        pairs = (
            (self.subscribed_sportsbooks, change.sportsbooks),
            (self.subscribed_markets, change.markets),
            (self.market_type_filters, change.market_types),
            (self.sport_filters, change.sports),
        )
        for current, delta in pairs:
            if add:
                current |= delta
            else:
                current -= delta
        if change.arbitrage is not None:
            if add:
                self.subscribed_arbitrage = self.subscribed_arbitrage or change.arbitrage
            elif change.arbitrage:
                self.subscribed_arbitrage = False
