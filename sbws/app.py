"""The aiohttp application: wiring, typed state keys and lifecycle.

Everything the handlers need hangs off the app under ``web.AppKey``s, so
tests and the CLI build the same thing with ``make_app(settings)``.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import structlog
from aiohttp import WSCloseCode, web

from engine.arbitrage import ArbConfig

from .context import SocketContext
from .broker import make_broker
from .feeds import make_feed
from .feeds.base import Feed
from .hub import Hub
from .ledger import Ledger, open_ledger
from .metrics import Metrics
from .protocol import Limits
from .service import Service
from .settings import Settings
from .state import MarketState

log = structlog.get_logger("sbws.app")

SETTINGS = web.AppKey("settings", Settings)
HUB = web.AppKey("hub", Hub)
SERVICE = web.AppKey("service", Service)
LEDGER: web.AppKey[Ledger] = web.AppKey("ledger")
METRICS = web.AppKey("metrics", Metrics)
LIMITS = web.AppKey("limits", Limits)
SOCKETS: web.AppKey["weakref.WeakKeyDictionary[web.WebSocketResponse, SocketContext]"] = web.AppKey("sockets")
READY = web.AppKey("ready", dict)


def redact(url: str) -> str:
    """Connection strings go to the log without their password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url


def static_dir() -> Path:
    return Path(str(files("sbws.static")))


def schemas_dir() -> Path:
    return Path(str(files("sbws.schemas")))


def arb_config(settings: Settings) -> ArbConfig:
    """Engine options from the settings; live exchange data gets default commissions unless configured."""
    commission = dict(settings.commission)
    if settings.feed == "odds-api":
        from .feeds.odds_api import EXCHANGE_COMMISSION

        commission = {**EXCHANGE_COMMISSION, **commission}
    return ArbConfig(
        commission=commission,
        max_age=settings.max_quote_age,
        max_edge=settings.max_edge,
        stake_rounding=settings.stake_rounding,
        total_stake=100.0,
    )


def make_app(settings: Settings, feed: Feed | None = None) -> web.Application:
    from . import rest, ws

    app = web.Application(client_max_size=settings.max_message_bytes)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[LIMITS] = Limits(Decimal(str(settings.min_stake)), Decimal(str(settings.max_stake)))
    app[SOCKETS] = weakref.WeakKeyDictionary()
    app[READY] = {"ready": False}
    state = MarketState(arb_config(settings))
    app[SERVICE] = Service(state, settings.live_betting)
    first = feed or make_feed(settings)
    factory = (lambda: first) if feed is not None else (lambda: make_feed(settings))
    broker = make_broker(settings.broker, factory, first, settings.leader_ttl, settings.node_id)
    app[HUB] = Hub(settings, state, app[SERVICE], broker, app[METRICS])
    app.router.add_get("/ws/sportsbooks", ws.handler)
    rest.add_routes(app)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_close_sockets)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    hub, settings = app[HUB], app[SETTINGS]
    ledger = app[LEDGER] = await open_ledger(settings.db)
    app[SERVICE].ledger = ledger
    app[SERVICE].state.active_bets = await ledger.active_bets_by_book()
    if settings.record:
        hub.recorder = open(settings.record, "ab")
    hub.start()
    app[READY]["ready"] = True
    if settings.trust_user_id:
        log.warning("trust_user_id_enabled", detail="user_id query parameter grants betting rights; never in production")
    log.info("started", feed=hub.feed.name, db=redact(settings.db), broker=redact(settings.broker) or "local")
    yield
    app[READY]["ready"] = False
    await hub.stop()
    if hub.recorder is not None:
        hub.recorder.close()
    await ledger.close()
    log.info("stopped")


async def _close_sockets(app: web.Application) -> None:
    app[READY]["ready"] = False
    sockets = list(app[SOCKETS].keys())
    closing = asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
        return_exceptions=True,
    )
    try:  # peers that do not answer the close handshake must not hold the shutdown up
        await asyncio.wait_for(closing, 3.0)
    except asyncio.TimeoutError:
        log.warning("close_handshake_timeout", sockets=len(sockets))


def feed_healthy(app: web.Application) -> bool:
    """The feed delivers (one process), or Redis is reachable and the leader's feed delivers (cluster)."""
    return app[HUB].broker.healthy(time.time())
