"""What ``Client.events()`` yields: one attrs class per kind of change."""

from __future__ import annotations

from typing import Any

from attrs import frozen


@frozen
class MarketChanged:
    market_id: str
    market: dict[str, Any] | None
    """The market as held now; None when it closed or stopped matching the subscription."""


@frozen
class ItemOpened:
    kind: str
    """``arbitrage``, ``value``, ``middles``, or any kind the server adds."""
    item: dict[str, Any]


@frozen
class ItemChanged:
    kind: str
    item: dict[str, Any]


@frozen
class ItemClosed:
    kind: str
    item_id: str


@frozen
class BetPlaced:
    bet: dict[str, Any]
    duplicate: bool
    """The server already held a bet with this ``clientRef``: this is that bet (a retry, never a second bet)."""


@frozen
class BetSettled:
    bet: dict[str, Any]


@frozen
class BetUpdated:
    bet: dict[str, Any]


@frozen
class AlertReceived:
    alert: dict[str, Any]


@frozen
class SteamMove:
    steam: dict[str, Any]


@frozen
class Connected:
    url: str
    epoch: str
    seq: int


@frozen
class Resumed:
    """A reconnect picked up where the client was: every change since ``since`` was replayed."""

    since: int
    to: int


@frozen
class Resynced:
    """A reconnect could not resume (``epoch_changed``, ``window_exceeded``, or nothing held yet): a fresh image
    replaced the state."""

    reason: str


@frozen
class Disconnected:
    reason: str
    retry_in: float
    """Seconds until the next attempt."""


@frozen
class EventsDropped:
    """This reader fell behind by more than its queue holds: that many events were dropped (the state is whole)."""

    count: int


Event = (MarketChanged | ItemOpened | ItemChanged | ItemClosed | BetPlaced | BetSettled | BetUpdated | AlertReceived
         | SteamMove | Connected | Resumed | Resynced | Disconnected | EventsDropped)
