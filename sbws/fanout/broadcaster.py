"""Push cycles: engine changes in, one frame per subscription group out to its sockets.

Encode once, send many: each market's JSON is cached by revision
(``wire.views.MarketFragments``); a push builds one frame per group of
sockets with identical filters by splicing those bytes, and offers the same
frame to every member.  Each socket's ``Outbox`` decides whether the frame is
written at once, queued for that socket's writer task, conflated or refused,
so one socket that stops reading only ever delays itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Coroutine, Iterable
from typing import Any

import orjson
import structlog

from ..market.state import Changes, MarketState
from ..observability.metrics import Metrics
from ..wire import frames, views
from .audience import (
    Audience, Group, market_matches, middle_matches, opportunity_matches, steam_matches, value_matches,
)
from .context import SocketContext
from .outbox import TRY_AGAIN_LATER, Budget, Decision

log = structlog.get_logger("sbws.fanout")

Snapshot = list[tuple[bytes, str, dict[str, bytes] | None]]


class Broadcaster:
    def __init__(self, state: MarketState, fragments: views.MarketFragments, metrics: Metrics, budget: Budget,
                 immediate_markets: bool = False, immediate_arbitrage: bool = False,
                 immediate_value: bool = False) -> None:
        self.state = state
        self.fragments = fragments
        self.metrics = metrics
        self.budget = budget
        self.immediate_markets = immediate_markets
        self.immediate_arbitrage = immediate_arbitrage
        self.immediate_value = immediate_value
        self.value_closed: set[str] = set()
        self.middles_closed: set[str] = set()
        self.value_dirty = False
        self.audience = Audience()
        self.dirty: set[str] = set()
        self.closed_since_push: set[str] = set()
        self.arb_dirty = False
        self.status_dirty: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()

    # -- engine output in ---------------------------------------------------------------
    def ingest(self, changes: Changes) -> None:
        self.dirty |= changes.markets
        self.closed_since_push |= changes.closed_opportunities
        self.arb_dirty |= changes.opportunities_changed
        self.status_dirty |= changes.statuses_changed
        self.value_closed |= changes.closed_value
        self.value_dirty |= changes.value_changed or changes.middles_changed
        if self.immediate_markets and self.dirty:
            self.push_markets()
        if self.immediate_arbitrage and self.arb_dirty:
            self.push_arbitrage()
        if self.immediate_value and self.value_dirty:
            self.push_value()
        if self.status_dirty:
            self.push_sportsbooks()

    def forget_market(self) -> None:
        """The state was cleared: what was live is closed, nothing is pending."""
        self.closed_since_push |= set(self.state.live)
        self.value_closed |= set(self.state.value)
        self.middles_closed |= set(self.state.middles)
        self.dirty.clear()

    def books_changed(self, books: Iterable[str]) -> None:
        self.status_dirty |= set(books)
        self.push_sportsbooks()

    # -- pushes ---------------------------------------------------------------------------
    def push_markets(self) -> None:
        dirty, self.dirty = self.dirty, set()
        if not dirty or not self.audience.groups:
            return
        per_group: dict[Group, dict[str, bytes]] = {}
        state = self.state
        for market_id in dirty:
            key = state.markets.get(market_id)
            if key is None:
                continue
            books = state.market_books(market_id)
            groups = self.audience.market_groups(market_id, state.sport_of(market_id), key.market_type, books)
            if not groups:
                continue
            fragment = self.fragments(market_id)
            for group in groups:
                per_group.setdefault(group, {})[market_id] = fragment
        for group, fragments in per_group.items():
            self.fan_out(group.members, frames.market_update(fragments.values()), "market_update", fragments)

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
        closed_json = frames.closed_ids(closed)
        for group in groups:
            chosen = [encoded[i] for i in self._matching_opportunities(group)]
            if not chosen and not closed:
                continue
            self.fan_out(group.members, frames.arbitrage_update(chosen, closed_json), "arbitrage_update")

    def push_value(self) -> None:
        """``value_update`` and ``middles_update`` to the groups that asked for them, with what closed since the last."""
        now = time.time()
        if any(g.members for g in self.audience.middles):
            self.state.refresh_middles(now)
        value_closed, self.value_closed = self.value_closed, set()
        middles_closed, self.middles_closed = self.middles_closed | self.state.take_closed_middles(), set()
        self.value_dirty = False
        if any(g.members for g in self.audience.value):
            self._push_items(self.audience.value, self._encoded_value(now), self._matching_value,
                             frames.closed_ids(value_closed), bool(value_closed), frames.value_update, "value_update")
        if any(g.members for g in self.audience.middles):
            self._push_items(self.audience.middles, self._encoded_middles(now), self._matching_middles,
                             frames.closed_ids(middles_closed), bool(middles_closed), frames.middles_update,
                             "middles_update")

    def push_steam(self, events: Iterable[dict[str, Any]]) -> None:
        """Each steam move at once to the groups it matches."""
        state = self.state
        for event in events:
            key = state.markets.get(event["marketId"])
            if key is None:
                continue
            frame = frames.steam(event)
            for group in self.audience.steam:
                if group.members and steam_matches(group.sub, key.id, state.sport_of(key.id), key.market_type):
                    self.fan_out(group.members, frame, "steam")

    def _push_items(self, groups: Iterable[Group], encoded: dict[str, bytes],
                    matching: Callable[[Group], list[str]], closed: bytes, any_closed: bool,
                    frame: Callable[[Collection[bytes], bytes], bytes], kind: str) -> None:
        for group in groups:
            if not group.members:
                continue
            chosen = [encoded[i] for i in matching(group)]
            if chosen or any_closed:
                self.fan_out(group.members, frame(chosen, closed), kind)

    def _encoded_value(self, now: float) -> dict[str, bytes]:
        return {i: orjson.dumps(views.value_bet(self.state, live, now)) for i, live in self.state.value.items()}

    def _encoded_middles(self, now: float) -> dict[str, bytes]:
        return {i: orjson.dumps(views.middle(self.state, live, now)) for i, live in self.state.middles.items()}

    def _matching_value(self, group: Group) -> list[str]:
        state = self.state
        out = []
        for value_id, live in sorted(state.value.items(), key=lambda kv: -kv[1].bet.ev):
            v = live.bet
            if value_matches(group.sub, v.market_id, state.sport_of(v.market_id),
                             state.markets[v.market_id].market_type, v.book, v.ev):
                out.append(value_id)
        return out

    def _matching_middles(self, group: Group) -> list[str]:
        state = self.state
        out = []
        ranked = sorted(state.middles.items(), key=lambda kv: -(kv[1].middle.ev if kv[1].middle.ev is not None else -1e9))
        for middle_id, live in ranked:
            m = live.middle
            market_id = m.legs[0].market_id
            if middle_matches(group.sub, [leg.market_id for leg in m.legs], state.sport_of(market_id), m.market_type,
                              [leg.book for leg in m.legs]):
                out.append(middle_id)
        return out

    def _matching_opportunities(self, group: Group) -> list[str]:
        out = []
        state = self.state
        for opp_id, live in sorted(state.live.items(), key=lambda kv: -kv[1].opp.edge):
            market_id = live.opp.market_id
            books = [leg.book for leg in live.opp.legs]
            market_type = state.markets[market_id].market_type
            if opportunity_matches(group.sub, market_id, state.sport_of(market_id), market_type, books):
                out.append(opp_id)
        return out

    def push_heartbeat(self, clients: int) -> None:
        self.fan_out(self.audience.contexts, frames.heartbeat(clients), "heartbeat")

    def push_sportsbooks(self) -> None:
        changed, self.status_dirty = self.status_dirty, set()
        if not changed:
            return
        audience = [
            ctx for ctx in self.audience.contexts
            if not ctx.subscribed_sportsbooks or not ctx.subscribed_sportsbooks.isdisjoint(changed)
        ]
        self.fan_out(audience, frames.sportsbooks(self.state), "sportsbooks")

    def snapshot(self, ctx: SocketContext) -> None:
        """What a fresh subscription matches, sent at once rather than at the next interval."""
        group = self.audience.of.get(ctx)
        if group is not None:
            for frame, kind, fragments in self._snapshot_frames(group):
                self.deliver(ctx, frame, kind, fragments)

    def refresh_all(self) -> None:
        """Every socket gets the sportsbooks and its snapshot; each group's frames are built once."""
        books = frames.sportsbooks(self.state)
        for group in list(self.audience.groups.values()):
            self.fan_out(group.members, books, "sportsbooks")
            for frame, kind, fragments in self._snapshot_frames(group):
                self.fan_out(group.members, frame, kind, fragments)

    def deliver_to_user(self, user_id: str, frame: bytes, kind: str) -> None:
        self.fan_out(self.audience.by_user.get(user_id, ()), frame, kind)

    def _snapshot_frames(self, group: Group) -> Snapshot:
        """A group's snapshot, built once and shared by every member."""
        state = self.state
        out: Snapshot = []
        if group.wants_markets:
            fragments = {}
            for market_id, key in state.markets.items():
                books = state.market_books(market_id)
                if market_matches(group.sub, market_id, state.sport_of(market_id), key.market_type, books):
                    fragments[market_id] = self.fragments(market_id)
            out.append((frames.market_update(fragments.values()), "market_update", fragments))
        now = time.time()
        if group.sub.arbitrage:
            chosen = [orjson.dumps(views.opportunity(state, state.live[i], now)) for i in self._matching_opportunities(group)]
            out.append((frames.arbitrage_update(chosen), "arbitrage_update", None))
        if group.sub.value:
            chosen = [orjson.dumps(views.value_bet(state, state.value[i], now)) for i in self._matching_value(group)]
            out.append((frames.value_update(chosen), "value_update", None))
        if group.sub.middles:
            state.refresh_middles(now)
            chosen = [orjson.dumps(views.middle(state, state.middles[i], now)) for i in self._matching_middles(group)]
            out.append((frames.middles_update(chosen), "middles_update", None))
        return out

    # -- delivery -------------------------------------------------------------------------
    def deliver(self, ctx: SocketContext, frame: bytes, kind: str, fragments: dict[str, bytes] | None = None) -> None:
        if self._offer(ctx, frame, fragments, time.monotonic()):
            self.metrics.messages_out.labels(kind).inc()

    def fan_out(self, members: Iterable[SocketContext], frame: bytes, kind: str,
                fragments: dict[str, bytes] | None = None) -> None:
        """The same frame to many sockets; the counter is touched once, not per socket."""
        now = time.monotonic()
        sent = sum(self._offer(ctx, frame, fragments, now) for ctx in list(members))
        if sent:
            self.metrics.messages_out.labels(kind).inc(sent)

    def _offer(self, ctx: SocketContext, frame: bytes, fragments: dict[str, bytes] | None, now: float) -> bool:
        """Carry out the outbox's decision; True when the frame itself went out or was queued."""
        box, transport = ctx.outbox, ctx.transport
        buffered = transport.buffered() if transport is not None else 0
        decision = box.offer(self.budget, buffered, now, fragments is not None)
        if decision is Decision.WRITE and transport is not None and transport.write_now(frame):
            return True
        if decision in (Decision.WRITE, Decision.QUEUE):
            box.put(frame)
            return True
        if decision is Decision.CONFLATE and fragments is not None:
            box.conflate(fragments)
            self.metrics.conflated.inc(len(fragments))
        elif decision is Decision.CLOSE:
            self.close_slow(ctx, box.queued_bytes + buffered)
        return False

    def close_slow(self, ctx: SocketContext, pending: int) -> None:
        self.metrics.slow_closed.inc()
        log.warning("slow_consumer_closed", client_id=ctx.client_id, pending_bytes=pending)
        self.disconnect(ctx, TRY_AGAIN_LATER, "slow consumer")

    def disconnect(self, ctx: SocketContext, code: int, reason: str) -> None:
        """Close one socket on the server's initiative; nothing more is sent to it."""
        ctx.outbox.shut()
        self.audience.remove(ctx)
        if ctx.transport is not None:
            self.spawn(ctx.transport.close(code, reason.encode()))

    async def writer(self, ctx: SocketContext) -> None:
        """Drains this socket's outbox whenever frames wait there (direct writes happen only when none do)."""
        box, transport = ctx.outbox, ctx.transport
        if transport is None:
            return
        try:
            while not box.closing:
                await box.wake.wait()
                box.wake.clear()
                while not box.closing:
                    frame = box.pop()
                    if frame is None and box.conflated:
                        frame = frames.market_update(box.take_conflated().values(), conflated=True)
                    if frame is None:
                        break
                    await transport.send(frame)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass

    # -- background tasks -----------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
