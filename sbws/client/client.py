"""An asyncio client for sbws: one protocol-v2 socket, kept alive, reconnected and resumed.

It holds the reduced state (``markets``, ``items(kind)``), yields typed events,
matches replies to requests by id, and retries a bet with the same
``clientRef`` until the server says what became of it, so a retry never
places a second bet.  Imports nothing of the server: only the standard
library, aiohttp, orjson and attrs.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import orjson

from .errors import ClientError, ConnectFailed, ConnectionLost, RequestTimeout, ServerError
from .events import BetPlaced, Connected, Disconnected, Event, EventsDropped, Resumed, Resynced
from .state import State

SOCKET_PATH = "/ws/sportsbooks"
LIVE, RESUMED, RESYNCED, DISCONNECTED, CONNECTING, CLOSED = (
    "live", "resumed", "resynced", "disconnected", "connecting", "closed")
CAMEL = {"from_ms": "from", "to_ms": "to"}


def socket_url(url: str) -> str:
    """``ws://host:3000`` (or ``http://…``) as the v2 socket's URL: the default path, ``v=2``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme or "ws")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "v"] + [("v", "2")]
    return urlunsplit((scheme, parts.netloc, parts.path if parts.path not in ("", "/") else SOCKET_PATH,
                       urlencode(query), ""))


def payload(**fields: Any) -> dict[str, Any]:
    """Keyword arguments as a request payload: ``market_type`` is ``marketType``, ``from_ms`` is ``from``; None
    is left out."""
    out = {}
    for name, value in fields.items():
        if value is None:
            continue
        head, *rest = name.split("_")
        out[CAMEL.get(name, head + "".join(w.title() for w in rest))] = value
    return out


def money(amount: Decimal | int | float | str) -> orjson.Fragment:
    """An amount as the exact decimal the caller wrote (``Decimal("12.30")`` is sent as 12.30, not a float)."""
    value = Decimal(str(amount))
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    return orjson.Fragment(str(value).encode())


class _Reader:
    """One ``events()`` consumer: a bounded queue; when it falls behind, the oldest events go and are counted."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(size)
        self.dropped = 0

    def put(self, event: Event | None) -> None:
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.dropped += 1


class Client:
    """``async with Client("ws://127.0.0.1:3000", token=..., subscription={"arbitrage": True}) as c: ...``

    ``url`` may be a list of nodes: each reconnect tries the next.  ``subscription`` is a ``subscribe``
    payload (``docs/protocol.md``); without it the client only makes requests.
    """

    def __init__(self, url: str | Sequence[str], token: str | None = None,
                 subscription: Mapping[str, Any] | None = None, *, request_timeout: float = 10.0,
                 connect_timeout: float = 10.0, heartbeat: float = 20.0, backoff: float = 0.25,
                 max_backoff: float = 15.0, queue_size: int = 10_000, bet_attempts: int = 8,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.urls = [socket_url(u) for u in ([url] if isinstance(url, str) else url)]
        self.token = token
        self.subscription: dict[str, Any] | None = dict(subscription) if subscription is not None else None
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.queue_size = queue_size
        self.bet_attempts = bet_attempts
        self.state = State()
        self.status = CONNECTING
        """``connecting``, ``live``, ``resumed`` or ``resynced`` (how the current connection began),
        ``disconnected``, ``closed``."""
        self.url: str | None = None
        """The node connected to now."""
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = asyncio.Event()
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._readers: list[_Reader] = []
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._held = False
        """Whether the state came from an image (so a reconnect resumes it)."""
        self._last_error = "no attempt yet"
        self._rng = random.Random()

    # -- state ------------------------------------------------------------------------------------------
    @property
    def markets(self) -> dict[str, dict[str, Any]]:
        return self.state.markets

    def items(self, kind: str) -> dict[str, dict[str, Any]]:
        """The live items of one signal kind (``arbitrage``, ``value``, ``middles``, …) by id."""
        return self.state.items.get(kind, {})

    @property
    def position(self) -> tuple[str, int] | None:
        return self.state.position

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def __aenter__(self) -> Client:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect (and subscribe); ``ConnectFailed`` when that cannot happen within ``connect_timeout``.
        Later drops are reconnected in the background."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run(), name="sbws-client")
        try:
            await asyncio.wait_for(self._ready.wait(), self.connect_timeout)
        except asyncio.TimeoutError:
            error = self._last_error
            await self.close()
            raise ConnectFailed(f"could not connect to {self.urls[0]} within {self.connect_timeout:g} s: "
                                f"{error}") from None

    async def close(self) -> None:
        self._closing = True
        self.status = CLOSED
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._fail_pending(ConnectionLost("the client was closed"))
        for reader in self._readers:
            reader.put(None)
        if self._own_session and self._session is not None:
            await self._session.close()

    async def drop(self) -> None:
        """Close the socket as a network failure would (the client reconnects and resumes): for tests and
        for a trader's own failover."""
        if self._ws is not None:
            await self._ws.close()

    # -- events -------------------------------------------------------------------------------------------
    async def events(self) -> AsyncGenerator[Event, None]:
        """Every change from now on, in order.  The state when this is called is in ``markets`` and ``items``."""
        reader = _Reader(self.queue_size)
        self._readers.append(reader)
        try:
            while True:
                event = await reader.queue.get()
                if event is None:
                    return
                if reader.dropped:
                    dropped, reader.dropped = reader.dropped, 0
                    yield EventsDropped(dropped)
                yield event
        finally:
            self._readers.remove(reader)

    def _emit(self, event: Event) -> None:
        for reader in self._readers:
            reader.put(event)

    # -- the connection -----------------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        for turn in itertools.count():
            url = self.urls[turn % len(self.urls)]
            try:
                established = await self._connection(url)
                reason = "the connection closed"
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ClientError, ValueError) as exc:
                established, reason = False, f"{type(exc).__name__}: {exc}"
            self._last_error = reason
            if self._closing:
                return
            attempt = 0 if established else attempt + 1
            delay = min(self.max_backoff, self.backoff * 2 ** attempt) * self._rng.uniform(0.5, 1.5)
            self.status = DISCONNECTED
            self._emit(Disconnected(reason, round(delay, 3)))
            await asyncio.sleep(delay)

    async def _connection(self, url: str) -> bool:
        """One socket's life; True once it was connected and subscribed."""
        assert self._session is not None
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self._session.ws_connect(url, headers=headers, heartbeat=self.heartbeat,
                                            timeout=aiohttp.ClientWSTimeout(ws_close=5.0)) as ws:
            hello = orjson.loads(await ws.receive_str(timeout=self.connect_timeout))
            if hello.get("type") != "connected" or hello.get("protocol") != 2:
                raise ClientError(f"{url} does not speak protocol v2 (first message {hello.get('type')!r})")
            self._ws = ws
            self.url = url  # before anything of this socket is read: a Resumed event names this node
            reader = asyncio.create_task(self._read(ws))
            try:
                held = self.state.position if self._held else None
                resuming = held is not None and self.subscription is not None
                if self.subscription is not None:
                    body = dict(self.subscription)
                    if held is not None:
                        body["resume"] = {"epoch": held[0], "seq": held[1]}
                    reply = await self._exchange(ws, "subscribe", body, self.connect_timeout)
                    self.subscription = dict(reply.get("subscriptions", self.subscription))
                    # The images (or the replay and "resumed") follow the reply; a ping's pong comes after them,
                    # so once it is here the state is whole.
                    await self._exchange(ws, "ping", None, self.connect_timeout)
                if not resuming:
                    self.status = LIVE
                self._ready.set()
                self._emit(Connected(url, str(hello.get("epoch")), int(hello.get("seq", 0))))
                await reader
            finally:
                self._ws = None
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        return True

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                self._handle(orjson.loads(message.data))
        finally:  # a request waiting for its reply learns at once that none will come on this socket
            self._ready.clear()
            self._fail_pending(ConnectionLost(f"the connection closed ({ws.close_code})"))

    def _handle(self, body: dict[str, Any]) -> None:
        reply_to = body.get("id")
        waiting = self._pending.pop(str(reply_to), None) if reply_to is not None else None
        kind = body.get("type")
        if kind == "resumed":
            self.status = RESUMED
            self._emit(Resumed(int(body["from"]), int(body["to"])))
        elif kind == "snapshot_required":
            self.status = RESYNCED
            self._emit(Resynced(str(body.get("reason"))))
        if kind == "market_update" and body.get("image"):
            self._held = True
        for event in self.state.take(body):
            self._emit(event)
        if waiting is not None and not waiting.done():
            if kind == "error":
                waiting.set_exception(ServerError(body))
            else:
                waiting.set_result(body)

    def _fail_pending(self, error: ClientError) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _exchange(self, ws: aiohttp.ClientWebSocketResponse, kind: str, body: Mapping[str, Any] | None,
                        timeout: float) -> dict[str, Any]:
        msg_id = f"c{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            await ws.send_str(orjson.dumps({"type": kind, "id": msg_id, "payload": dict(body or {})}).decode())
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"no reply to {kind} within {timeout:g} s") from None
        except (ConnectionResetError, aiohttp.ClientConnectionError) as exc:
            raise ConnectionLost(f"{kind} not sent: {exc}") from None
        finally:
            self._pending.pop(msg_id, None)

    # -- requests -----------------------------------------------------------------------------------------
    async def request(self, kind: str, body: Mapping[str, Any] | None = None,
                      timeout: float | None = None) -> dict[str, Any]:
        """Send one message and return its reply (``ServerError`` for an ``error`` reply)."""
        timeout = self.request_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except asyncio.TimeoutError:
            raise RequestTimeout(f"not connected within {timeout:g} s ({self._last_error})") from None
        ws = self._ws
        if ws is None:
            raise ConnectionLost(self._last_error)
        return await self._exchange(ws, kind, body, max(0.01, deadline - loop.time()))

    async def subscribe(self, **fields: Any) -> dict[str, Any]:
        """Add to the subscription (kept for reconnects); returns the socket's whole subscription."""
        reply = await self.request("subscribe", payload(**fields))
        self.subscription = dict(reply["subscriptions"])
        return self.subscription

    async def unsubscribe(self, **fields: Any) -> dict[str, Any]:
        reply = await self.request("unsubscribe", payload(**fields))
        self.subscription = dict(reply["subscriptions"])
        return self.subscription

    async def get_markets(self, **filters: Any) -> list[dict[str, Any]]:
        """``sport``, ``league``, ``market_type``, ``bookmaker``, ``event_id``, ``max_hold``, ``limit``."""
        return list((await self.request("get_markets", payload(**filters)))["markets"])

    async def get_arbitrage(self, **filters: Any) -> list[dict[str, Any]]:
        """``min_edge``, ``event_id``, ``market_type``, ``bookmaker``."""
        return list((await self.request("get_arbitrage", payload(**filters)))["opportunities"])

    async def get_value(self, **filters: Any) -> list[dict[str, Any]]:
        """``min_ev``, ``sport``, ``market_type``, ``bookmaker``, ``event_id``, ``bankroll`` (adds ``stake``)."""
        body = payload(**filters)
        if "bankroll" in body:
            body["bankroll"] = money(body["bankroll"])
        return list((await self.request("get_value", body))["value"])

    async def get_middles(self, **filters: Any) -> list[dict[str, Any]]:
        return list((await self.request("get_middles", payload(**filters)))["middles"])

    async def get_history(self, market_id: str, **filters: Any) -> dict[str, Any]:
        """``selection``, ``bookmaker``, ``from_ms``, ``to_ms``, ``max_points``: the ``history`` reply."""
        return await self.request("get_history", payload(market_id=market_id, **filters))

    async def get_dutch(self, market_id: str, selections: Sequence[str],
                        stake: Decimal | int | float | str) -> dict[str, Any]:
        """Stakes on ``selections`` of one market that return the same whichever wins: the ``dutch`` reply."""
        return await self.request("get_dutch", {"marketId": market_id, "selections": list(selections),
                                                "stake": money(stake)})

    async def get_bets(self, **filters: Any) -> list[dict[str, Any]]:
        """``status``, ``bookmaker``, ``market_id``, ``from_ms``, ``to_ms``, ``limit``; newest first."""
        return list((await self.request("get_bets", payload(**filters)))["bets"])

    async def place_bet(self, market_id: str, selection_id: str, bookmaker: str, stake: Decimal | int | float | str,
                        *, odds: int | None = None, decimal: float | None = None, notes: str | None = None,
                        client_ref: str | None = None) -> BetPlaced:
        """Place a bet at ``odds`` (American) or ``decimal`` or better.  A ``clientRef`` is always sent; on a
        dropped connection, a timeout or a retryable error the same request is sent again with it, so the
        outcome is one bet whatever happened (``duplicate`` says the server already held it)."""
        body = payload(market_id=market_id, selection_id=selection_id, bookmaker=bookmaker, stake=money(stake),
                       odds=odds, decimal=decimal, notes=notes,
                       client_ref=client_ref or "py-" + uuid.uuid4().hex[:24])
        last: ClientError | None = None
        for attempt in range(self.bet_attempts):
            try:
                reply = await self.request("place_bet", body)
            except ClientError as exc:
                if not exc.retryable:
                    raise
                last = exc
                await asyncio.sleep(min(self.max_backoff, self.backoff * 2 ** attempt))
                continue
            placed = BetPlaced(reply["bet"], bool(reply.get("duplicate")))
            self._emit(placed)
            return placed
        assert last is not None
        raise last
