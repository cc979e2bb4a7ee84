"""The HTTP door: REST API, health, metrics, API documents and the dashboard."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.aiohttp import make_aiohttp_handler

from ..clock import now_ms
from ..errors import BAD_REQUEST, UNAUTHORIZED, LedgerUnavailable, ProtocolError
from ..ledger.models import Identity
from ..signals import KINDS, Kind
from ..wire import commands, views
from ..wire.documents import rendered
from ..wire.limits import Limits
from .auth import request_token
from .budget import spend_history
from .errors import json_response
from .keys import LEDGER, LIMITS, METRICS, NODE, READY, SERVICE, SETTINGS

log = structlog.get_logger("sbws.http")


def static_dir() -> Path:
    return Path(str(files("sbws.static")))


async def sportsbooks(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    books = views.sportsbooks(service.state, service.active_bets)
    return json_response({"sportsbooks": books, "total": len(books), "timestamp": now_ms()})


async def markets(request: web.Request) -> web.Response:
    q = commands.parse_get_markets(commands.query_payload(request.query, "get_markets"))
    return json_response(request.app[SERVICE].markets(q))


async def market(request: web.Request) -> web.Response:
    body = request.app[SERVICE].market(request.match_info["market_id"])
    return web.Response(body=body, content_type="application/json")


def _signals(kind: Kind) -> Handler:
    """``GET /api/<kind>``: the kind's request, its filters from the query string."""

    async def serve(request: web.Request) -> web.Response:
        q = commands.SIGNAL_PARSERS[kind.query](commands.query_payload(request.query, kind.query), request.app[LIMITS])
        return json_response(request.app[SERVICE].signals(q))

    return serve


async def history(request: web.Request) -> web.Response:
    query = commands.query_payload(request.query, "get_history")
    q = commands.parse_get_history(query, request.match_info["market_id"])
    spend_history(request.app, request.remote)
    return json_response(await request.app[SERVICE].history(q))


async def dutch(request: web.Request) -> web.Response:
    """``GET /api/dutch?marketId=&selections=a,b&stake=T``: the selections comma-separated."""
    query = commands.query_payload(request.query, "get_dutch")
    if isinstance(query.get("selections"), str):
        query["selections"] = query["selections"].split(",")
    limits = request.app[LIMITS]
    return json_response(request.app[SERVICE].dutch(commands.parse_get_dutch(query, limits.min_stake,
                                                                              limits.max_stake)))


async def matched(request: web.Request) -> web.Response:
    """``GET /api/matched?stake=S&type=qualifying|free_snr|free_sr``."""
    query = commands.query_payload(request.query, "get_matched")
    limits = request.app[LIMITS]
    return json_response(request.app[SERVICE].matched(commands.parse_get_matched(query, limits.min_stake,
                                                                                  limits.max_stake)))


async def _who(request: web.Request) -> Identity:
    identity = await request.app[SERVICE].identity(request_token(request))
    if identity is None:
        raise ProtocolError(UNAUTHORIZED, "Authentication required: Authorization: Bearer TOKEN")
    return identity


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        payload = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ProtocolError(BAD_REQUEST, "invalid JSON") from None
    if not isinstance(payload, dict):
        raise ProtocolError(BAD_REQUEST, "body must be a JSON object")
    return payload


async def place_bet(request: web.Request) -> web.Response:
    who = await _who(request)
    payload = await _body(request)
    cmd = commands.parse_place_bet(payload, request.app[LIMITS].min_stake, request.app[LIMITS].max_stake)
    bet, duplicate = await request.app[SERVICE].place_bet(who, cmd)
    if not duplicate:
        request.app[METRICS].bets.inc()
        log.info("bet_placed", bet_id=bet.id, user_id=bet.user_id, stake_cents=bet.stake_cents, odds=bet.odds)
    return json_response({"bet": views.bet(bet), "duplicate": duplicate}, 200 if duplicate else 201)


async def get_bets(request: web.Request) -> web.Response:
    who = await _who(request)
    q = commands.parse_get_bets(commands.query_payload(request.query, "get_bets"))
    return json_response(await request.app[SERVICE].bets(who, q))


async def exposure(request: web.Request) -> web.Response:
    """``GET /api/exposure?marketId=``: the caller's profit if each selection wins (token required)."""
    who = await _who(request)
    query = commands.query_payload(request.query, "get_exposure")
    return json_response(await request.app[SERVICE].exposure(who, commands.parse_get_exposure(query)))


async def _rules_changed(request: web.Request) -> None:
    """The leader reads rules every few seconds; this node reads them now."""
    await request.app[NODE].alerter.reload()


async def create_rule(request: web.Request) -> web.Response:
    who = await _who(request)
    body = await request.app[SERVICE].create_rule(who, commands.parse_alert_rule(await _body(request)))
    await _rules_changed(request)
    return json_response(body, 201)


async def list_alerts(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].alerts(await _who(request)))


async def delete_rule(request: web.Request) -> web.Response:
    who = await _who(request)
    await request.app[SERVICE].delete_rule(who, request.match_info["rule_id"])
    await _rules_changed(request)
    return web.Response(status=204)


async def mute_rule(request: web.Request) -> web.Response:
    who = await _who(request)
    until = commands.parse_muted_until(await _body(request))
    body = await request.app[SERVICE].mute_rule(who, request.match_info["rule_id"], until)
    await _rules_changed(request)
    return json_response(body)


async def create_webhook(request: web.Request) -> web.Response:
    who = await _who(request)
    spec = commands.parse_webhook(await _body(request), request.app[SETTINGS].allow_private_webhooks)
    return json_response(await request.app[SERVICE].create_webhook(who, spec), 201)


async def list_webhooks(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICE].webhooks(await _who(request)))


async def deliveries(request: web.Request) -> web.Response:
    who = await _who(request)
    return json_response(await request.app[SERVICE].deliveries(who, request.match_info["webhook_id"]))


async def livez(request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


READY_TIMEOUT = 2.0
"""Seconds /readyz waits for the ledger's probe write before it reports the ledger not ready."""


async def _ledger_writable(app: web.Application) -> bool:
    try:
        return await asyncio.wait_for(app[LEDGER].writable(), READY_TIMEOUT)
    except (asyncio.TimeoutError, LedgerUnavailable):
        return False


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks = {"started": app[READY]["ready"], "feed": app[NODE].healthy()}
    checks["ledger"] = checks["started"] and await _ledger_writable(app)
    ok = all(checks.values())
    body = {"status": "ready" if ok else "not ready", "checks": checks, "leader": app[NODE].broker.is_leader}
    return json_response(body, 200 if ok else 503)


def _document(name: str, limits: Limits) -> Handler:
    """The API document with this server's own limits (its --min-stake and --max-stake) written in."""
    body = rendered(name, limits)

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return serve


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(static_dir() / "index.html")


def add_routes(app: web.Application) -> None:
    metrics_handler = make_aiohttp_handler(app[METRICS].registry)
    app.router.add_get("/api/sportsbooks", sportsbooks)
    app.router.add_get("/api/markets", markets)
    app.router.add_get("/api/markets/{market_id}", market)
    app.router.add_get("/api/markets/{market_id}/history", history)
    app.router.add_get("/api/dutch", dutch)
    app.router.add_get("/api/matched", matched)
    for kind in KINDS:
        app.router.add_get(f"/api/{kind.name}", _signals(kind))
    app.router.add_post("/api/bets", place_bet)
    app.router.add_get("/api/bets", get_bets)
    app.router.add_get("/api/exposure", exposure)
    app.router.add_post("/api/alerts", create_rule)
    app.router.add_get("/api/alerts", list_alerts)
    app.router.add_delete("/api/alerts/{rule_id}", delete_rule)
    app.router.add_patch("/api/alerts/{rule_id}", mute_rule)
    app.router.add_post("/api/webhooks", create_webhook)
    app.router.add_get("/api/webhooks", list_webhooks)
    app.router.add_get("/api/webhooks/{webhook_id}/deliveries", deliveries)
    app.router.add_get("/api/openapi.json", _document("openapi.json", app[LIMITS]))
    app.router.add_get("/asyncapi.json", _document("asyncapi.json", app[LIMITS]))
    app.router.add_get("/livez", livez)
    app.router.add_get("/healthz", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/", index)
    app.router.add_static("/static", static_dir())
