"""The WebSocket endpoint: upgrade, identity, then read, parse and dispatch.

Parsing lives in ``protocol``, the operations in ``service``, delivery in
``hub``; this module only connects them to one socket.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import weakref
from typing import Any

import orjson
import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from . import protocol
from .app import HUB, LEDGER, LIMITS, METRICS, SERVICE, SETTINGS, SOCKETS
from .auth import origin_allowed, request_token
from .context import SocketContext, TokenBucket
from .hub import Hub
from .ledger import Identity
from .protocol import (
    GetArbitrage,
    GetBets,
    GetMarkets,
    Ping,
    PlaceBet,
    ProtocolError,
    Subscribe,
    Unsubscribe,
)
from .service import bet_view

log = structlog.get_logger("sbws.ws")

FLOOD_STRIKES = 50
STRIKE_WINDOW = 10.0


def _json_error(status: int, code: str, message: str) -> web.Response:
    body = orjson.dumps({"type": "error", "code": code, "message": message})
    return web.Response(status=status, body=body, content_type="application/json")


async def handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    ws = web.WebSocketResponse(
        compress=settings.compress,
        max_msg_size=settings.max_message_bytes,
        heartbeat=settings.heartbeat_interval,
    )
    if not ws.can_prepare(request).ok:
        return _json_error(400, protocol.BAD_REQUEST, "this endpoint speaks WebSocket only: send an Upgrade request")
    if not origin_allowed(request, settings.allowed_origins):
        log.warning("origin_refused", origin=request.headers.get("Origin"), remote=request.remote)
        return _json_error(403, "NX-403", "cross-site WebSocket refused: origin not allowed")
    identity, token = await _identify(request)
    await ws.prepare(request)
    ctx = _context(request, identity, token, ws)
    hub = app[HUB]
    app[SOCKETS][ws] = ctx
    hub.audience.add(ctx)
    app[METRICS].sockets.inc()
    writer = asyncio.create_task(hub.writer(ws, ctx))
    log.info("connected", client_id=ctx.client_id, user_id=ctx.user_id, verified=ctx.verified, remote=request.remote)
    hub.deliver(ctx, protocol.encode({
        "type": "connected", "clientId": ctx.client_id, "userId": ctx.user_id, "username": ctx.username,
        "authenticated": ctx.verified, "timestamp": protocol.now_ms(),
        "message": "Connected to Sportsbook & Betting Markets WebSocket",
    }), "connected")
    hub.deliver(ctx, hub.sportsbooks_frame(), "sportsbooks")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _on_text(app, hub, ws, ctx, msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"binary frames are not supported")
                break
            elif msg.type == WSMsgType.ERROR:
                log.info("socket_error", client_id=ctx.client_id, error=str(ws.exception()))
                break
    finally:
        hub.audience.remove(ctx)
        ctx.outbox.closing = True
        ctx.outbox.wake.set()
        writer.cancel()
        app[METRICS].sockets.dec()
        log.info("disconnected", client_id=ctx.client_id, code=ws.close_code)
    return ws


async def _identify(request: web.Request) -> tuple[Identity | None, str | None]:
    settings = request.app[SETTINGS]
    token = request_token(request)
    identity = await request.app[SERVICE].identity(token)
    if identity is None and settings.trust_user_id:
        name = request.query.get("username") or request.query.get("user_id")
        if name:
            ledger = request.app[LEDGER]
            identity = await ledger.trusted_identity(request.query.get("user_id"), name)
    return identity, token


def _context(request: web.Request, identity: Identity | None, token: str | None, ws: web.WebSocketResponse) -> SocketContext:
    settings = request.app[SETTINGS]
    now = protocol.now_ms()
    ctx = SocketContext(
        client_id=f"client-{now}-{secrets.token_hex(5)}",
        user_id=identity.user_id if identity else request.query.get("user_id"),
        username=identity.username if identity else request.query.get("username"),
        token=token,
        token_id=identity.token_id if identity else None,
        connected_at=now,
        last_activity=now,
        last_ping=now,
        remote=request.remote,
        identity=identity,
        bucket=TokenBucket(settings.rate_limit, float(settings.rate_burst)),
        socket_ref=weakref.ref(ws),
    )
    transport = request.transport
    if transport is not None:
        try:
            ctx.transport_ref = weakref.ref(transport)
        except TypeError:
            ctx.transport_ref = None
    return ctx


async def _on_text(app: web.Application, hub: Hub, ws: web.WebSocketResponse, ctx: SocketContext, data: str) -> None:
    metrics = app[METRICS]
    now = time.monotonic()
    if not ctx.bucket.take(now):
        if now - ctx.last_strike > STRIKE_WINDOW:
            ctx.strikes = 0
        ctx.strikes += 1
        ctx.last_strike = now
        metrics.errors.labels(protocol.TOO_MANY).inc()
        if ctx.strikes >= FLOOD_STRIKES:
            log.warning("flood_closed", client_id=ctx.client_id, strikes=ctx.strikes)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"rate limit exceeded repeatedly")
            return
        hub.deliver(ctx, protocol.encode(ProtocolError(protocol.TOO_MANY, "Rate limit exceeded").body()), "error")
        return
    ctx.last_activity = protocol.now_ms()
    msg_id: Any = None
    try:
        env = protocol.parse_message(data, app[LIMITS])
        msg_id = env.id
        metrics.messages_in.labels(env.type).inc()
        reply = await _dispatch(app, hub, ctx, env.command)
        hub.deliver(ctx, protocol.reply(reply, msg_id), reply["type"])
        if isinstance(env.command, Subscribe):
            hub.snapshot(ctx)
    except ProtocolError as exc:
        metrics.errors.labels(exc.code).inc()
        if msg_id is not None:
            exc.extra.setdefault("id", msg_id)
        hub.deliver(ctx, protocol.encode(exc.body()), "error")
    except Exception:
        log.exception("handler_failed", client_id=ctx.client_id)
        metrics.errors.labels(protocol.INTERNAL).inc()
        hub.deliver(ctx, protocol.reply({"type": "error", "message": "internal error", "code": protocol.INTERNAL}, msg_id), "error")


async def _dispatch(app: web.Application, hub: Hub, ctx: SocketContext, cmd: Any) -> dict[str, Any]:
    service = app[SERVICE]
    if isinstance(cmd, Ping):
        ctx.last_ping = protocol.now_ms()
        return {"type": "pong", "timestamp": ctx.last_ping}
    if isinstance(cmd, (Subscribe, Unsubscribe)):
        adding = isinstance(cmd, Subscribe)
        ctx.apply(cmd.filters, adding)
        hub.audience.resubscribe(ctx)
        state = protocol.subscription_state(
            ctx.subscribed_sportsbooks, ctx.subscribed_markets, ctx.subscribed_arbitrage,
            ctx.market_type_filters, ctx.sport_filters,
        )
        return {"type": "subscribed" if adding else "unsubscribed", "subscriptions": state, "timestamp": protocol.now_ms()}
    if isinstance(cmd, GetMarkets):
        return {"type": "market_update", **service.markets(cmd)}
    if isinstance(cmd, GetArbitrage):
        return {"type": "arbitrage_update", **service.opportunities(cmd)}
    if isinstance(cmd, PlaceBet):
        bet, duplicate = await service.place_bet(ctx.identity, cmd)
        if not duplicate:
            app[METRICS].bets.inc()
            log.info("bet_placed", bet_id=bet.id, user_id=bet.user_id, stake_cents=bet.stake_cents, odds=bet.odds)
        return {"type": "bet_placed", "bet": bet_view(bet), "duplicate": duplicate, "timestamp": protocol.now_ms()}
    if isinstance(cmd, GetBets):
        bets = await service.bets(ctx.identity, cmd)
        return {"type": "bets", "bets": [bet_view(b) for b in bets], "total": len(bets), "timestamp": protocol.now_ms()}
    raise AssertionError(f"unhandled command {cmd!r}")
