"""Building the application: the node, the service and the ledger's lifecycle, with routes handed in.

``app.make_app`` hands it the HTTP and WebSocket routes; this module imports
no handler, so the keys, the handlers and the assembly never import each other
in a circle.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AsyncExitStack
from decimal import Decimal

import structlog
from aiohttp import web

from ..alerts.webhooks import Deliverer
from ..clock import SYSTEM, Clock
from ..cluster.factory import make_broker
from ..fanout.audience import Audience
from ..fanout.broadcaster import Broadcaster
from ..fanout.delivery import Delivery
from ..fanout.outbox import Budget
from ..fanout.stream import MarketStream
from ..fanout.transport import CloseCode
from ..fanout.versions import Fanout
from ..feeds.base import Feed
from ..feeds.factory import arb_config, make_feed, middle_config, steam_config, value_config
from ..history.factory import open_history
from ..ledger.factory import open_ledger
from ..market.state import MarketState
from ..node import Node
from ..observability.logs import redact
from ..observability.metrics import Metrics
from ..service import Service
from ..settings import Settings, value_interval
from ..signals import ARBITRAGE_CADENCE, VALUE_CADENCE
from ..tasks import TaskSet
from ..wire.limits import HISTORY_PER_ADDRESS, AddressBuckets, ConnectionLimiter, Limits
from ..wire.views import MarketFragments
from .errors import middleware
from .keys import CONNECTIONS, HISTORY_LIMIT, LEDGER, LIMITS, METRICS, NODE, READY, SERVICE, SETTINGS, SOCKETS

log = structlog.get_logger("sbws.app")

Routes = Callable[[web.Application], None]


async def assemble(settings: Settings, routes: Iterable[Routes], feed: Feed | None = None,
                   clock: Clock = SYSTEM) -> web.Application:
    """Resources first (broker checked, ledger, history, recorder), then everything built with them."""
    first = feed or make_feed(settings)
    factory = (lambda: first) if feed is not None else (lambda: make_feed(settings))
    broker = make_broker(settings.broker, factory, first, settings.leader_ttl, settings.node_id,
                         settings.heartbeat_interval)
    await broker.check()  # before the ledger: a broker that cannot work creates nothing
    resources = AsyncExitStack()
    try:
        ledger = await open_ledger(settings.db)
        resources.push_async_callback(ledger.close)
        history = await open_history(settings.db, settings.history_days)
        resources.push_async_callback(history.close)
        recorder = resources.enter_context(open(settings.record, "ab")) if settings.record else None
    except BaseException:
        await resources.aclose()
        raise
    app = web.Application(client_max_size=settings.max_message_bytes, middlewares=[middleware])
    app[SETTINGS] = settings
    metrics = app[METRICS] = Metrics()
    app[LIMITS] = Limits(Decimal(str(settings.min_stake)), Decimal(str(settings.max_stake)))
    app[SOCKETS] = weakref.WeakKeyDictionary()
    app[CONNECTIONS] = ConnectionLimiter(settings.max_connections, settings.max_connections_per_ip,
                                         snapshots_per_s=settings.address_snapshots)
    app[HISTORY_LIMIT] = AddressBuckets(*HISTORY_PER_ADDRESS)
    app[READY] = {"ready": False}
    app[LEDGER] = ledger
    state = MarketState(arb_config(settings), value_config(settings), middle_config(settings), steam_config(settings))
    fragments = MarketFragments(state)
    service = app[SERVICE] = Service(state, fragments, ledger, history, lambda: broker.healthy(clock.time()),
                                     settings.live_betting, settings.max_bet_quote_age, clock, settings.max_alert_rules,
                                     settings.max_webhooks, app[LIMITS], settings.commission_discount)
    budget = Budget(settings.soft_limit_bytes, settings.hard_limit_bytes, settings.slow_timeout)
    # in cluster mode every node keeps the window from the start, so a client resumes on any
    stream = MarketStream(settings.replay_window, settings.replay_max_bytes, active=bool(settings.broker),
                          fragments=fragments)
    background = TaskSet()
    delivery = Delivery(metrics, budget, background.spawn, lambda: stream.seq, clock.monotonic)
    fan = Fanout(state, fragments, stream, Audience(), delivery, service.active_bets, clock)
    broadcaster = Broadcaster(fan, {"markets": settings.market_interval == 0,
                                    ARBITRAGE_CADENCE: settings.arbitrage_interval == 0,
                                    VALUE_CADENCE: value_interval(settings) == 0})
    deliverer = Deliverer(ledger, settings.allow_private_webhooks)
    app[NODE] = Node(settings, service, broadcaster, broker, metrics, background, deliverer, recorder, clock)
    for add_routes in routes:
        add_routes(app)
    app.cleanup_ctx.append(lambda app: _resources(resources))
    app.cleanup_ctx.append(lambda app: _webhooks(deliverer))
    app.cleanup_ctx.append(_node)
    app.on_shutdown.append(_close_sockets)
    return app


async def _resources(resources: AsyncExitStack) -> AsyncIterator[None]:
    """The ledger, the history and the recording file: opened by ``assemble``, closed last."""
    async with resources:
        yield


async def _webhooks(deliverer: Deliverer) -> AsyncIterator[None]:
    deliverer.start()
    yield
    await deliverer.stop()


async def _node(app: web.Application) -> AsyncIterator[None]:
    node, settings = app[NODE], app[SETTINGS]
    await node.refresh_active_bets()
    node.start()
    app[READY]["ready"] = True
    if settings.trust_user_id:
        log.warning("trust_user_id_enabled", detail="user_id query parameter grants betting rights; never in production")
    log.info("started", feed=node.feed.name, db=redact(settings.db), broker=redact(settings.broker) or "local")
    yield
    app[READY]["ready"] = False
    await node.stop()
    log.info("stopped")


async def _close_sockets(app: web.Application) -> None:
    app[READY]["ready"] = False
    sockets = list(app[SOCKETS].keys())
    closing = asyncio.gather(
        *(ws.close(code=CloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets),
        return_exceptions=True,
    )
    try:  # peers that do not answer the close handshake must not hold the shutdown up
        await asyncio.wait_for(closing, 3.0)
    except asyncio.TimeoutError:
        log.warning("close_handshake_timeout", sockets=len(sockets))
