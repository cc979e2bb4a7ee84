"""Server messages out: whole frames as bytes, built once and shared by every socket that gets them.

List messages (``market_update``, ``arbitrage_update``) are spliced from
pre-encoded JSON objects, so a market's bytes are produced once per change
however many frames carry it.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from ..clock import now_ms
from ..market.state import MarketState
from . import views


def encode(message: Mapping[str, Any]) -> bytes:
    return orjson.dumps(message)


def reply(message: dict[str, Any], msg_id: str | int | None) -> bytes:
    if msg_id is not None:
        message["id"] = msg_id
    return orjson.dumps(message)


def splice(kind: bytes, key: bytes, fragments: Iterable[bytes], extra: bytes = b"") -> bytes:
    """One message whose list field is made of pre-encoded JSON objects."""
    ts = str(now_ms()).encode()
    published = f"{time.time() * 1000:.3f}".encode()
    return b"".join(
        (b'{"type":"', kind, b'","', key, b'":[', b",".join(fragments), b"]", extra,
         b',"timestamp":', ts, b',"publishedAt":', published, b"}")
    )


def market_update(fragments: Collection[bytes], conflated: bool = False) -> bytes:
    extra = b',"total":' + str(len(fragments)).encode() + (b',"conflated":true' if conflated else b"")
    return splice(b"market_update", b"markets", fragments, extra)


def closed_ids(ids: Iterable[str]) -> bytes:
    """The ``closed`` list of an arbitrage push, encoded once for every group."""
    return orjson.dumps(sorted(ids))


def arbitrage_update(opportunities: Collection[bytes], closed: bytes = b"[]") -> bytes:
    extra = b',"total":' + str(len(opportunities)).encode() + b',"closed":' + closed
    return splice(b"arbitrage_update", b"opportunities", opportunities, extra)


def value_update(items: Collection[bytes], closed: bytes = b"[]") -> bytes:
    extra = b',"total":' + str(len(items)).encode() + b',"closed":' + closed
    return splice(b"value_update", b"value", items, extra)


def middles_update(items: Collection[bytes], closed: bytes = b"[]") -> bytes:
    extra = b',"total":' + str(len(items)).encode() + b',"closed":' + closed
    return splice(b"middles_update", b"middles", items, extra)


def steam(event: Mapping[str, Any]) -> bytes:
    return encode({"type": "steam", "steam": event, "timestamp": now_ms()})


def sportsbooks(state: MarketState) -> bytes:
    books = views.sportsbooks(state)
    return encode({"type": "sportsbooks", "sportsbooks": books, "total": len(books), "timestamp": now_ms()})


def heartbeat(clients: int) -> bytes:
    return encode({"type": "heartbeat", "timestamp": now_ms(), "clients": clients})
