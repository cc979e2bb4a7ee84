"""Structured logging: one JSON object per line on stderr, rendered by orjson."""

from __future__ import annotations

import logging
import sys

import orjson
import structlog


def configure(level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.BytesLoggerFactory(file=sys.stderr.buffer),
        cache_logger_on_first_use=False,
    )
    # aiohttp's access log would be a second, unstructured format.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def redact(url: str) -> str:
    """Connection strings go to the log without their password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
