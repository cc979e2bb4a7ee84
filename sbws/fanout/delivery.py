"""Delivery: one frame offered to one or many sockets, each socket's outbox decision carried out.

This is the only place that writes to a socket's transport.  A frame is
framed once and goes straight to the transport when nothing waits for that
socket, else behind what waits, for the socket's writer task (one runs only
while frames wait); market frames are conflated over the soft limit and a
socket past its limits is closed (``outbox.Outbox`` decides, as a pure
function).  How a socket's conflated markets become one
frame is its protocol version's business (``Conflated``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from ..observability.metrics import Metrics
from ..tasks import Spawn
from ..wire.framing import text_frame
from .context import SocketContext
from .outbox import Budget, Decision
from .transport import CloseCode

log = structlog.get_logger("sbws.fanout")

Conflated = Callable[[SocketContext], bytes | None]
"""One frame from a slow socket's conflated markets (None when none wait)."""


class Delivery:
    def __init__(self, metrics: Metrics, budget: Budget, spawn: Spawn, seq: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.metrics = metrics
        self.budget = budget
        self.spawn = spawn
        self.seq = seq
        """The v2 stream's position, kept with conflated deltas."""
        self.clock = clock
        self.on_disconnect: Callable[[SocketContext], None] = lambda ctx: None
        """The broadcaster's way to forget a socket it closes."""
        self.conflated: Conflated = lambda ctx: None
        """The broadcaster's way to turn a socket's conflated markets into one frame (its protocol version's)."""

    def deliver(self, ctx: SocketContext, frame: bytes, kind: str, fragments: dict[str, Any] | None = None) -> None:
        self.fan_out((ctx,), frame, kind, fragments)

    def fan_out(self, members: Iterable[SocketContext], frame: bytes, kind: str,
                fragments: dict[str, Any] | None = None) -> None:
        """The same frame to many sockets, framed once; the counter is touched once, not per socket."""
        now, framed = self.clock(), text_frame(frame)
        sent = 0
        for ctx in list(members):
            sent += self._offer(ctx, frame, framed, fragments, now)
        if sent:
            self.metrics.messages_out.labels(kind).inc(sent)

    def _offer(self, ctx: SocketContext, frame: bytes, framed: bytes, fragments: dict[str, Any] | None,
               now: float) -> bool:
        """Carry out the outbox's decision; True when the frame itself went out or was queued."""
        box, transport = ctx.outbox, ctx.transport
        # The common case first, in one transport call: nothing waits and the buffer is within the soft limit,
        # where ``Outbox.offer`` answers WRITE.
        if box.clear and transport is not None and transport.write_now(framed, self.budget.soft_bytes):
            return True
        buffered = transport.buffered() if transport is not None else 0
        decision = box.offer(self.budget, buffered, now, fragments is not None)
        if decision is Decision.WRITE and transport is not None and transport.write_now(framed):
            return True
        if decision in (Decision.WRITE, Decision.QUEUE):
            if box.conflated:  # the markets waiting go first: this frame may carry a newer position
                waiting = self.conflated(ctx)
                if waiting is not None:
                    box.put(waiting)
            box.put(frame)
            self._drain(ctx)
            return True
        if decision is Decision.CONFLATE and fragments is not None:
            box.conflate(fragments, self.seq())
            self.metrics.conflated.inc(len(fragments))
            self._drain(ctx)
        elif decision is Decision.CLOSE:
            self.close_slow(ctx, box.queued_bytes + buffered)
        return False

    def close_slow(self, ctx: SocketContext, pending: int) -> None:
        self.metrics.slow_closed.inc()
        log.warning("slow_consumer_closed", client_id=ctx.client_id, pending_bytes=pending)
        self.disconnect(ctx, CloseCode.TRY_AGAIN_LATER, "slow consumer")

    def disconnect(self, ctx: SocketContext, code: CloseCode, reason: str) -> None:
        """Close one socket on the server's initiative; nothing more is sent to it."""
        ctx.outbox.shut()
        self.on_disconnect(ctx)
        if ctx.transport is not None:
            self.spawn(ctx.transport.close(int(code), reason.encode()))

    def _drain(self, ctx: SocketContext) -> None:
        """A writer task for a socket that has frames waiting, unless one runs: idle sockets have none."""
        box = ctx.outbox
        if not box.draining and not box.closing and ctx.transport is not None:
            box.draining = True
            self.spawn(self._write(ctx))

    async def _write(self, ctx: SocketContext) -> None:
        """Sends what waits for this socket, in order, then ends (direct writes happen only when nothing waits)."""
        box, transport = ctx.outbox, ctx.transport
        assert transport is not None
        try:
            while not box.closing:
                frame = box.pop()
                if frame is None and box.conflated:
                    frame = self.conflated(ctx)
                if frame is None:
                    break
                await transport.send(frame)
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            box.draining = False
