"""The Python client of sbws (``docs/client.md``): ``Client`` (asyncio) and ``connect`` (blocking).

It imports nothing of the server, so it can be copied or installed alone.
"""

from .client import Client, payload, socket_url
from .errors import ClientError, ConnectFailed, ConnectionLost, RequestTimeout, ServerError
from .events import (
    AlertReceived, BetPlaced, BetSettled, BetUpdated, Connected, Disconnected, Event, EventsDropped, ItemChanged,
    ItemClosed, ItemOpened, MarketChanged, Resumed, Resynced, SteamMove,
)
from .state import State, apply_markets
from .sync import SyncClient, connect

__all__ = [
    "AlertReceived", "BetPlaced", "BetSettled", "BetUpdated", "Client", "ClientError", "ConnectFailed", "Connected",
    "ConnectionLost", "Disconnected", "Event", "EventsDropped", "ItemChanged", "ItemClosed", "ItemOpened",
    "MarketChanged", "RequestTimeout", "Resumed", "Resynced", "ServerError", "State", "SteamMove", "SyncClient",
    "apply_markets", "connect", "payload", "socket_url",
]
