"""Typed keys of everything the handlers reach through the application (a leaf: no handler imports)."""

from __future__ import annotations

import weakref

from aiohttp import web

from ..fanout.context import SocketContext
from ..ledger.interface import Ledger
from ..node import Node
from ..observability.metrics import Metrics
from ..service import Service
from ..settings import Settings
from ..wire.limits import AddressBuckets, ConnectionLimiter, Limits

SETTINGS = web.AppKey("settings", Settings)
NODE = web.AppKey("node", Node)
SERVICE = web.AppKey("service", Service)
LEDGER: web.AppKey[Ledger] = web.AppKey("ledger")
METRICS = web.AppKey("metrics", Metrics)
LIMITS = web.AppKey("limits", Limits)
SOCKETS: web.AppKey["weakref.WeakKeyDictionary[web.WebSocketResponse, SocketContext]"] = web.AppKey("sockets")
READY = web.AppKey("ready", dict)
CONNECTIONS = web.AppKey("connections", ConnectionLimiter)
HISTORY_LIMIT = web.AppKey("history_limit", AddressBuckets)
"""History requests per client address, over both doors."""
