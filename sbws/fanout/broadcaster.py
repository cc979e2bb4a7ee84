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

from ..clock import ms
from ..market.state import Changes, MarketState
from ..wire import deltas
from ..wire.deltas import Delta
from ..observability.metrics import Metrics
from ..wire import frames, views
from .audience import (
    Audience, Group, market_matches, middle_matches, opportunity_matches, steam_matches, value_matches,
)
from .context import SocketContext
from .outbox import TRY_AGAIN_LATER, Budget, Decision
from .stream import MarketStream

log = structlog.get_logger("sbws.fanout")

ARBITRAGE, VALUE, MIDDLES = "arbitrage_update", "value_update", "middles_update"

Snapshot = list[tuple[bytes, str, dict[str, Any] | None]]


class Broadcaster:
    def __init__(self, state: MarketState, fragments: views.MarketFragments, metrics: Metrics, budget: Budget,
                 immediate_markets: bool = False, immediate_arbitrage: bool = False,
                 immediate_value: bool = False, stream: MarketStream | None = None) -> None:
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
        self.stream = stream or MarketStream()
        self.known_by: dict[str, set[Group]] = {}
        """v2: which groups hold each market."""
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
        if self.immediate_markets and (self.dirty or self.stream.pending):
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
        for group in self.audience.groups.values():  # v2: the next image says what each socket holds
            group.known.clear()
        self.known_by.clear()

    def books_changed(self, books: Iterable[str]) -> None:
        self.status_dirty |= set(books)
        self.push_sportsbooks()

    # -- pushes ---------------------------------------------------------------------------
    def push_markets(self) -> None:
        self.push_deltas()
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
            groups = self.audience.market_groups(market_id, state.sport_of(market_id), key.market_type, books, protocol=1)
            if not groups:
                continue
            fragment = self.fragments(market_id)  # v1 bytes only when a v1 socket wants them
            for group in groups:
                per_group.setdefault(group, {})[market_id] = fragment
        for group, fragments in per_group.items():
            self.fan_out(group.members, frames.market_update(fragments.values()), "market_update", fragments)

    # -- protocol v2: deltas ------------------------------------------------------------------
    def push_deltas(self) -> None:
        """Each v2 group gets what changed since the last push, merged per market; a market new to the group
        arrives whole, one that stopped matching (or closed) as ``{"id", "status": "closed"}``."""
        pending = self.stream.take_pending()
        if not pending:
            return
        state, stream = self.state, self.stream
        per_group: dict[Group, dict[str, Delta]] = {}
        for market_id, delta in pending.items():
            key = state.markets.get(market_id)
            holders = {g for g in self.known_by.get(market_id, ()) if g.members}
            if deltas.is_closed(delta) or key is None or market_id not in stream.views:
                for group in holders:
                    per_group.setdefault(group, {})[market_id] = deltas.closed(market_id)
                self._forget(market_id, holders)
                continue
            books = state.market_books(market_id)
            matching = self.audience.market_groups(market_id, state.sport_of(market_id), key.market_type, books,
                                                   protocol=2)
            for group in matching:
                per_group.setdefault(group, {})[market_id] = delta if market_id in group.known else stream.views[market_id]
                self._hold(group, market_id)
            for group in holders - matching:
                per_group.setdefault(group, {})[market_id] = deltas.closed(market_id)
                self._forget(market_id, {group})
        # A delta's "timestamp" is left out when it is the frame's "ts" (the update that made it): most are.
        ts = ms(state.last_batch_at)
        encoded: dict[int, bytes] = {}
        for group, entries in per_group.items():
            parts = [encoded.setdefault(id(d), orjson.dumps(deltas.without_time(d, ts))) for d in entries.values()]
            frame = frames.market_delta(parts, *stream.position, ts=ts)
            self.fan_out(group.members, frame, "market_update", entries)

    def _push_changed(self, group: Group, kind: str, encoded: dict[str, bytes]) -> None:
        frame = self._changed_frame(group, kind, encoded, everything=False)
        if frame is not None:
            self.fan_out(group.members, frame, kind)

    def _changed_frame(self, group: Group, kind: str, encoded: dict[str, bytes], everything: bool) -> bytes | None:
        """v2 item pushes: opened or changed items whole, closed ones by id (everything: the whole list)."""
        matching = {ARBITRAGE: self._matching_opportunities, VALUE: self._matching_value,
                    MIDDLES: self._matching_middles}[kind]
        current = {i: encoded[i] for i in matching(group) if i in encoded}
        before = group.sent.get(kind, {})
        changed = [b for i, b in current.items() if everything or before.get(i) != b]
        closed = sorted(i for i in before if i not in current)
        group.sent[kind] = current
        if not changed and not closed and not everything:
            return None
        epoch, seq = self.stream.position
        return frames.item_delta(kind, changed, frames.closed_ids(closed), len(current), epoch, seq, image=everything)

    def _item_frames(self, group: Group, everything: bool) -> Snapshot:
        now = time.time()
        out: Snapshot = []
        state = self.state
        for kind, wanted in ((ARBITRAGE, group.sub.arbitrage), (VALUE, group.sub.value), (MIDDLES, group.sub.middles)):
            if not wanted:
                continue
            if kind == ARBITRAGE:
                encoded = {i: orjson.dumps(views.opportunity(state, lo, now)) for i, lo in state.live.items()}
            elif kind == VALUE:
                encoded = self._encoded_value(now)
            else:
                state.refresh_middles(now)
                encoded = self._encoded_middles(now)
            frame = self._changed_frame(group, kind, encoded, everything)
            if frame is not None:
                out.append((frame, kind, None))
        return out

    def _hold(self, group: Group, market_id: str) -> None:
        group.known.add(market_id)
        self.known_by.setdefault(market_id, set()).add(group)

    def _forget(self, market_id: str, groups: Iterable[Group]) -> None:
        holders = self.known_by.get(market_id)
        for group in groups:
            group.known.discard(market_id)
            if holders is not None:
                holders.discard(group)
        if holders is not None and not holders:
            del self.known_by[market_id]

    def image(self, ctx: SocketContext) -> None:
        """A v2 socket's full picture: every market its subscription matches, whole (``image: true``)."""
        group = self.audience.of.get(ctx)
        if group is None:
            return
        for frame, kind, fragments in self._image_frames(group):
            self.deliver(ctx, frame, kind, fragments)

    def _matching_views(self, group: Group) -> dict[str, Delta]:
        state = self.state
        out = {}
        views_ = self.stream.views
        for market_id, key in state.markets.items():  # the feed's order, as the v1 snapshot
            view = views_.get(market_id)
            if view is not None and market_matches(group.sub, market_id, state.sport_of(market_id), key.market_type,
                                                  state.market_books(market_id)):
                out[market_id] = view
        return out

    def _image_frames(self, group: Group) -> Snapshot:
        out: Snapshot = []
        epoch, seq = self.stream.position
        if group.wants_markets:
            held = self._matching_views(group)
            for market_id in held:
                self._hold(group, market_id)
            out.append((frames.market_image([orjson.dumps(v) for v in held.values()], epoch, seq), "market_update", None))
        out.extend(self._item_frames(group, everything=True))
        return out

    def resume(self, ctx: SocketContext, epoch: str, since: int) -> None:
        """After a reconnect: what changed since ``since`` (merged, ``con``), then ``resumed``; or, when the window
        cannot cover it, ``snapshot_required`` and an image.  Never a silent gap."""
        group = self.audience.of.get(ctx)
        if group is None:
            return
        problem = self.stream.resume_problem(epoch, since)
        current = self.stream.seq
        if problem is not None:
            self.deliver(ctx, frames.snapshot_required(problem, *self.stream.position), "snapshot_required")
            self.image(ctx)
            return
        state = self.state
        wanted = self._matching_views(group)
        changes = self.stream.resume(since, lambda m: m in wanted or state.markets.get(m) is None)
        for market_id in wanted:
            self._hold(group, market_id)
        if group.wants_markets and changes:
            parts = [orjson.dumps(d) for d in changes]
            self.deliver(ctx, frames.market_delta(parts, *self.stream.position, conflated=True), "market_update")
        for frame, kind, _ in self._item_frames(group, everything=True):
            self.deliver(ctx, frame, kind)
        self.deliver(ctx, frames.resumed(since, current, self.stream.epoch), "resumed")

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
            if group.sub.protocol == 2:
                self._push_changed(group, ARBITRAGE, encoded)
                continue
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
            if group.sub.protocol == 2:
                self._push_changed(group, kind, encoded)
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
        v1 = [ctx for ctx in self.audience.contexts if ctx.protocol == 1]
        v2 = [ctx for ctx in self.audience.contexts if ctx.protocol == 2]
        self.fan_out(v1, frames.heartbeat(clients), "heartbeat")
        if v2:
            self.fan_out(v2, frames.heartbeat(clients, self.stream.position), "heartbeat")

    def push_sportsbooks(self) -> None:
        changed, self.status_dirty = self.status_dirty, set()
        if not changed:
            return
        audience = [
            ctx for ctx in self.audience.contexts
            if not ctx.subscribed_sportsbooks or not ctx.subscribed_sportsbooks.isdisjoint(changed)
        ]
        self.fan_out([c for c in audience if c.protocol == 1], frames.sportsbooks(self.state), "sportsbooks")
        v2 = [c for c in audience if c.protocol == 2]
        if v2:
            self.fan_out(v2, frames.sportsbooks(self.state, self.stream.position), "sportsbooks")

    def snapshot(self, ctx: SocketContext) -> None:
        """What a fresh subscription matches, sent at once rather than at the next interval."""
        if ctx.protocol == 2:
            self.image(ctx)
            return
        group = self.audience.of.get(ctx)
        if group is not None:
            for frame, kind, fragments in self._snapshot_frames(group):
                self.deliver(ctx, frame, kind, fragments)

    def refresh_all(self) -> None:
        """Every socket gets the sportsbooks and its snapshot; each group's frames are built once."""
        books = frames.sportsbooks(self.state)
        for group in list(self.audience.groups.values()):
            if group.sub.protocol == 2:
                self.fan_out(group.members, frames.sportsbooks(self.state, self.stream.position), "sportsbooks")
                for frame, kind, fragments in self._image_frames(group):
                    self.fan_out(group.members, frame, kind, fragments)
                continue
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
    def deliver(self, ctx: SocketContext, frame: bytes, kind: str, fragments: dict[str, Any] | None = None) -> None:
        if self._offer(ctx, frame, fragments, time.monotonic()):
            self.metrics.messages_out.labels(kind).inc()

    def fan_out(self, members: Iterable[SocketContext], frame: bytes, kind: str,
                fragments: dict[str, Any] | None = None) -> None:
        """The same frame to many sockets; the counter is touched once, not per socket."""
        now = time.monotonic()
        sent = sum(self._offer(ctx, frame, fragments, now) for ctx in list(members))
        if sent:
            self.metrics.messages_out.labels(kind).inc(sent)

    def _offer(self, ctx: SocketContext, frame: bytes, fragments: dict[str, Any] | None, now: float) -> bool:
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
            box.conflate(fragments, self.stream.seq)
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
                        if ctx.protocol == 2:
                            seq = box.conflated_seq
                            parts = [orjson.dumps(d) for d in box.take_conflated().values()]
                            frame = frames.market_delta(parts, self.stream.epoch, seq, conflated=True)
                        else:
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
