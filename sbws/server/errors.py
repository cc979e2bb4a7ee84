"""The one translation of errors into bodies, for both doors (WebSocket replies and HTTP responses)."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import BAD_REQUEST, HTTP_STATUS, INTERNAL, UNAVAILABLE, LedgerUnavailable, ProtocolError
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
    if isinstance(exc, LedgerUnavailable):
        log.warning("ledger_unavailable", error=str(exc), **context)
        return translate(ProtocolError(UNAVAILABLE, "the ledger is unavailable; nothing was written, retry shortly",
                                       reason="ledger unavailable", retryable=True), metrics, msg_id)
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
    except web.RequestPayloadError as exc:  # a body that cannot be read (bad gzip, truncated chunks)
        reason = " ".join(str(exc).split())
        log.info("unreadable_body", path=request.path, error=reason)
        status, body = translate(ProtocolError(BAD_REQUEST, f"unreadable request body: {reason}"), request.app[METRICS])
        return json_response(body, status)
    except Exception as exc:
        status, body = translate(exc, request.app[METRICS], path=request.path)
        return json_response(body, status)
