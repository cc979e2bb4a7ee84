"""Push cycles: engine changes in, one frame per subscription group out to its sockets.

Encode once, send many: each market's object and JSON are cached by revision
(``wire.views.MarketFragments``) and each live item is encoded once per push;
a socket's protocol version (``versions``) builds one frame per group of
sockets with identical filters, and ``Delivery`` offers the same frame to
every member.  This module decides when: what is dirty, which timer pushes
what, and what a socket gets when it connects, subscribes or resumes.  The
WebSocket door talks to it through ``attach``, ``detach``, ``subscribe`` and
``after_command``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import signals
from ..market.state import Changes, MarketState
from ..signals import Kind
from ..wire import frames
from ..wire.commands import Subscribe, Subscription, Unsubscribe
from .audience import Audience, steam_matches
from .context import SocketContext
from .delivery import Delivery
from .outbox import Outbox
from .transport import CloseCode
from .versions import Fanout, ProtocolV1, ProtocolV2, ProtocolVersion


class Broadcaster:
    def __init__(self, fan: Fanout, immediate: Mapping[str, bool]) -> None:
        """``immediate``: per push (``markets`` and each signal cadence), whether it follows every engine update."""
        self.fan = fan
        self.state: MarketState = fan.state
        self.stream = fan.stream
        self.audience: Audience = fan.audience
        self.delivery: Delivery = fan.delivery
        self.delivery.on_disconnect = self.audience.remove
        self.delivery.conflated = lambda ctx: self.version(ctx).conflated(ctx)
        self.immediate = immediate
        self.versions: dict[int, ProtocolVersion] = {v.number: v for v in (ProtocolV1(fan), ProtocolV2(fan))}
        self.dirty: set[str] = set()
        self.status_dirty: set[str] = set()

    def version(self, ctx: SocketContext) -> ProtocolVersion:
        return self.versions[ctx.protocol]

    # -- sockets in and out ---------------------------------------------------------------
    def attach(self, ctx: SocketContext) -> None:
        """A socket joins: it is in the audience at once."""
        self.version(ctx).attached()
        self.audience.add(ctx)

    def outbox(self, protocol: int) -> Outbox:
        """A new socket's outbox, as its protocol version conflates."""
        return self.versions[protocol].outbox()

    def error(self, ctx: SocketContext, body: dict[str, Any]) -> None:
        self.delivery.deliver(ctx, frames.encode(body), "error")

    def disconnect(self, ctx: SocketContext, code: CloseCode, reason: str) -> None:
        self.delivery.disconnect(ctx, code, reason)

    def detach(self, ctx: SocketContext) -> None:
        self.audience.remove(ctx)
        ctx.outbox.shut()

    def subscribe(self, ctx: SocketContext, change: Subscription, adding: bool) -> None:
        ctx.apply(change, adding)
        self.audience.resubscribe(ctx)

    def greet(self, ctx: SocketContext, hello: dict[str, Any]) -> None:
        """The ``connected`` message (with the version's own fields) and the sportsbooks, first on every socket."""
        version = self.version(ctx)
        self.delivery.deliver(ctx, frames.encode({**hello, **version.hello()}), "connected")
        self.delivery.deliver(ctx, version.sportsbooks(), "sportsbooks")

    def reply(self, ctx: SocketContext, message: dict[str, Any], msg_id: str | int | None) -> None:
        position = self.version(ctx).position()
        if position is not None:
            message["epoch"], message["seq"] = position
        self.delivery.deliver(ctx, frames.reply(message, msg_id), message["type"])

    def after_command(self, ctx: SocketContext, command: object) -> None:
        """What follows a (un)subscribe reply: a snapshot or image, or the replay of a resume."""
        version = self.version(ctx)
        if isinstance(command, Subscribe):
            if command.resume is not None:
                version.resume(ctx, command.resume.epoch, command.resume.seq)
            else:
                version.subscribed(ctx)
        elif isinstance(command, Unsubscribe):
            version.unsubscribed(ctx)

    # -- engine output in ---------------------------------------------------------------
    def ingest(self, changes: Changes) -> None:
        self.dirty |= changes.markets
        self.status_dirty |= changes.statuses_changed
        if self.immediate.get("markets") and (self.dirty or self.stream.pending):
            self.push_markets()
        for cadence in (signals.ARBITRAGE_CADENCE, signals.VALUE_CADENCE):
            if self.immediate.get(cadence) and any(self.state.live(k.name).changed for k in signals.of_cadence(cadence)):
                self.push_signals(cadence)
        if self.status_dirty:
            self.push_sportsbooks()

    def forget_market(self) -> None:
        """The state is being cleared: nothing is pending, and no group holds any market."""
        self.dirty.clear()
        for version in self.versions.values():
            version.forget()

    def books_changed(self, books: Iterable[str]) -> None:
        self.status_dirty |= set(books)
        self.push_sportsbooks()

    # -- pushes ---------------------------------------------------------------------------
    def push_markets(self) -> None:
        pending = self.stream.take_pending()
        dirty, self.dirty = self.dirty, set()
        for version in self.versions.values():
            version.push_markets(dirty, pending)

    def push_signals(self, cadence: str) -> None:
        """Each signal kind of this cadence to the groups that asked for it."""
        now = self.fan.clock.time()
        for kind in signals.of_cadence(cadence):
            self._push_kind(kind, now)

    def _push_kind(self, kind: Kind, now: float) -> None:
        groups = [g for g in self.audience.wanting(kind.name) if g.members]
        if not groups:
            self.state.live(kind.name).take()
            return
        live = self.state.found(kind.name, now)
        closed = live.take()
        encoded = signals.encoded(kind, self.state, live, now)
        for group in groups:
            self.versions[group.sub.protocol].push_items(kind, group, encoded, closed, now)

    def push_steam(self, events: Iterable[dict[str, Any]]) -> None:
        """Each steam move at once to the groups it matches."""
        state = self.state
        for event in events:
            key = state.key(event["marketId"])
            if key is None:
                continue
            frame = frames.steam(event, self.fan.clock)
            for group in self.audience.wanting("steam"):
                if group.members and steam_matches(group.sub, key.id, state.sport_of(key.id), key.market_type):
                    self.delivery.fan_out(group.members, frame, "steam")

    def push_heartbeat(self, clients: int) -> None:
        for number, members in self._by_version(self.audience.contexts).items():
            frame = frames.heartbeat(clients, self.versions[number].position(), self.fan.clock)
            self.delivery.fan_out(members, frame, "heartbeat")

    def push_sportsbooks(self) -> None:
        changed, self.status_dirty = self.status_dirty, set()
        if not changed:
            return
        audience = [
            ctx for ctx in self.audience.contexts
            if not ctx.subscribed_sportsbooks or not ctx.subscribed_sportsbooks.isdisjoint(changed)
        ]
        for number, members in self._by_version(audience).items():
            self.delivery.fan_out(members, self.versions[number].sportsbooks(), "sportsbooks")

    def _by_version(self, contexts: Iterable[SocketContext]) -> dict[int, list[SocketContext]]:
        out: dict[int, list[SocketContext]] = {}
        for ctx in contexts:
            out.setdefault(ctx.protocol, []).append(ctx)
        return out

    def refresh_all(self) -> None:
        """Every socket gets the sportsbooks and its group's picture; each group's frames are built once."""
        for group in list(self.audience.groups.values()):
            self.versions[group.sub.protocol].refresh(group)

    def deliver_to_user(self, user_id: str, frame: bytes, kind: str) -> None:
        self.delivery.fan_out(self.audience.by_user.get(user_id, ()), frame, kind)
