"""The HTTP side: REST API, health, metrics, API documents and the dashboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from . import protocol, views
from .app import HUB, LEDGER, LIMITS, METRICS, READY, SERVICE, feed_healthy, schemas_dir, static_dir
from .auth import request_token
from .protocol import ProtocolError
from .service import bet_view

log = structlog.get_logger("sbws.rest")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProtocolError as exc:
        request.app[METRICS].errors.labels(exc.code).inc()
        return json_response(exc.body(), protocol.HTTP_STATUS.get(exc.code, 400))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("http_handler_failed", path=request.path)
        request.app[METRICS].errors.labels(protocol.INTERNAL).inc()
        return json_response({"type": "error", "code": protocol.INTERNAL, "message": "internal error"}, 500)


async def sportsbooks(request: web.Request) -> web.Response:
    books = views.sportsbooks(request.app[SERVICE].state)
    return json_response({"sportsbooks": books, "total": len(books), "timestamp": protocol.now_ms()})


async def markets(request: web.Request) -> web.Response:
    q = protocol.parse_get_markets(protocol.query_payload(request.query, ("limit",)))
    return json_response(request.app[SERVICE].markets(q))


async def market(request: web.Request) -> web.Response:
    body = request.app[SERVICE].market(request.match_info["market_id"])
    return web.Response(body=body, content_type="application/json")


async def arbitrage(request: web.Request) -> web.Response:
    q = protocol.parse_get_arbitrage(protocol.query_payload(request.query, ("minEdge",)))
    return json_response(request.app[SERVICE].opportunities(q))


async def _who(request: web.Request) -> Any:
    identity = await request.app[SERVICE].identity(request_token(request))
    if identity is None:
        raise ProtocolError(protocol.UNAUTHORIZED, "Authentication required: Authorization: Bearer TOKEN")
    return identity


async def place_bet(request: web.Request) -> web.Response:
    who = await _who(request)
    raw = await request.read()
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(protocol.BAD_REQUEST, "invalid JSON") from None
    if not isinstance(payload, dict):
        raise ProtocolError(protocol.BAD_REQUEST, "body must be a JSON object")
    cmd = protocol.parse_place_bet(payload, request.app[LIMITS].min_stake, request.app[LIMITS].max_stake)
    bet, duplicate = await request.app[SERVICE].place_bet(who, cmd)
    if not duplicate:
        request.app[METRICS].bets.inc()
        log.info("bet_placed", bet_id=bet.id, user_id=bet.user_id, stake_cents=bet.stake_cents, odds=bet.odds)
    return json_response({"bet": bet_view(bet), "duplicate": duplicate}, 200 if duplicate else 201)


async def get_bets(request: web.Request) -> web.Response:
    who = await _who(request)
    q = protocol.parse_get_bets(protocol.query_payload(request.query, ("limit", "from", "to")))
    bets = await request.app[SERVICE].bets(who, q)
    return json_response({"bets": [bet_view(b) for b in bets], "total": len(bets), "timestamp": protocol.now_ms()})


async def livez(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks = {"started": app[READY]["ready"], "feed": feed_healthy(app)}
    ledger = app[LEDGER]
    checks["ledger"] = checks["started"] and await ledger.writable()
    ok = all(checks.values())
    body = {"status": "ready" if ok else "not ready", "checks": checks, "leader": app[HUB].broker.is_leader}
    return json_response(body, 200 if ok else 503)


def _document(name: str) -> Handler:
    body = (schemas_dir() / name).read_bytes()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return serve


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_dir() / "index.html")


def add_routes(app: web.Application) -> None:
    app.middlewares.append(errors)
    metrics_handler = make_aiohttp_handler(app[METRICS].registry)
    app.router.add_get("/api/sportsbooks", sportsbooks)
    app.router.add_get("/api/markets", markets)
    app.router.add_get("/api/markets/{market_id}", market)
    app.router.add_get("/api/arbitrage", arbitrage)
    app.router.add_post("/api/bets", place_bet)
    app.router.add_get("/api/bets", get_bets)
    app.router.add_get("/api/openapi.json", _document("openapi.json"))
    app.router.add_get("/asyncapi.json", _document("asyncapi.json"))
    app.router.add_get("/livez", livez)
    app.router.add_get("/healthz", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/", index)
    app.router.add_static("/static", static_dir())
