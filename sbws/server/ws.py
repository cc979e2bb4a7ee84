"""The WebSocket door: upgrade, identity, then read, parse and dispatch.

Parsing lives in ``wire.commands``, the operations in ``service``, delivery in
``fanout``; this module only connects them to one socket.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, assert_never

import structlog
from aiohttp import WSMsgType, web

from ..clock import now_ms
from ..errors import BAD_REQUEST, FORBIDDEN, TOO_MANY, UNAVAILABLE, ProtocolError
from ..fanout.broadcaster import Broadcaster
from ..fanout.context import SocketContext
from ..fanout.transport import CloseCode
from ..ledger.models import Identity
from ..observability.logs import Throttle
from .. import signals
from ..wire import commands, views
from ..wire.commands import (
    Command, GetBets, GetDutch, GetExposure, GetHistory, GetMarkets, GetMatched, GetSignals, Ping, PlaceBet, Subscribe,
    Unsubscribe,
)
from ..wire.limits import MAX_ID_LENGTH, MAX_LIST, SNAPSHOT_COST, TokenBucket
from .adapter import MaskedWebSocketResponse, SocketTransport
from .auth import loopback_host, origin_allowed, request_token
from .budget import spend_history
from .errors import translate
from .keys import CONNECTIONS, LEDGER, LIMITS, METRICS, NODE, SERVICE, SETTINGS, SOCKETS

log = structlog.get_logger("sbws.ws")

REFUSALS = Throttle(5.0)
FLOOD_STRIKES = 50
STRIKE_WINDOW = 10.0


async def handler(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    ws = MaskedWebSocketResponse(
        compress=settings.compress,
        max_msg_size=settings.max_message_bytes,
        heartbeat=settings.heartbeat_interval,
        autoping=False,  # pings are answered here, so they count against the rate limit
    )
    if not ws.can_prepare(request).ok:
        raise ProtocolError(BAD_REQUEST, "this endpoint speaks WebSocket only: send an Upgrade request")
    protocol = protocol_version(request)  # a bad version is refused before the upgrade
    if not origin_allowed(request, settings.allowed_origins, settings.public_origin):
        log.warning("origin_refused", origin=request.headers.get("Origin"), remote=request.remote)
        raise ProtocolError(FORBIDDEN, "cross-site WebSocket refused: origin not allowed")
    if settings.trust_user_id and not loopback_host(request):
        log.warning("host_refused", host=request.host, remote=request.remote)
        raise ProtocolError(FORBIDDEN, "--trust-user-id accepts only loopback Host names (localhost, 127.0.0.1, ::1)")
    address = request.remote or ""
    refused = app[CONNECTIONS].admit(address)
    if refused is not None:
        app[METRICS].refused.labels(refused).inc()
        held = REFUSALS.ready(time.monotonic())
        if held is not None:
            log.warning("connection_refused", limit=refused, remote=address, not_logged_since=held)
        if refused == "server":
            raise ProtocolError(UNAVAILABLE, "the server is at its connection limit; retry later",
                                reason="too many connections", retryable=True)
        raise ProtocolError(TOO_MANY, "too many connections from your address", reason="too many connections")
    try:
        return await _serve(request, ws, protocol)
    finally:
        app[CONNECTIONS].release(address)


async def _serve(request: web.Request, ws: MaskedWebSocketResponse, protocol: int) -> web.WebSocketResponse:
    app = request.app
    identity, token = await _identify(request)
    await ws.prepare(request)
    fanout = app[NODE].broadcaster
    ctx = _context(request, identity, token, ws, protocol, fanout)
    app[SOCKETS][ws] = ctx
    fanout.attach(ctx)
    app[METRICS].sockets.inc()
    log.info("connected", client_id=ctx.client_id, user_id=ctx.user_id, claimed_user_id=ctx.claimed_user_id,
             verified=ctx.verified, remote=request.remote)
    hello: dict[str, Any] = {
        "type": "connected", "clientId": ctx.client_id, "userId": ctx.user_id, "username": ctx.username,
        "authenticated": ctx.verified, "timestamp": now_ms(),
        "message": "Connected to Sportsbook & Betting Markets WebSocket",
    }
    if ctx.claimed_user_id is not None:
        hello["claimedUserId"] = ctx.claimed_user_id
    fanout.greet(ctx, hello)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _on_text(app, fanout, ws, ctx, msg.data)
            elif msg.type == WSMsgType.PING:
                if await _within_rate(app, fanout, ws, ctx, None):
                    await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                continue
            elif msg.type == WSMsgType.BINARY:
                await ws.close(code=CloseCode.UNSUPPORTED_DATA, message=b"binary frames are not supported")
                break
            elif msg.type == WSMsgType.ERROR:
                log.info("socket_error", client_id=ctx.client_id, error=str(ws.exception()))
                break
    finally:
        fanout.detach(ctx)
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
            identity = await request.app[LEDGER].trusted_identity(request.query.get("user_id"), name)
    return identity, token


def _context(request: web.Request, identity: Identity | None, token: str | None, ws: web.WebSocketResponse,
             protocol: int, fanout: Broadcaster) -> SocketContext:
    settings = request.app[SETTINGS]
    now = now_ms()
    claimed = None if identity else (request.query.get("user_id") or request.query.get("username") or None)
    return SocketContext(
        client_id=f"client-{now}-{secrets.token_hex(5)}",
        user_id=identity.user_id if identity else None,
        username=identity.username if identity else None,
        claimed_user_id=claimed[:MAX_ID_LENGTH] if claimed else None,
        token=token,
        token_id=identity.token_id if identity else None,
        connected_at=now,
        last_activity=now,
        last_ping=now,
        remote=request.remote,
        identity=identity,
        bucket=TokenBucket(settings.rate_limit, float(settings.rate_burst)),
        transport=SocketTransport(ws, request.transport, direct=not settings.compress),
        protocol=protocol,
        outbox=fanout.outbox(protocol),
    )


def protocol_version(request: web.Request) -> int:
    """``?v=2`` opts in to images, deltas and resume; anything else is the design document's protocol."""
    version = request.query.get("v", "1")
    if version not in ("1", "2"):
        raise ProtocolError(BAD_REQUEST, "v: protocol version must be 1 or 2", "v")
    return int(version)


async def _within_rate(app: web.Application, fanout: Broadcaster, ws: web.WebSocketResponse, ctx: SocketContext,
                       data: str | None) -> bool:
    """One message (a text frame's ``data``, or a ping: None) against the socket's bucket; a refused text frame
    gets NX-429 with its ``id``; a flood closes with 1008."""
    now = time.monotonic()
    if ctx.bucket.take(now):
        return True
    if now - ctx.last_strike > STRIKE_WINDOW:
        ctx.strikes = 0
    ctx.strikes += 1
    ctx.last_strike = now
    app[METRICS].errors.labels(TOO_MANY).inc()
    if ctx.strikes >= FLOOD_STRIKES:
        log.warning("flood_closed", client_id=ctx.client_id, strikes=ctx.strikes)
        await ws.close(code=CloseCode.POLICY_VIOLATION, message=b"rate limit exceeded repeatedly")
    elif data is not None:
        refused = ProtocolError(TOO_MANY, "Rate limit exceeded", retryable=True)
        msg_id = commands.message_id(data)
        if msg_id is not None:
            refused.extra["id"] = msg_id
        fanout.error(ctx, refused.body())
    return False


def _afford_snapshot(app: web.Application, ctx: SocketContext) -> None:
    """A (un)subscribe builds an image: it costs its weight in the socket's rate bucket, and the address's
    sockets share a budget of images; refused, it changes nothing (NX-429)."""
    now = time.monotonic()
    if not ctx.bucket.take(now, SNAPSHOT_COST):
        raise ProtocolError(TOO_MANY, "subscribing too often: each (un)subscribe costs a snapshot; slow down",
                            reason="snapshot rate", retryable=True)
    if not app[CONNECTIONS].snapshot_allowed(ctx.remote or "", now):
        raise ProtocolError(TOO_MANY, "too many snapshots from your address; slow down", reason="snapshot rate",
                            retryable=True)


async def _on_text(app: web.Application, fanout: Broadcaster, ws: web.WebSocketResponse, ctx: SocketContext,
                   data: str) -> None:
    metrics = app[METRICS]
    if not await _within_rate(app, fanout, ws, ctx, data):
        return
    ctx.last_activity = now_ms()
    msg_id: str | int | None = None
    try:
        env = commands.parse_message(data, app[LIMITS])
        msg_id = env.id
        metrics.messages_in.labels(env.type).inc()
        reply = await _dispatch(app, fanout, ctx, env.command)
        fanout.reply(ctx, reply, msg_id)
        fanout.after_command(ctx, env.command)
    except Exception as exc:
        _status, body = translate(exc, metrics, msg_id, client_id=ctx.client_id)
        fanout.error(ctx, body)


async def _dispatch(app: web.Application, fanout: Broadcaster, ctx: SocketContext, cmd: Command) -> dict[str, Any]:
    service = app[SERVICE]
    if isinstance(cmd, Ping):
        ctx.last_ping = now_ms()
        return {"type": "pong", "timestamp": ctx.last_ping}
    if isinstance(cmd, (Subscribe, Unsubscribe)):
        adding = isinstance(cmd, Subscribe)
        if adding:
            ctx.check_room(cmd.filters, app[SETTINGS].max_subscribed_markets, MAX_LIST)
        _afford_snapshot(app, ctx)
        fanout.subscribe(ctx, cmd.filters, adding)
        state = views.subscriptions(ctx.subscription())
        return {"type": "subscribed" if adding else "unsubscribed", "subscriptions": state, "timestamp": now_ms()}
    if isinstance(cmd, GetMarkets):
        return {"type": "market_update", **service.markets(cmd)}
    if isinstance(cmd, GetSignals):
        return {"type": signals.BY_NAME[cmd.kind].push, **service.signals(cmd)}
    if isinstance(cmd, GetHistory):
        spend_history(app, ctx.remote)
        return {"type": "history", **await service.history(cmd)}
    if isinstance(cmd, GetDutch):
        return {"type": "dutch", **service.dutch(cmd)}
    if isinstance(cmd, GetMatched):
        return {"type": "matched", **service.matched(cmd)}
    if isinstance(cmd, PlaceBet):
        bet, duplicate = await service.place_bet(ctx.identity, cmd)
        if not duplicate:
            app[METRICS].bets.inc()
            log.info("bet_placed", bet_id=bet.id, user_id=bet.user_id, stake_cents=bet.stake_cents, odds=bet.odds)
        return {"type": "bet_placed", "bet": views.bet(bet), "duplicate": duplicate, "timestamp": now_ms()}
    if isinstance(cmd, GetBets):
        return {"type": "bets", **await service.bets(ctx.identity, cmd)}
    if isinstance(cmd, GetExposure):
        return {"type": "exposure", **await service.exposure(ctx.identity, cmd)}
    assert_never(cmd)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ws/sportsbooks", handler)
