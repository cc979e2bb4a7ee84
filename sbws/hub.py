"""The broadcaster: feed in, engine in the middle, frames out to sockets.

Encode once, send many: each market's JSON is cached by ``MarketState``;
a push cycle builds one frame per subscription group (sockets with the same
filters) by splicing those cached fragments, and hands the same bytes to
every member.  A frame is written straight to the socket's transport when
nothing is queued for it; otherwise it waits in the socket's outbox for that
socket's own writer task, so one socket that stops reading only ever delays
itself.  Past the soft limit its market updates are conflated, past the hard
limit (or too long over the soft one) it is closed with 1013.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import orjson
import structlog
from aiohttp import WSMsgType, web

from . import protocol, views
from .audience import Audience, Group, market_matches, opportunity_matches
from .broker import Broker
from .context import SocketContext
from .feeds.base import Batch, Feed
from .metrics import Metrics
from .service import Service, bet_view
from .settings import Settings
from .state import Changes, MarketState

log = structlog.get_logger("sbws.hub")

TRY_AGAIN_LATER = 1013
try:  # aiohttp's frame writer, used directly on the hot path (see Hub._write_now)
    from aiohttp._websocket.writer import WebSocketWriter

    _DIRECT_WRITE = hasattr(WebSocketWriter, "_write_websocket_frame")
except ImportError:
    _DIRECT_WRITE = False


def splice(kind: bytes, key: bytes, fragments: Iterable[bytes], extra: bytes = b"") -> bytes:
    """One message whose list field is made of pre-encoded JSON objects."""
    ts = str(protocol.now_ms()).encode()
    published = f"{time.time() * 1000:.3f}".encode()
    return b"".join(
        (b'{"type":"', kind, b'","', key, b'":[', b",".join(fragments), b"]", extra,
         b',"timestamp":', ts, b',"publishedAt":', published, b"}")
    )


class Hub:
    def __init__(
        self, settings: Settings, state: MarketState, service: Service, broker: Broker, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.state = state
        self.service = service
        self.broker = broker
        self.metrics = metrics
        self.audience = Audience()
        metrics.leader.set_function(lambda: 1.0 if self.broker.is_leader else 0.0)
        metrics.broker_up.set_function(lambda: 0.0 if getattr(self.broker, "connected", True) is False else 1.0)
        self.dirty: set[str] = set()
        self.closed_since_push: set[str] = set()
        self.arb_dirty = False
        self.status_dirty: set[str] = set()
        self.recorder: Any = None
        self.tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def feed(self) -> Feed:
        """The feed of the current term (the broker owns it; a new leader term brings a new one)."""
        return self.broker.feed

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        s = self.settings
        self.tasks = [asyncio.create_task(self._run_broker(), name="broker")]
        if s.market_interval > 0:
            self.tasks.append(asyncio.create_task(self._every(s.market_interval, self.push_markets), name="markets"))
        if s.arbitrage_interval > 0:
            self.tasks.append(asyncio.create_task(self._every(s.arbitrage_interval, self._arbitrage_tick), name="arbs"))
        self.tasks.append(asyncio.create_task(self._every(s.heartbeat_interval, self.push_heartbeat), name="heartbeat"))
        self.tasks.append(asyncio.create_task(self._loop_lag(), name="loop-lag"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.broker.close()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _every(self, interval: float, fn: Any) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                fn()
            except Exception:
                log.exception("push_failed", push=getattr(fn, "__name__", "?"))

    async def _loop_lag(self) -> None:
        worst, window_start = 0.0, time.monotonic()
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.25)
            lag = max(0.0, time.monotonic() - t0 - 0.25)
            self.metrics.loop_lag.set(lag)
            worst = max(worst, lag)
            if time.monotonic() - window_start > 60:
                worst, window_start = lag, time.monotonic()
            self.metrics.loop_lag_max.set(worst)
            self.metrics.feed_lag.set(time.time() - self.state.last_batch_at if self.state.batches else 0)
            quota = getattr(self.feed, "quota", None)
            if quota:
                self.metrics.quota.set(quota.get("remaining", 0))
                self.metrics.quota_used.set(quota.get("used", 0))

    async def _run_broker(self) -> None:
        try:
            await self.broker.run(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed_crashed", feed=self.feed.name)

    def apply_batch(self, batch: Batch) -> None:
        if self.recorder is not None:
            self.recorder.write(batch.to_json() + b"\n")
        started = time.perf_counter()
        changes = self.state.apply(batch)
        self.metrics.scan_seconds.observe(time.perf_counter() - started)
        self.ingest(changes)

    def reset_state(self) -> None:
        """Forget the market (a resync or a new leader follows); sockets get fresh snapshots after."""
        self.closed_since_push |= set(self.state.live)
        self.state.clear()
        self.dirty.clear()

    def refresh_all_sockets(self) -> None:
        """Every socket gets the sportsbooks and its snapshot; each group's frames are built once."""
        books = self.sportsbooks_frame()
        for group in list(self.audience.groups.values()):
            self.fan_out(group.members, books, "sportsbooks")
            for frame, kind, fragments in self._snapshot_frames(group):
                self.fan_out(group.members, frame, kind, fragments)

    def deliver_to_user(self, user_id: str, frame: bytes) -> None:
        self.fan_out(self.audience.by_user.get(user_id, ()), frame, "bet_settled")

    # -- ingesting engine output ----------------------------------------------------------
    def ingest(self, changes: Changes) -> None:
        self.dirty |= changes.markets
        self.closed_since_push |= changes.closed_opportunities
        self.arb_dirty |= changes.opportunities_changed
        self.status_dirty |= changes.statuses_changed
        self.metrics.markets.set(len(self.state.specs))
        self.metrics.opportunities.set(len(self.state.live))
        if self.broker.is_leader:  # settlement runs once, on the node that runs the feed
            for result in changes.results:
                self.spawn(self._settle(result.event_id, result.home_score, result.away_score))
        if self.settings.market_interval == 0 and self.dirty:
            self.push_markets()
        if self.settings.arbitrage_interval == 0 and self.arb_dirty:
            self.push_arbitrage()
        if self.status_dirty:
            self.push_sportsbooks()

    async def _settle(self, event_id: str, home: int, away: int) -> None:
        try:
            settled = await self.service.settle(event_id, home, away)
        except Exception:
            log.exception("settlement_failed", event_id=event_id)
            return
        for bet in settled:
            log.info("bet_settled", bet_id=bet.id, user_id=bet.user_id, status=bet.status)
            frame = protocol.encode({"type": "bet_settled", "bet": bet_view(bet), "timestamp": protocol.now_ms()})
            await self.broker.publish_bet_event(self, bet.user_id, frame)
        if settled:
            self.status_dirty |= {b.bookmaker for b in settled}
            self.push_sportsbooks()

    def _arbitrage_tick(self) -> None:
        if self.settings.max_quote_age > 0:
            self.ingest(self.state.expire_stale(time.time()))
        self.push_arbitrage()

    # -- pushes -------------------------------------------------------------------------
    def push_markets(self) -> None:
        dirty, self.dirty = self.dirty, set()
        if not dirty or not self.audience.groups:
            return
        per_group: dict[Group, dict[str, bytes]] = {}
        state = self.state
        for market_id in dirty:
            spec = state.specs.get(market_id)
            if spec is None:
                continue
            event = state.events.get(spec.event_id)
            books = state.market_books(market_id)
            groups = self.audience.market_groups(market_id, event.sport if event else None, spec.market_type, books)
            if not groups:
                continue
            fragment = state.fragment(market_id)
            for group in groups:
                per_group.setdefault(group, {})[market_id] = fragment
        for group, fragments in per_group.items():
            frame = splice(b"market_update", b"markets", fragments.values(), b',"total":' + str(len(fragments)).encode())
            self.fan_out(group.members, frame, "market_update", fragments)

    def push_arbitrage(self) -> None:
        closed, self.closed_since_push = self.closed_since_push, set()
        self.arb_dirty = False
        groups = [g for g in self.audience.arbitrage if g.members]
        if not groups:
            return
        now = time.time()
        encoded = {
            opp_id: orjson.dumps(views.opportunity(self.state, live, now)) for opp_id, live in self.state.live.items()
        }
        closed_json = orjson.dumps(sorted(closed))
        for group in groups:
            chosen = [encoded[i] for i in self._matching_opportunities(group)]
            if not chosen and not closed:
                continue
            extra = b',"total":' + str(len(chosen)).encode() + b',"closed":' + closed_json
            self.fan_out(group.members, splice(b"arbitrage_update", b"opportunities", chosen, extra), "arbitrage_update")

    def _matching_opportunities(self, group: Group) -> list[str]:
        out = []
        state = self.state
        for opp_id, live in sorted(state.live.items(), key=lambda kv: -kv[1].opp.edge):
            spec = state.specs[live.opp.market_id]
            event = state.events.get(spec.event_id)
            books = [leg.book for leg in live.opp.legs]
            if opportunity_matches(group.sub, live.opp.market_id, event.sport if event else None, spec.market_type, books):
                out.append(opp_id)
        return out

    def push_heartbeat(self) -> None:
        clients = self.broker.cluster_clients(len(self.audience))
        frame = protocol.encode({"type": "heartbeat", "timestamp": protocol.now_ms(), "clients": clients})
        self.fan_out(self.audience.contexts, frame, "heartbeat")

    def sportsbooks_frame(self) -> bytes:
        books = views.sportsbooks(self.state)
        return protocol.encode({"type": "sportsbooks", "sportsbooks": books, "total": len(books), "timestamp": protocol.now_ms()})

    def push_sportsbooks(self) -> None:
        changed, self.status_dirty = self.status_dirty, set()
        if not changed:
            return
        audience = [
            ctx for ctx in self.audience.contexts
            if not ctx.subscribed_sportsbooks or not ctx.subscribed_sportsbooks.isdisjoint(changed)
        ]
        self.fan_out(audience, self.sportsbooks_frame(), "sportsbooks")

    def snapshot(self, ctx: SocketContext) -> None:
        """What a fresh subscription matches, sent at once rather than at the next interval."""
        group = self.audience.of.get(ctx)
        if group is not None:
            for frame, kind, fragments in self._snapshot_frames(group):
                self.deliver(ctx, frame, kind, fragments)

    def _snapshot_frames(self, group: Group) -> list[tuple[bytes, str, dict[str, bytes] | None]]:
        """A group's snapshot, built once and shared by every member."""
        state = self.state
        frames: list[tuple[bytes, str, dict[str, bytes] | None]] = []
        if group.wants_markets:
            fragments = {}
            for market_id, spec in state.specs.items():
                event = state.events.get(spec.event_id)
                books = state.market_books(market_id)
                if market_matches(group.sub, market_id, event.sport if event else None, spec.market_type, books):
                    fragments[market_id] = state.fragment(market_id)
            frame = splice(b"market_update", b"markets", fragments.values(), b',"total":' + str(len(fragments)).encode())
            frames.append((frame, "market_update", fragments))
        if group.sub.arbitrage:
            now = time.time()
            chosen = [orjson.dumps(views.opportunity(state, state.live[i], now)) for i in self._matching_opportunities(group)]
            extra = b',"total":' + str(len(chosen)).encode() + b',"closed":[]'
            frames.append((splice(b"arbitrage_update", b"opportunities", chosen, extra), "arbitrage_update", None))
        return frames

    # -- delivery -------------------------------------------------------------------------
    def deliver(self, ctx: SocketContext, frame: bytes, kind: str, fragments: dict[str, bytes] | None = None) -> None:
        if self._offer(ctx, frame, fragments):
            self.metrics.messages_out.labels(kind).inc()

    def fan_out(self, members: Iterable[SocketContext], frame: bytes, kind: str,
                fragments: dict[str, bytes] | None = None) -> None:
        """The same frame to many sockets; the counter is touched once, not per socket."""
        sent = sum(self._offer(ctx, frame, fragments) for ctx in list(members))
        if sent:
            self.metrics.messages_out.labels(kind).inc(sent)

    def _offer(self, ctx: SocketContext, frame: bytes, fragments: dict[str, bytes] | None) -> bool:
        """Write, queue or conflate one frame for one socket; True when the frame itself went out or queued."""
        box = ctx.outbox
        if box.closing:
            return False
        s = self.settings
        pending = box.queued_bytes + self._buffered(ctx)
        now = time.monotonic()
        if pending > s.hard_limit_bytes or (
            box.over_soft_since is not None and now - box.over_soft_since > s.slow_timeout
        ):
            self.close_slow(ctx, pending)
            return False
        if pending > s.soft_limit_bytes:
            if box.over_soft_since is None:
                box.over_soft_since = now
            if fragments is not None:
                box.conflate(fragments)
                self.metrics.conflated.inc(len(fragments))
                return False
        else:
            box.over_soft_since = None
        if not (box.frames or box.conflated) and self._write_now(ctx, frame):
            return True
        box.put(frame)
        return True

    def _write_now(self, ctx: SocketContext, frame: bytes) -> bool:
        """Write straight to the transport when nothing is queued: no task switch per socket.

        Uses aiohttp's frame writer directly (a private method, checked at
        import); falls back to the writer task whenever anything is queued,
        compression is on, or the method is not there.
        """
        if not _DIRECT_WRITE or self.settings.compress:
            return False
        ws = ctx.socket_ref() if ctx.socket_ref is not None else None
        writer = getattr(ws, "_writer", None)
        if writer is None or ws.closed or writer.transport.is_closing():  # type: ignore[union-attr]
            return False
        writer._write_websocket_frame(frame, WSMsgType.TEXT, 0)
        return True

    @staticmethod
    def _buffered(ctx: SocketContext) -> int:
        transport = ctx.transport_ref() if ctx.transport_ref is not None else None
        if transport is None:
            return 0
        try:
            return int(transport.get_write_buffer_size())
        except Exception:
            return 0

    def close_slow(self, ctx: SocketContext, pending: int) -> None:
        ctx.outbox.closing = True
        ctx.outbox.frames.clear()
        ctx.outbox.conflated.clear()
        ctx.outbox.queued_bytes = 0
        self.metrics.slow_closed.inc()
        log.warning("slow_consumer_closed", client_id=ctx.client_id, pending_bytes=pending)
        ws = ctx.socket_ref() if ctx.socket_ref is not None else None
        transport = ctx.transport_ref() if ctx.transport_ref is not None else None
        if ws is not None:
            self.spawn(_close_hard(ws, transport))
        ctx.outbox.wake.set()

    async def writer(self, ws: web.WebSocketResponse, ctx: SocketContext) -> None:
        """The only coroutine that writes to this socket."""
        box = ctx.outbox
        try:
            while not box.closing:
                await box.wake.wait()
                box.wake.clear()
                while not box.closing:
                    frame = box.pop()
                    if frame is None and box.conflated:
                        fragments, box.conflated = box.conflated, {}
                        frame = splice(b"market_update", b"markets", fragments.values(),
                                       b',"total":' + str(len(fragments)).encode() + b',"conflated":true')
                    if frame is None:
                        break
                    await ws.send_frame(frame, WSMsgType.TEXT)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass


async def _close_hard(ws: web.WebSocketResponse, transport: Any) -> None:
    try:
        await asyncio.wait_for(ws.close(code=TRY_AGAIN_LATER, message=b"slow consumer"), 1.0)
    except (asyncio.TimeoutError, ConnectionResetError, RuntimeError):
        pass
    if transport is not None and not transport.is_closing():
        transport.abort()

