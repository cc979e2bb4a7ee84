"""Helpers shared by the tests: a scripted feed, a known market, settings, socket and ledger helpers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson

from engine.board import Quote
from engine.markets import MONEYLINE, SPREAD, TOTAL, MarketKey
from sbws.feeds.base import NO_QUOTA
from sbws.ledger import plans
from sbws.ledger.sqlite import SqliteDriver
from sbws.market.records import Batch, BookStatus, EventInfo
from sbws.server.keys import SERVICE
from sbws.settings import Settings
from sbws.client.state import State

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
if not SHARED.exists():
    SHARED = Path(os.environ.get("SBWS_SHARED", "/work/shared"))


class ScriptedFeed:
    """A feed the test drives batch by batch."""

    name = "scripted"
    quota = NO_QUOTA

    def __init__(self, batches: list[Batch] | None = None) -> None:
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        for b in batches or []:
            self.queue.put_nowait(b)

    def push(self, batch: Batch) -> None:
        self.queue.put_nowait(batch)

    healthy = True

    def is_healthy(self, now: float) -> bool:
        return self.healthy

    async def batches(self) -> AsyncIterator[Batch]:
        while True:
            yield await self.queue.get()


FUTURE = int((time.time() + 3600) * 1000)
EVENTS = (
    EventInfo("lal-bos", "NBA", "NBA", "Celtics", "Lakers", FUTURE),
    EventInfo("kc-buf", "NFL", "NFL", "Bills", "Chiefs", FUTURE),
    EventInfo("ars-che", "Soccer", "EPL", "Arsenal", "Chelsea", FUTURE, three_way=True),
)
BOOKS = ("pinnacle", "draftkings", "fanduel", "betfair")


def opening_batch(ts: float | None = None) -> Batch:
    """A small known market: one 2-way arbitrage on the NBA spread (pinnacle vs draftkings)."""
    ts = time.time() if ts is None else ts
    specs = [
        MarketKey("lal-bos", MONEYLINE),
        MarketKey("lal-bos", SPREAD, -3.5),
        MarketKey("lal-bos", TOTAL, 221.5),
        MarketKey("kc-buf", MONEYLINE),
        MarketKey("ars-che", MONEYLINE, None, True),
    ]
    q = [
        # NBA moneyline: no arbitrage
        Quote("lal-bos:moneyline", 0, "pinnacle", 1.60, ts), Quote("lal-bos:moneyline", 1, "pinnacle", 2.40, ts),
        Quote("lal-bos:moneyline", 0, "draftkings", 1.55, ts), Quote("lal-bos:moneyline", 1, "draftkings", 2.45, ts),
        # NBA spread -3.5: pinnacle home 2.10 + draftkings away 2.05 -> arbitrage
        Quote("lal-bos:spread:-3.5", 0, "pinnacle", 2.10, ts), Quote("lal-bos:spread:-3.5", 1, "pinnacle", 1.80, ts),
        Quote("lal-bos:spread:-3.5", 0, "draftkings", 1.80, ts), Quote("lal-bos:spread:-3.5", 1, "draftkings", 2.05, ts),
        # NBA total
        Quote("lal-bos:total:+221.5", 0, "fanduel", 1.91, ts), Quote("lal-bos:total:+221.5", 1, "fanduel", 1.91, ts),
        # NFL moneyline, fanduel only
        Quote("kc-buf:moneyline", 0, "fanduel", 1.80, ts), Quote("kc-buf:moneyline", 1, "fanduel", 2.00, ts),
        # Soccer 1X2: no arbitrage
        Quote("ars-che:moneyline", 0, "pinnacle", 2.00, ts), Quote("ars-che:moneyline", 1, "pinnacle", 3.40, ts),
        Quote("ars-che:moneyline", 2, "pinnacle", 3.80, ts), Quote("ars-che:moneyline", 0, "betfair", 2.02, ts),
    ]
    statuses = [BookStatus(b, b.title(), "online", 80, int(ts * 1000)) for b in BOOKS]
    return Batch(ts, EVENTS, specs, q, (), (), statuses)


def fast_settings(tmp_path: Path, **overrides: object) -> Settings:
    base = dict(
        db=str(tmp_path / "ledger.db"),
        market_interval=0.05,
        arbitrage_interval=0.05,
        heartbeat_interval=30.0,
        max_quote_age=0.0,
    )
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


def app_state(client):  # type: ignore[no-untyped-def]
    return client.server.app[SERVICE].state


async def wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make_user(db: str, name: str = "trader") -> str:
    store = SqliteDriver(db)
    try:
        store.run(plans.add_user(name))
        return store.run(plans.issue_token(name))[1]
    finally:
        store.close()


async def receive_type(ws, kind: str, timeout: float = 5.0, skip=("heartbeat", "sportsbooks")):  # type: ignore[no-untyped-def]
    """Next message of a type ("*": any), skipping others; an unexpected error fails loudly."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} message in time")
        msg = await ws.receive_json(timeout=left)
        if msg["type"] in skip:
            continue
        if msg["type"] == kind or kind == "*":
            return msg
        if msg["type"] == "error":
            raise AssertionError(f"expected {kind}, got error {msg}")


async def connect(client, path: str = "/ws/sportsbooks", **kw):  # type: ignore[no-untyped-def]
    ws = await client.ws_connect(path, **kw)
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "connected"
    books = await ws.receive_json(timeout=5)
    assert books["type"] == "sportsbooks"
    return ws, hello


def dumps(obj: object) -> str:
    return orjson.dumps(obj).decode()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """One whole server frame, header included, off a raw socket (server frames are unmasked)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    extra = b""
    if length == 126:
        extra = await reader.readexactly(2)
        length = int.from_bytes(extra, "big")
    elif length == 127:
        extra = await reader.readexactly(8)
        length = int.from_bytes(extra, "big")
    return head + extra + await reader.readexactly(length)


@contextlib.contextmanager
def structured_logs(level: str = "info") -> Iterator[None]:
    """The server's JSON logging for one test, undone afterwards (capture it with capsys)."""
    import logging

    import structlog

    from sbws.observability.logs import configure

    configure(level)
    try:
        yield
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)


class V2Client:
    """A raw v2 socket whose state is reduced by the Python client's own ``State`` (``sbws.client``, written
    from docs/protocol.md): tests that need every frame read them here, the rest use ``sbws.client.Client``."""

    def __init__(self, ws):
        self.ws = ws
        self.state = State()
        self.seen: list[dict] = []

    @property
    def markets(self) -> dict:
        return self.state.markets

    @markets.setter
    def markets(self, value: dict) -> None:
        self.state.markets = value

    @property
    def position(self):
        return self.state.position

    def take(self, msg):
        self.seen.append(msg)
        if msg["type"] == "market_update" and msg.get("id") is None:
            assert msg.get("image") or msg.get("delta") is True, msg
        self.state.take(copy.deepcopy(msg))  # the state keeps image objects; seen stays as received

    async def until(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.ws.receive_json(timeout=max(0.01, deadline - time.monotonic()))
            self.take(msg)
            if predicate(msg):
                return msg

    async def request(self, kind, payload, msg_id):
        await self.ws.send_json({"type": kind, "id": msg_id, "payload": payload})
        return await self.until(lambda m: m.get("id") == msg_id)

    async def server_markets(self, msg_id):
        reply = await self.request("get_markets", {"limit": 1000}, msg_id)
        return reply, {m["id"]: m for m in reply["markets"] if m["status"] == "open"}
