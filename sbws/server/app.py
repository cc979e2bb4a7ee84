"""The sbws application: the assembly with its HTTP and WebSocket routes."""

from __future__ import annotations

from aiohttp import web

from ..clock import SYSTEM, Clock
from ..feeds.base import Feed
from ..settings import Settings
from . import http, ws
from .assembly import assemble


async def make_app(settings: Settings, feed: Feed | None = None, clock: Clock = SYSTEM) -> web.Application:
    """Tests and the CLI build the same application; ``feed`` replaces the configured source, ``clock`` the
    system's (a test's ``ManualClock``)."""
    return await assemble(settings, (ws.add_routes, http.add_routes), feed, clock)
