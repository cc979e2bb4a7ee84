"""Per-socket state: the design document's contextual data plus delivery state.

The context is the value of a ``WeakKeyDictionary`` keyed by its socket, so it
must never hold the socket strongly (that would keep every closed socket
alive): its ``transport`` holds the socket through weak references only.
"""

from __future__ import annotations

from attrs import define, field

from ..errors import bad
from ..ledger.models import Identity
from ..wire.commands import Subscription
from ..wire.limits import TokenBucket
from .outbox import Outbox
from .transport import Transport


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
    claimed_user_id: str | None = None
    """What an unverified client called itself (``?user_id=``/``?username=``): shown and logged as a claim only."""
    subscribed_sportsbooks: frozenset[str] = frozenset()
    """Frozen and replaced on each change, so every idle socket shares the one empty set."""
    subscribed_markets: frozenset[str] = frozenset()
    subscribed_arbitrage: bool = False
    subscribed_value: bool = False
    subscribed_middles: bool = False
    min_ev: float | None = None
    subscribed_steam: bool = False
    market_type_filters: frozenset[str] = frozenset()
    sport_filters: frozenset[str] = frozenset()
    bucket: TokenBucket = field(factory=lambda: TokenBucket(10.0, 20.0))
    strikes: int = 0
    last_strike: float = 0.0
    identity: Identity | None = None
    """Set when a token (or --trust-user-id) verified the socket."""
    outbox: Outbox = field(factory=Outbox)
    transport: Transport | None = None
    protocol: int = 1
    """2: images and deltas with epoch and seq (``?v=2``); 1: the design document's protocol."""

    @property
    def verified(self) -> bool:
        return self.identity is not None

    def subscription(self) -> Subscription:
        return Subscription(
            sportsbooks=self.subscribed_sportsbooks,
            markets=self.subscribed_markets,
            arbitrage=self.subscribed_arbitrage,
            market_types=self.market_type_filters,
            sports=self.sport_filters,
            value=self.subscribed_value,
            middles=self.subscribed_middles,
            min_ev=self.min_ev,
            steam=self.subscribed_steam,
            protocol=self.protocol,
        )

    def check_room(self, change: Subscription, max_markets: int, max_values: int) -> None:
        """Refuse (changing nothing) a subscribe that would take this socket past its limits."""
        markets = len(self.subscribed_markets | change.markets)
        if markets > max_markets:
            raise bad("markets", f"at most {max_markets} market ids per socket; this subscribe would make {markets}")
        for name, current, delta in (("sportsbooks", self.subscribed_sportsbooks, change.sportsbooks),
                                     ("sports", self.sport_filters, change.sports)):
            if len(current | delta) > max_values:
                raise bad(name, f"at most {max_values} values per socket")

    def apply(self, change: Subscription, add: bool) -> None:
        combine = frozenset.union if add else frozenset.difference
        self.subscribed_sportsbooks = combine(self.subscribed_sportsbooks, change.sportsbooks)
        self.subscribed_markets = combine(self.subscribed_markets, change.markets)
        self.market_type_filters = combine(self.market_type_filters, change.market_types)
        self.sport_filters = combine(self.sport_filters, change.sports)
        self.subscribed_arbitrage = _switch(self.subscribed_arbitrage, change.arbitrage, add)
        self.subscribed_value = _switch(self.subscribed_value, change.value, add)
        self.subscribed_middles = _switch(self.subscribed_middles, change.middles, add)
        self.subscribed_steam = _switch(self.subscribed_steam, change.steam, add)
        if add and change.min_ev is not None:
            self.min_ev = change.min_ev


def _switch(current: bool, change: bool | None, add: bool) -> bool:
    """A subscribe turns a push on with ``true``; an unsubscribe turns it off with ``true``."""
    if change is None:
        return current
    return (current or change) if add else (current and not change)
