"""The one translation of errors into bodies, for both doors (WebSocket replies and HTTP responses)."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import HTTP_STATUS, INTERNAL, ProtocolError
from ..observability.metrics import Metrics
from .keys import METRICS

log = structlog.get_logger("sbws.server")


def translate(exc: Exception, metrics: Metrics, msg_id: str | int | None = None, **context: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, error body) for an exception; anything unexpected is logged with its traceback as NX-500.

    Call it from the ``except`` block that caught ``exc``.
    """
    if isinstance(exc, ProtocolError):
        metrics.errors.labels(exc.code).inc()
        if msg_id is not None:
            exc.extra.setdefault("id", msg_id)
        return HTTP_STATUS.get(exc.code, 400), exc.body()
    log.exception("handler_failed", **context)
    metrics.errors.labels(INTERNAL).inc()
    body: dict[str, Any] = {"type": "error", "message": "internal error", "code": INTERNAL}
    if msg_id is not None:
        body["id"] = msg_id
    return 500, body


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        status, body = translate(exc, request.app[METRICS], path=request.path)
        return json_response(body, status)
