"""Betfair Exchange Stream API client: ``--feed betfair-stream``.

A TLS socket of CRLF-delimited JSON.  The server greets with ``connection``;
the client sends ``authentication`` (app key and session token, from
``SBWS_BETFAIR_APP_KEY`` / ``SBWS_BETFAIR_SESSION``) and a
``marketSubscription`` (market filter, data filter, ``conflateMs``,
``heartbeatMs``); each request is answered by a ``status``.  Market changes
(``mcm``) go through the same cache and mapping as the files
(``betfair.Mapper``); a heartbeat (``ct: HEARTBEAT``) only says the stream is
alive.  After a dropped connection, or a ``status`` with
``connectionClosed``, the client waits (exponential backoff with jitter,
reset by a successful subscription), reconnects and resubscribes with the
``initialClk`` and ``clk`` it last received, and the server answers with a
``RESUB_DELTA``.  ``is_healthy`` is true only while subscribed and hearing
something within three heartbeat intervals.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import structlog
from attrs import frozen

from ..errors import ConfigError, FeedError
from ..market.records import DEGRADED, ONLINE, Batch, BookStatus
from .base import NO_QUOTA
from .betfair import BOOK, Mapper

log = structlog.get_logger("sbws.feeds.betfair_live")

MAX_LINE = 16 * 1024 * 1024
"""A subscription image of many markets is one line."""


@frozen
class Subscription:
    event_types: tuple[str, ...] = ("7", "4339")
    market_types: tuple[str, ...] = ("WIN", "PLACE")
    countries: tuple[str, ...] = ()
    market_ids: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("EX_BEST_OFFERS_DISP", "EX_TRADED", "EX_LTP", "EX_MARKET_DEF")
    ladder_levels: int = 3
    conflate_ms: int = 0
    heartbeat_ms: int = 5000

    def request(self, request_id: int, initial_clk: str | None, clk: str | None) -> dict[str, Any]:
        market_filter: dict[str, Any] = {}
        if self.market_ids:
            market_filter["marketIds"] = list(self.market_ids)
        if self.event_types:
            market_filter["eventTypeIds"] = list(self.event_types)
        if self.market_types:
            market_filter["marketTypes"] = list(self.market_types)
        if self.countries:
            market_filter["countryCodes"] = list(self.countries)
        out: dict[str, Any] = {"op": "marketSubscription", "id": request_id, "marketFilter": market_filter,
                               "marketDataFilter": {"fields": list(self.fields), "ladderLevels": self.ladder_levels},
                               "conflateMs": self.conflate_ms, "heartbeatMs": self.heartbeat_ms}
        if initial_clk is not None and clk is not None:
            out["initialClk"], out["clk"] = initial_clk, clk
        return out


class StreamClosed(FeedError):
    """The stream said it closes the connection (``connectionClosed``), or the socket ended."""


class BetfairStream:
    name = "betfair-stream"
    quota = NO_QUOTA

    def __init__(self, host: str, port: int, app_key: str, session: str, subscription: Subscription = Subscription(),
                 ssl_context: ssl.SSLContext | None = None, depth: int = 3, backoff: float = 1.0,
                 backoff_cap: float = 60.0, timeout: float = 15.0) -> None:
        if not app_key or not session:
            raise ConfigError("--feed betfair-stream needs SBWS_BETFAIR_APP_KEY and SBWS_BETFAIR_SESSION")
        self.host, self.port = host, port
        self.app_key, self.session = app_key, session
        self.subscription = subscription
        self.ssl = ssl_context or ssl.create_default_context()
        self.mapper = Mapper(depth=depth)
        self.backoff, self.backoff_cap, self.timeout = backoff, backoff_cap, timeout
        self.failures = 0
        self.subscribed = False
        self.last_heard = 0.0
        self.connections = 0
        self.rng = random.Random()

    def is_healthy(self, now: float) -> bool:
        return self.subscribed and now - self.last_heard < 3 * self.subscription.heartbeat_ms / 1000.0

    def next_delay(self) -> float:
        delay = min(self.backoff_cap, self.backoff * 2.0 ** min(self.failures - 1, 10))
        return delay * self.rng.uniform(0.5, 1.0)

    async def batches(self) -> AsyncIterator[Batch]:
        while True:
            try:
                async for batch in self._session():
                    yield batch
            except (OSError, asyncio.TimeoutError, StreamClosed, ValueError) as exc:
                self.subscribed = False
                self.failures += 1
                log.warning("betfair_stream_dropped", reason=f"{type(exc).__name__}: {exc}", failures=self.failures,
                            retry_in=round(self.next_delay(), 2))
                yield Batch(time.time(), statuses=[BookStatus(BOOK, "Betfair Exchange", DEGRADED)])
            await asyncio.sleep(self.next_delay())

    async def _session(self) -> AsyncIterator[Batch]:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=MAX_LINE), self.timeout)
        self.connections += 1
        try:
            greeting = await self._read(reader)
            if greeting.get("op") != "connection":
                raise StreamClosed(f"expected a connection message, got {greeting.get('op')!r}")
            await self._request(reader, writer, {"op": "authentication", "id": 1, "appKey": self.app_key,
                                                 "session": self.session})
            cache = self.mapper.cache
            await self._request(reader, writer, self.subscription.request(2, cache.initial_clk, cache.clk))
            self.subscribed, self.failures = True, 0
            log.info("betfair_stream_subscribed", resumed=cache.clk is not None, connection=self.connections)
            yield Batch(time.time(), statuses=[BookStatus(BOOK, "Betfair Exchange", ONLINE)])
            while True:
                message = await self._read(reader)
                if message.get("op") == "status":
                    self._check(message)
                    continue
                if message.get("op") != "mcm":
                    continue
                batch = self.mapper.batch(message, lambda ms: ms / 1000.0)  # live: Betfair's times are ours
                if message.get("mc"):  # a heartbeat only moves the clocks
                    yield batch
        finally:
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        wait = max(self.timeout, 3 * self.subscription.heartbeat_ms / 1000.0)
        line = await asyncio.wait_for(reader.readline(), wait)
        if not line:
            raise StreamClosed("the stream closed the connection")
        self.last_heard = time.time()
        message = orjson.loads(line)
        if not isinstance(message, dict):
            raise ValueError("a stream message is not an object")
        return message

    async def _request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       request: Mapping[str, Any]) -> None:
        writer.write(orjson.dumps(request) + b"\r\n")
        await writer.drain()
        while True:
            message = await self._read(reader)
            if message.get("op") == "status" and message.get("id") == request["id"]:
                self._check(message)
                return

    @staticmethod
    def _check(status: Mapping[str, Any]) -> None:
        if status.get("statusCode") != "SUCCESS" or status.get("connectionClosed"):
            raise StreamClosed(f"{status.get('errorCode', 'FAILURE')}: {status.get('errorMessage', '')}".strip())
