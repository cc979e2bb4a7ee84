"""The two sides of a broker: what it offers the node, and what it calls back.

A broker never touches the fan-out or the market directly; it calls its
``Sink`` (the node), so brokers can be swapped and tested on their own.
"""

from __future__ import annotations

from typing import Protocol

from ..feeds.base import Feed
from ..market.records import Batch


class Sink(Protocol):
    def apply_batch(self, batch: Batch, position: tuple[str, int] | None = None) -> None:
        """One feed batch into the engine and out to the sockets; ``position`` is its (epoch, seq) when the
        leader numbered it (cluster mode), so every node counts the same."""
        ...

    def position(self) -> tuple[str, int]:
        """The (epoch, seq) of the state this node holds."""
        ...

    def reset(self) -> None:
        """Forget the whole market (a resync or a new leader term follows)."""
        ...

    def refresh_sockets(self) -> None:
        """Send every socket its sportsbooks and a fresh snapshot."""
        ...

    def snapshot(self) -> Batch:
        """The whole market as one batch (applied to an empty state, it rebuilds this one)."""
        ...

    def deliver_to_user(self, user_id: str, frame: bytes) -> None:
        """A bet event to this node's sockets of one user."""
        ...

    def local_clients(self) -> int:
        ...

    async def refresh_active_bets(self) -> None:
        """Re-read open bets per sportsbook from the ledger (another node may have taken some)."""
        ...


class Broker(Protocol):
    feed: Feed
    """The feed of the current term (a new leader term brings a new one)."""
    is_leader: bool
    connected: bool

    async def check(self) -> None:
        """Raise ``ConfigError`` when the broker cannot be reached at all (checked once, at start)."""
        ...

    async def run(self, sink: Sink) -> None: ...

    def healthy(self, now: float) -> bool:
        """The feed delivers (one process), or the newest health entry read from the stream, still fresh, says
        the leader's feed delivers (cluster)."""
        ...

    async def publish_bet_event(self, sink: Sink, user_id: str, frame: bytes) -> None: ...

    def cluster_clients(self, local: int) -> int: ...

    async def close(self) -> None: ...
