"""The two protocol versions as push policies, chosen once per socket when it connects.

``ProtocolV1`` is the design document's protocol: whole market objects and
whole item lists, with the ids closed since the last push.  ``ProtocolV2``
numbers the market stream (epoch and seq on every message), sends an image
then deltas, items opened/changed/closed against what its group was last
sent, and resumes from a position.  Both build one frame per group of
sockets with identical filters and hand it to ``Delivery``; neither knows
about sockets beyond their context.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable
from typing import Any

import attrs
import orjson
from attrs import frozen

from .. import signals
from ..clock import SYSTEM, Clock, ms
from ..market.state import MarketState
from ..signals import Kind
from ..wire import deltas, frames, views
from ..wire.deltas import Delta
from .audience import Audience, Group, market_matches
from .context import SocketContext
from .delivery import Delivery
from .outbox import Outbox
from .stream import MarketStream

Frames = list[tuple[bytes, str, dict[str, Any] | None]]
"""(frame, message type, conflatable market fragments) of a snapshot or an image."""


@frozen
class Fanout:
    """What both versions push from: the market, its encoders, the stream, who listens and the way out."""

    state: MarketState
    fragments: views.MarketFragments
    stream: MarketStream
    audience: Audience
    delivery: Delivery
    active_bets: dict[str, int]
    """Open bets per book (the service's count), shown in the sportsbooks message."""
    clock: Clock = SYSTEM


class ProtocolVersion(ABC):
    number: int

    def __init__(self, fan: Fanout) -> None:
        self.fan = fan
        self._sportsbooks: tuple[Hashable, bytes] | None = None

    # -- what a socket of this version gets besides pushes ------------------------------------------
    def position(self) -> frames.Position | None:
        """The stream position stamped on this version's messages (v1: none)."""
        return None

    def hello(self) -> dict[str, Any]:
        """Extra fields of the ``connected`` message."""
        return {}

    def attached(self) -> None:
        """A socket of this version connected."""

    def outbox(self) -> Outbox:
        return Outbox()

    def sportsbooks(self) -> bytes:
        """Built once per state, position and open-bet counts: every socket that connects meanwhile shares it."""
        state, position = self.fan.state, self.position()
        key = (state.batches, state.last_batch_at, position, tuple(self.fan.active_bets.items()))
        if self._sportsbooks is None or self._sportsbooks[0] != key:
            self._sportsbooks = (key, frames.sportsbooks(state, self.fan.active_bets, position, self.fan.clock))
        return self._sportsbooks[1]

    def matching(self, kind: Kind, group: Group, now: float) -> list[str]:
        state = self.fan.state
        return [i for i, live in signals.ranked(kind, state.found(kind.name, now))
                if signals.matches(kind, group.sub, state, live.item)]

    def groups_of(self, market_id: str) -> set[Group]:
        state = self.fan.state
        key = state.key(market_id)
        if key is None:
            return set()
        return self.fan.audience.market_groups(market_id, state.sport_of(market_id), key.market_type,
                                               state.market_books(market_id), protocol=self.number)

    def matching_markets(self, group: Group) -> list[str]:
        """The markets a group's filters match, in the feed's order."""
        state = self.fan.state
        out = []
        for market_id in state.market_ids():
            key = state.key(market_id)
            if key is not None and market_matches(group.sub, market_id, state.sport_of(market_id), key.market_type,
                                                  state.market_books(market_id)):
                out.append(market_id)
        return out

    # -- the policy -----------------------------------------------------------------------------
    @abstractmethod
    def push_markets(self, dirty: set[str], pending: dict[str, Delta]) -> None:
        ...

    @abstractmethod
    def push_items(self, kind: Kind, group: Group, encoded: dict[str, bytes], closed: set[str], now: float) -> None:
        ...

    @abstractmethod
    def conflated(self, ctx: SocketContext) -> bytes | None:
        ...

    @abstractmethod
    def subscribed(self, ctx: SocketContext) -> None:
        """After a ``subscribe`` reply: what the socket's filters now match, at once."""
        ...

    def unsubscribed(self, ctx: SocketContext) -> None:
        """After an ``unsubscribe`` reply."""

    def resume(self, ctx: SocketContext, epoch: str, since: int) -> None:
        """After a ``subscribe`` with ``resume``."""
        self.subscribed(ctx)

    @abstractmethod
    def refresh(self, group: Group) -> None:
        """The market restarted: every member gets the sportsbooks and its group's picture again."""
        ...

    def forget(self) -> None:
        """The market state was cleared."""


class ProtocolV1(ProtocolVersion):
    number = 1

    def push_markets(self, dirty: set[str], pending: dict[str, Delta]) -> None:
        if not dirty or not self.fan.audience.serves(self.number):
            return
        per_group: dict[Group, dict[str, bytes]] = {}
        for market_id in dirty:
            groups = self.groups_of(market_id)
            if not groups:
                continue
            fragment = self.fan.fragments(market_id)  # v1 bytes only when a v1 socket wants them
            for group in groups:
                per_group.setdefault(group, {})[market_id] = fragment
        for group, fragments in per_group.items():
            self.fan.delivery.fan_out(group.members, frames.market_update(fragments.values(), clock=self.fan.clock),
                                      "market_update", fragments)

    def push_items(self, kind: Kind, group: Group, encoded: dict[str, bytes], closed: set[str], now: float) -> None:
        chosen = [encoded[i] for i in self.matching(kind, group, now) if i in encoded]
        if chosen or closed:
            frame = frames.items_update(kind.push, kind.key, chosen, frames.closed_ids(closed), self.fan.clock)
            self.fan.delivery.fan_out(group.members, frame, kind.push)

    def conflated(self, ctx: SocketContext) -> bytes | None:
        return frames.market_update(ctx.outbox.take_conflated().values(), conflated=True, clock=self.fan.clock)

    def subscribed(self, ctx: SocketContext) -> None:
        group = self.fan.audience.of.get(ctx)
        if group is not None:
            for frame, kind, fragments in self._snapshot(group):
                self.fan.delivery.deliver(ctx, frame, kind, fragments)

    def refresh(self, group: Group) -> None:
        self.fan.delivery.fan_out(group.members, self.sportsbooks(), "sportsbooks")
        for frame, kind, fragments in self._snapshot(group):
            self.fan.delivery.fan_out(group.members, frame, kind, fragments)

    def _snapshot(self, group: Group) -> Frames:
        """A group's snapshot, built once and shared by every member."""
        fan: Fanout = self.fan
        out: Frames = []
        if group.wants_markets:
            fragments = {m: fan.fragments(m) for m in self.matching_markets(group)}
            out.append((frames.market_update(fragments.values(), clock=fan.clock), "market_update", fragments))
        now = fan.clock.time()
        for kind in signals.KINDS:
            if kind.wanted(group.sub):
                live = fan.state.found(kind.name, now)
                chosen = [orjson.dumps(kind.view(fan.state, live[i], now, None))
                          for i in self.matching(kind, group, now)]
                out.append((frames.items_update(kind.push, kind.key, chosen, clock=fan.clock), kind.push, None))
        return out


class ProtocolV2(ProtocolVersion):
    number = 2

    def __init__(self, fan: Fanout) -> None:
        super().__init__(fan)
        self.known_by: dict[str, set[Group]] = {}
        """Which groups hold each market (all their members, or some: ``Group.extra_known``)."""
        fan.audience.on_group_removed = self._drop
        self._given: set[Group] = set()
        """Groups with ``extra_known`` markets (cleared at the next push, without visiting every group)."""
        self._images: dict[Group, tuple[Hashable, Frames]] = {}
        """Each group's last image and the state it shows (shared by members that ask at that state)."""

    def position(self) -> frames.Position | None:
        """Replies, heartbeats, sportsbooks and item pushes say where the sockets' market state is: the last
        market push, not the newest update (its deltas may still wait for ``--market-interval``), so a client
        resuming from any position it was told misses nothing."""
        return self.fan.stream.delivered_position

    def hello(self) -> dict[str, Any]:
        epoch, seq = self.fan.stream.delivered_position
        return {"protocol": self.number, "epoch": epoch, "seq": seq, "format": deltas.FORMAT, "keys": deltas.KEYS}

    def attached(self) -> None:
        self.fan.stream.activate(self.fan.state)

    def outbox(self) -> Outbox:
        return Outbox(merge=deltas.merge)

    def push_markets(self, dirty: set[str], pending: dict[str, Delta]) -> None:
        """Each group gets what changed since the last push, merged per market; a market new to the group arrives
        whole, one that stopped matching (or closed) as ``{"id", "status": "closed"}``."""
        self._images.clear()  # kept for the members that ask between two pushes
        if not pending or not self.fan.audience.serves(self.number):
            return
        state, stream = self.fan.state, self.fan.stream
        per_group: dict[Group, dict[str, Delta]] = {}
        for market_id, delta in pending.items():
            holders = {g for g in self.known_by.get(market_id, ()) if g.members}
            if deltas.is_closed(delta) or state.key(market_id) is None or market_id not in stream.views:
                for group in holders:
                    per_group.setdefault(group, {})[market_id] = deltas.closed(market_id)
                self._forget(market_id, holders)
                continue
            matching = self.groups_of(market_id)
            whole: Delta | None = None
            for group in matching:
                if market_id in group.known:
                    per_group.setdefault(group, {})[market_id] = delta
                else:  # new to the group: the delta from nothing, built once for every group it is new to
                    if whole is None:
                        whole = deltas.whole(stream.views[market_id])
                    per_group.setdefault(group, {})[market_id] = whole
                self._hold(group, market_id)
            for group in holders - matching:
                per_group.setdefault(group, {})[market_id] = deltas.closed(market_id)
                self._forget(market_id, {group})
        for group in self._given:  # every member now holds what the group was sent
            group.extra_known.clear()
        self._given.clear()
        # A delta's "timestamp" is left out when it is the frame's "ts" (the update that made it): most are.
        ts = ms(state.last_batch_at)
        encoded: dict[int, bytes] = {}
        for group, entries in per_group.items():
            parts = [encoded.setdefault(id(d), orjson.dumps(deltas.without_time(d, ts))) for d in entries.values()]
            frame = frames.market_delta(parts, *stream.position, ts=ts, clock=self.fan.clock)
            self.fan.delivery.fan_out(group.members, frame, "market_update", entries)

    def push_items(self, kind: Kind, group: Group, encoded: dict[str, bytes], closed: set[str], now: float) -> None:
        frame = self._changed_frame(group, kind, encoded, everything=False, now=now)
        if frame is not None:
            self.fan.delivery.fan_out(group.members, frame, kind.push)

    def _changed_frame(self, group: Group, kind: Kind, encoded: dict[str, bytes], everything: bool,
                       now: float) -> bytes | None:
        """Opened or changed items whole, closed ones by id (everything: the whole list, as an image)."""
        current = {i: encoded[i] for i in self.matching(kind, group, now) if i in encoded}
        before = group.sent.get(kind.name, {})
        changed = [b for i, b in current.items() if everything or before.get(i) != b]
        if everything and not self._alone(group):
            # One member's image: the others still hold what the group was sent, so the group's record stays;
            # what this member holds beyond it is remembered so its closing reaches everyone.
            group.extra_sent.setdefault(kind.name, set()).update(current)
            closed: list[str] = []
        else:
            extra = group.extra_sent.pop(kind.name, set())
            closed = sorted(i for i in before.keys() | extra if i not in current)
            group.sent[kind.name] = current
        if not changed and not closed and not everything:
            return None
        epoch, seq = self.fan.stream.delivered_position
        return frames.item_delta(kind.push, kind.key, changed, frames.closed_ids(closed), len(current), epoch, seq,
                                 image=everything, clock=self.fan.clock)

    def _item_frames(self, group: Group) -> Frames:
        now = self.fan.clock.time()
        out: Frames = []
        state = self.fan.state
        for kind in signals.KINDS:
            if kind.wanted(group.sub):
                encoded = signals.encoded(kind, state, state.found(kind.name, now), now)
                frame = self._changed_frame(group, kind, encoded, everything=True, now=now)
                if frame is not None:
                    out.append((frame, kind.push, None))
        return out

    def _hold(self, group: Group, market_id: str) -> None:
        group.known.add(market_id)
        self.known_by.setdefault(market_id, set()).add(group)

    @staticmethod
    def _alone(group: Group) -> bool:
        return len(group.members) <= 1

    def _hold_given(self, group: Group, market_id: str) -> None:
        """One member was given the market whole (an image or a resume): the group holds it only if that member
        is all of it; otherwise some members hold it, and its changes reach the group whole until the next push."""
        if self._alone(group):
            self._hold(group, market_id)
            return
        group.extra_known.add(market_id)
        self._given.add(group)
        self.known_by.setdefault(market_id, set()).add(group)

    def _drop(self, group: Group) -> None:
        """The group's last socket left: nothing of it is kept."""
        self._images.pop(group, None)
        self._given.discard(group)
        for market_id in group.known | group.extra_known:
            holders = self.known_by.get(market_id)
            if holders is not None:
                holders.discard(group)
                if not holders:
                    del self.known_by[market_id]

    def _forget(self, market_id: str, groups: Iterable[Group]) -> None:
        holders = self.known_by.get(market_id)
        for group in groups:
            group.known.discard(market_id)
            if holders is not None:
                holders.discard(group)
        if holders is not None and not holders:
            del self.known_by[market_id]

    def _matching_views(self, group: Group) -> dict[str, Delta]:
        views_ = self.fan.stream.views
        return {m: views_[m] for m in self.matching_markets(group) if m in views_}

    def _image(self, group: Group) -> Frames:
        """The group's image, built once for every member that asks in the same second at the same state."""
        state, now = self.fan.state, self.fan.clock.time()
        lives = tuple(state.found(k.name, now).version for k in signals.KINDS if k.wanted(group.sub))
        key = (*self.fan.stream.position, lives, int(now))
        cached = self._images.get(group)
        if cached is not None and cached[0] == key:
            return cached[1]
        frames_ = self._build_image(group)
        self._images[group] = (key, frames_)
        return frames_

    def _build_image(self, group: Group) -> Frames:
        out: Frames = []
        epoch, seq = self.fan.stream.position
        if group.wants_markets:
            held = self._matching_views(group)
            for market_id in held:
                self._hold_given(group, market_id)
            out.append((frames.market_image([orjson.dumps(v) for v in held.values()], epoch, seq, self.fan.clock),
                        "market_update", None))
        out.extend(self._item_frames(group))
        return out

    def _stopped_matching(self, group: Group, since: int, wanted: dict[str, Delta]) -> list[str]:
        """Markets that changed since ``since`` and no longer match, though they still exist: with a sportsbooks
        filter, a market whose subscribed books all withdrew.  A client that never left was sent their closing."""
        sub = group.sub
        if not sub.sportsbooks:
            return []  # without a books filter a market stops matching only by closing (the replay has those)
        state, out = self.fan.state, []
        for market_id, seq in self.fan.stream.changed_at.items():
            key = state.key(market_id)
            if seq <= since or market_id in wanted or key is None:
                continue
            if market_matches(attrs.evolve(sub, sportsbooks=frozenset()), market_id, state.sport_of(market_id),
                              key.market_type, ()) or market_id in sub.markets or not (sub.sports or sub.market_types):
                out.append(market_id)
        return out

    def subscribed(self, ctx: SocketContext) -> None:
        """A socket's full picture: every market its subscription matches, whole (``image: true``)."""
        group = self.fan.audience.of.get(ctx)
        if group is None:
            return
        for frame, kind, fragments in self._image(group):
            self.fan.delivery.deliver(ctx, frame, kind, fragments)

    def unsubscribed(self, ctx: SocketContext) -> None:
        self.subscribed(ctx)  # the socket's market set changed: an image says exactly what it now holds

    def resume(self, ctx: SocketContext, epoch: str, since: int) -> None:
        """What changed since ``since`` (merged, ``con``), then ``resumed``; or, when the window cannot cover it,
        ``snapshot_required`` and an image.  Never a silent gap."""
        group = self.fan.audience.of.get(ctx)
        if group is None:
            return
        stream, state, delivery = self.fan.stream, self.fan.state, self.fan.delivery
        problem = stream.resume_problem(epoch, since)
        current = stream.seq
        if problem is not None:
            delivery.deliver(ctx, frames.snapshot_required(problem, *stream.position, self.fan.clock), "snapshot_required")
            self.subscribed(ctx)
            return
        wanted = self._matching_views(group)
        changes = stream.resume(since, lambda m: m in wanted or state.key(m) is None)
        changes.extend(deltas.closed(m) for m in self._stopped_matching(group, since, wanted))
        for market_id in wanted:
            self._hold_given(group, market_id)
        if group.wants_markets and changes:
            parts = [orjson.dumps(d) for d in changes]
            delivery.deliver(ctx, frames.market_delta(parts, *stream.position, conflated=True, clock=self.fan.clock),
                             "market_update")
        for frame, kind, _ in self._item_frames(group):
            delivery.deliver(ctx, frame, kind)
        delivery.deliver(ctx, frames.resumed(since, current, stream.epoch, self.fan.clock), "resumed")

    def conflated(self, ctx: SocketContext) -> bytes | None:
        box = ctx.outbox
        seq = box.conflated_seq
        parts = [orjson.dumps(d) for d in box.take_conflated().values()]
        return frames.market_delta(parts, self.fan.stream.epoch, seq, conflated=True, clock=self.fan.clock)

    def refresh(self, group: Group) -> None:
        self.fan.delivery.fan_out(group.members, self.sportsbooks(), "sportsbooks")
        for frame, kind, fragments in self._image(group):
            self.fan.delivery.fan_out(group.members, frame, kind, fragments)

    def forget(self) -> None:
        for group in self.fan.audience.groups.values():  # the next image says what each socket holds
            group.known.clear()
            group.extra_known.clear()
        self._given.clear()
        self.known_by.clear()
        self._images.clear()
