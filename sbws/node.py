"""One server node: feed batches in (through the broker), engine in the middle, pushes out.

The node is the broker's ``Sink`` and owns the timers: push intervals,
heartbeat and loop lag.  Settlement runs here, once, on the node that runs
the feed.  It knows nothing of HTTP; ``server`` hands it sockets' contexts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import IO, Any

import structlog

from .alerts.alerter import ALERT_INTERVAL, RULES_REFRESH, Alerter
from .alerts.webhooks import Deliverer
from .clock import SYSTEM, Clock, ms
from .cluster.base import Broker
from .feeds.base import Feed
from .history.factory import History
from .history.plans import steam_row
from .market.records import Batch, EventResult
from .market.state import Changes, MarketState
from .observability.looplag import watch_loop_lag
from .observability.metrics import Metrics
from .fanout.broadcaster import Broadcaster
from .fanout.stream import new_epoch
from .fanout.transport import CloseCode
from .signals import ARBITRAGE, ARBITRAGE_CADENCE, VALUE_CADENCE
from .tasks import TaskSet, cancel_and_wait
from .service import Service
from .settings import Settings, value_interval
from .wire import frames, views

log = structlog.get_logger("sbws.node")

TOKEN_CHECK_INTERVAL = 2.0
"""Seconds between checks of the open sockets' tokens against the ledger (revocation reaches sockets within it)."""
HISTORY_PRUNE_INTERVAL = 3600.0
"""Seconds between prunes of the price history (the first runs at start)."""
CLOSING_CHECK_INTERVAL = 1.0
"""Seconds between looks for events that started, whose bets get their closing line (for CLV)."""


class Node:
    def __init__(self, settings: Settings, service: Service, broadcaster: Broadcaster, broker: Broker,
                 metrics: Metrics, background: TaskSet, deliverer: Deliverer, recorder: IO[bytes] | None,
                 clock: Clock = SYSTEM) -> None:
        self.settings = settings
        self.clock = clock
        self.service = service
        self.state: MarketState = service.state
        self.broadcaster = broadcaster
        self.broker = broker
        self.metrics = metrics
        self.background = background
        """Work started and not awaited (settlement, alerts, socket closes): drained when the node stops."""
        self.recorder = recorder
        """``--record``: every feed batch is appended here."""
        self.tasks: list[asyncio.Task[None]] = []
        self.history: History = service.history_store
        metrics.history_failures.set_function(lambda: self.history.failures)
        self.alerter = Alerter(self.state, service.ledger, deliverer, self.publish_to_user, clock)
        self.outbox: asyncio.Task[None] | None = None
        """Reads back the deliveries a stopped server left, once this node leads (again while it fails)."""
        metrics.leader.set_function(lambda: 1.0 if self.broker.is_leader else 0.0)
        metrics.broker_up.set_function(lambda: 1.0 if self.broker.connected else 0.0)
        metrics.feed_lag.set_function(lambda: self.clock.time() - self.state.last_batch_at if self.state.batches else 0.0)
        metrics.quota.set_function(lambda: self.feed.quota.get("remaining", 0))
        metrics.quota_used.set_function(lambda: self.feed.quota.get("used", 0))

    @property
    def feed(self) -> Feed:
        return self.broker.feed

    def healthy(self) -> bool:
        return self.broker.healthy(self.clock.time())

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        s, b = self.settings, self.broadcaster
        self._task(self._run_broker(), "broker")
        if s.market_interval > 0:
            self._task(self._every(s.market_interval, b.push_markets), "markets")
        if s.arbitrage_interval > 0:
            self._task(self._every(s.arbitrage_interval, self._arbitrage_tick), "arbs")
        if value_interval(s) > 0:
            self._task(self._every(value_interval(s), lambda: b.push_signals(VALUE_CADENCE)), "value")
        self._task(self._every(CLOSING_CHECK_INTERVAL, self._record_closing_lines), "closing")
        self._task(self._every(HISTORY_PRUNE_INTERVAL, self._prune_history, first=0.0), "history-prune")
        self._task(self._watch_rules(), "alert-rules")
        self._task(self._every(ALERT_INTERVAL, self._alert_tick), "alerts")
        self._task(self._every(s.heartbeat_interval, self._heartbeat), "heartbeat")
        self._task(watch_loop_lag(self.metrics), "loop-lag")
        self._task(self._watch_tokens(), "tokens")

    async def stop(self) -> None:
        if self.outbox is not None:
            self.tasks.append(self.outbox)
        await asyncio.gather(*(cancel_and_wait(task) for task in self.tasks))
        await self.background.drain()
        await self.broker.close()

    def _task(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=name))

    async def _every(self, interval: float, fn: Callable[[], None], first: float | None = None) -> None:
        await asyncio.sleep(interval if first is None else first)
        while True:
            try:
                fn()
            except Exception:
                log.exception("push_failed", push=getattr(fn, "__name__", "?"))
            await asyncio.sleep(interval)

    async def _run_broker(self) -> None:
        try:
            await self.broker.run(self)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed_crashed", feed=self.feed.name)

    def _arbitrage_tick(self) -> None:
        if self.settings.max_quote_age > 0:
            self.state.expire_stale(self.clock.time())
        self.broadcaster.push_signals(ARBITRAGE_CADENCE)

    def _heartbeat(self) -> None:
        self.broadcaster.push_heartbeat(self.broker.cluster_clients(len(self.broadcaster.audience)))

    async def _watch_tokens(self) -> None:
        """Sockets whose token was revoked or expired are closed (1008), whichever node or process revoked it."""
        while True:
            await asyncio.sleep(TOKEN_CHECK_INTERVAL)
            holders = [ctx for ctx in self.broadcaster.audience.contexts if ctx.token_id]
            if not holders:
                continue
            try:
                gone = await self.service.ledger.inactive_tokens({ctx.token_id for ctx in holders if ctx.token_id})
            except Exception as exc:  # the ledger is down: keep watching, the next check may pass
                log.warning("token_check_failed", error=str(exc))
                continue
            for ctx in holders:
                reason = gone.get(ctx.token_id or "")
                if reason is not None:
                    log.info("token_socket_closed", client_id=ctx.client_id, user_id=ctx.user_id, reason=reason)
                    self.broadcaster.disconnect(ctx, CloseCode.POLICY_VIOLATION, reason)

    # -- the broker's sink ------------------------------------------------------------
    def apply_batch(self, batch: Batch, position: tuple[str, int] | None = None) -> None:
        """``position``: the (epoch, seq) the leader gave the batch in cluster mode; one node numbers its own."""
        if self.recorder is not None:
            self.recorder.write(batch.to_json() + b"\n")
        started = time.perf_counter()
        changes = self.state.apply(batch)
        self.metrics.scan_seconds.observe(time.perf_counter() - started)
        self.metrics.markets.set(self.state.market_count())
        self.metrics.opportunities.set(len(self.state.live(ARBITRAGE.name)))
        steam = [views.steam(self.state, event) for event in changes.steam]
        if self.broker.is_leader:
            for result in changes.results:
                self.background.spawn(self._settle(result))
            self._record(changes, steam)
        # Only feed batches move the v2 stream (the periodic rescan that expires stale quotes does not).
        self.broadcaster.stream.advance(self.state, changes.markets | changes.defined, changes.gone, self.clock.time(),
                                        position)
        self.broadcaster.ingest(changes)
        if steam:
            self.broadcaster.push_steam(steam)
            self.alerter.saw_steam(steam)

    def _record(self, changes: Changes, steam: list[dict[str, Any]]) -> None:
        """The price history is written where the feed runs: changed prices as delivered, and the steam seen."""
        self.history.record([(q.market_id, q.outcome, q.book, ms(q.ts), q.price if q.price > 1.0 else None)
                             for q in changes.moved])
        if steam:
            self.history.record_steam([steam_row(e["id"], e["marketId"], e["detectedAt"], e) for e in steam])

    def reset(self) -> None:
        self.broadcaster.forget_market()
        self.state.clear()
        self.broadcaster.stream.restart(new_epoch(), 0)

    def position(self) -> tuple[str, int]:
        return self.broadcaster.stream.position

    def refresh_sockets(self) -> None:
        self.broadcaster.refresh_all()

    def snapshot(self) -> Batch:
        return self.state.snapshot()

    def deliver_to_user(self, user_id: str, frame: bytes) -> None:
        self.broadcaster.deliver_to_user(user_id, frame, "bet_settled")

    def local_clients(self) -> int:
        return len(self.broadcaster.audience)

    async def refresh_active_bets(self) -> None:
        await self.service.refresh_active_bets()

    # -- alerts -------------------------------------------------------------------------
    async def _watch_rules(self) -> None:
        while True:
            try:
                await self.alerter.reload()
            except Exception as exc:  # the ledger is down: keep the rules we have
                log.warning("alert_rules_unreadable", error=str(exc))
            await asyncio.sleep(RULES_REFRESH)

    def _alert_tick(self) -> None:
        if not self.broker.is_leader:
            return
        if self.outbox is None:
            self.outbox = asyncio.create_task(self._resume_deliveries(), name="webhook-outbox")
        found = self.alerter.tick()
        if found:
            self.background.spawn(self.alerter.send(found))

    async def _resume_deliveries(self) -> None:
        try:
            await self.alerter.deliverer.resume()
        except Exception as exc:  # the ledger is down: the next tick tries again
            log.warning("webhooks_not_resumed", error=str(exc))
            self.outbox = None

    async def publish_to_user(self, user_id: str, frame: bytes) -> None:
        await self.broker.publish_bet_event(self, user_id, frame)

    def _prune_history(self) -> None:
        """The price history, and alerts and delivery attempts past ``--alert-days``."""
        if self.broker.is_leader:
            now = self.clock.ms()
            self.background.spawn(self.history.prune(now))
            self.background.spawn(self._prune_alerts(now - self.settings.alert_days * 86_400_000))

    async def _prune_alerts(self, before_ms: int) -> None:
        try:
            gone = await self.service.ledger.prune_alerts(before_ms)
        except Exception as exc:  # the ledger is down: the next prune tries again
            log.warning("alert_prune_failed", error=str(exc))
            return
        if gone:
            log.info("alerts_pruned", rows=gone, before=before_ms)

    # -- closing line value -------------------------------------------------------------
    def _record_closing_lines(self) -> None:
        """Once an event starts, its bets get the fair probability of the last sharp line before the start."""
        if not self.broker.is_leader:
            return
        for event_id, closing in self.state.closing_lines_due(self.clock.ms()):
            self.background.spawn(self._close_bets(event_id, closing))

    async def _close_bets(self, event_id: str, closing: dict[tuple[str, str], float]) -> None:
        try:
            updated = await self.service.ledger.record_closing(event_id, closing)
        except Exception:
            log.exception("closing_line_failed", event_id=event_id)
            return
        for bet in updated:
            log.info("bet_closing_line", bet_id=bet.id, user_id=bet.user_id, clv=bet.clv)
            frame = frames.encode({"type": "bet_updated", "bet": views.bet(bet), "timestamp": self.clock.ms()})
            await self.broker.publish_bet_event(self, bet.user_id, frame)

    # -- settlement -------------------------------------------------------------------
    async def _settle(self, result: EventResult) -> None:
        try:
            settled = await self.service.settle(result)
        except Exception:
            log.exception("settlement_failed", event_id=result.event_id)
            return
        for bet in settled:
            log.info("bet_settled", bet_id=bet.id, user_id=bet.user_id, status=bet.status)
            frame = frames.encode({"type": "bet_settled", "bet": views.bet(bet), "timestamp": self.clock.ms()})
            await self.broker.publish_bet_event(self, bet.user_id, frame)
        if settled:
            self.broadcaster.books_changed(b.bookmaker for b in settled)
