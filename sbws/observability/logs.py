"""Structured logging: one JSON object per line on stderr, rendered by orjson."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import datetime, timezone

import orjson
import structlog


def configure(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    out = structlog.BytesLogger(file=sys.stderr.buffer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_args: out,  # one writer: a logger per call cost 5 % of the accept path
        cache_logger_on_first_use=False,
    )
    # aiohttp's access log would be a second, unstructured format.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # Libraries log through the standard module: the same one-line JSON, never a bare traceback.
    root = logging.getLogger()
    root.handlers[:] = [JsonLineHandler()]
    root.setLevel(numeric)


class JsonLineHandler(logging.Handler):
    """Standard-library records as one JSON line each.

    A client's malformed request (an HTTP 4xx that aiohttp reports with an
    exception) is logged as one line naming the error, without a traceback;
    anything else keeps its traceback, as a field of the same line.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line: dict[str, object] = {
                "event": record.getMessage(), "logger": record.name, "level": record.levelname.lower(),
                "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat().replace("+00:00", "Z"),
            }
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None:
                line["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
                if client_error(exc):
                    line["level"] = "info"
                else:
                    line["exception"] = "".join(traceback.format_exception(exc))
            sys.stderr.buffer.write(orjson.dumps(line) + b"\n")
            sys.stderr.buffer.flush()
        except Exception:  # a logging failure must never take a request down with it
            self.handleError(record)


def client_error(exc: BaseException) -> bool:
    """An HTTP protocol error the client caused: aiohttp gives it a 4xx code, itself or on its cause."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        status = getattr(seen, "code", None)
        if isinstance(status, int) and 400 <= status < 500:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def redact(url: str) -> str:
    """Connection strings go to the log without their password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url


class Throttle:
    """At most one log line per ``seconds`` for a repeating event; counts what it held back."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.last = float("-inf")
        self.held = 0

    def ready(self, now: float) -> int | None:
        """None while throttled; otherwise how many events were held back since the last line."""
        if now - self.last < self.seconds:
            self.held += 1
            return None
        held, self.held, self.last = self.held, 0, now
        return held
