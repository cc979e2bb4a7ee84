"""Between the feed and the sockets: one process, or many nodes over Redis.

``LocalBroker`` (the default) runs the feed in this process.  ``RedisBroker``
lets several nodes share one market:

* exactly one node, the leader, runs the feed: leadership is a Redis key set
  with NX and a TTL, renewed by its owner and taken over by another node
  within about one TTL when the owner stops renewing;
* the leader appends every normalized batch, encoded once, to a Redis stream;
  every node, leader included, reads the stream and applies the batches to its
  own engine state, so all nodes hold the same markets (prices for bet
  validation included) and fan out to their own sockets;
* the leader also keeps a snapshot of the whole state in Redis; a node that
  starts, or reconnects after losing Redis, resets its state from the snapshot
  and sends every socket a fresh snapshot, so nobody silently misses state;
* settled bets and socket counts cross nodes the same way.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from .feeds.base import Batch, Feed

if TYPE_CHECKING:
    from .hub import Hub

log = structlog.get_logger("sbws.broker")

STREAM = b"sbws:batches"
SNAPSHOT = b"sbws:snapshot"
LEADER = b"sbws:leader"
CLIENTS = b"sbws:clients"
BET_EVENTS = b"sbws:bet-events"
STREAM_MAXLEN = 100_000
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


class LocalBroker:
    """Everything in this process: the feed's batches go straight to the hub."""

    is_leader = True

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.done = False

    async def run(self, hub: Hub) -> None:
        try:
            async for batch in self.feed.batches():
                hub.apply_batch(batch)
                await asyncio.sleep(0)
            log.info("feed_finished", feed=self.feed.name)
        finally:
            self.done = True

    def healthy(self, now: float) -> bool:
        return not self.done and self.feed.is_healthy(now)

    async def publish_bet_event(self, hub: Hub, user_id: str, frame: bytes) -> None:
        hub.deliver_to_user(user_id, frame)

    def cluster_clients(self, local: int) -> int:
        return local

    async def close(self) -> None:
        return None


class RedisBroker:
    def __init__(self, url: str, feed_factory: Callable[[], Feed], first_feed: Feed, ttl: float = 5.0,
                 node_id: str | None = None, snapshot_every: float = 5.0) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.redis: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=10)
        self.feed_factory = feed_factory
        self.next_feed: Feed | None = first_feed
        self.feed: Feed = first_feed
        self.ttl = ttl
        self.node_id = node_id or "node-" + secrets.token_hex(4)
        self.snapshot_every = snapshot_every
        self.is_leader = False
        self.connected = False
        self.last_id = b"0-0"
        self.cluster_count = 0
        self._feed_task: asyncio.Task[None] | None = None
        self._renew = self.redis.register_script(RENEW)

    # -- the whole node ----------------------------------------------------------------------
    async def run(self, hub: Hub) -> None:
        tasks = [
            asyncio.create_task(self._consume(hub), name="redis-consume"),
            asyncio.create_task(self._lead(hub), name="redis-lead"),
            asyncio.create_task(self._bet_events(hub), name="redis-bets"),
            asyncio.create_task(self._clients(hub), name="redis-clients"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await self._stop_feed()

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(5.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.0))

    def healthy(self, now: float) -> bool:
        if not self.connected:
            return False
        if self.is_leader:
            return self.feed.is_healthy(now)
        return True

    # -- leadership ------------------------------------------------------------------------------
    async def _lead(self, hub: Hub) -> None:
        attempt = 0
        ttl_ms = int(self.ttl * 1000)
        while True:
            try:
                if self.is_leader:
                    renewed = await self._renew(keys=[LEADER], args=[self.node_id, ttl_ms])
                    if not renewed:
                        log.warning("leadership_lost", node=self.node_id)
                        await self._stop_feed()
                else:
                    if await self.redis.set(LEADER, self.node_id, nx=True, px=ttl_ms):
                        log.info("leadership_acquired", node=self.node_id)
                        self.is_leader = True
                        self._feed_task = asyncio.create_task(self._publish_feed(hub), name="feed")
                attempt = 0
                await asyncio.sleep(self.ttl / 3)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.is_leader:
                    log.warning("leadership_unconfirmed", node=self.node_id, error=str(exc))
                    await self._stop_feed()
                attempt += 1
                await self._backoff(attempt)

    async def _stop_feed(self) -> None:
        self.is_leader = False
        task, self._feed_task = self._feed_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _publish_feed(self, hub: Hub) -> None:
        """Leader only: a fresh feed; its first batch resets every node (a new term, a new market)."""
        feed = self.next_feed or self.feed_factory()
        self.next_feed = None
        self.feed = feed
        first = True
        last_snapshot = 0.0
        try:
            async for batch in feed.batches():
                fields = {b"b": batch.to_json()}
                if first:
                    fields[b"reset"] = b"1"
                    first = False
                await self.redis.xadd(STREAM, fields, maxlen=STREAM_MAXLEN, approximate=True)
                if time.monotonic() - last_snapshot > self.snapshot_every:
                    last_snapshot = time.monotonic()
                    await self._write_snapshot(hub)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("leader_feed_failed", node=self.node_id)
            self.is_leader = False

    async def _write_snapshot(self, hub: Hub) -> None:
        if self.last_id == b"0-0":
            return
        body = orjson.dumps({"id": self.last_id.decode(), "node": self.node_id}) + b"\n" + hub.state.snapshot().to_json()
        await self.redis.set(SNAPSHOT, body)

    # -- every node: apply the stream ---------------------------------------------------------
    async def _consume(self, hub: Hub) -> None:
        attempt = 0
        while True:
            try:
                await self._resync(hub)
                self.connected = True
                attempt = 0
                while True:
                    reply = await self.redis.xread({STREAM: self.last_id}, block=1000, count=500)
                    for _stream, entries in reply or ():
                        for entry_id, fields in entries:
                            batch = Batch.from_json(fields[b"b"])
                            reset = bool(fields.get(b"reset"))
                            if reset:
                                hub.reset_state()
                            hub.apply_batch(batch)
                            if reset:
                                hub.refresh_all_sockets()
                            self.last_id = entry_id
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("redis_lost", node=self.node_id, error=str(exc))
                self.connected = False
                attempt += 1
                await self._backoff(attempt)

    async def _resync(self, hub: Hub) -> None:
        """Start from the leader's snapshot (or the stream's start) and refresh every socket."""
        raw = await self.redis.get(SNAPSHOT)
        if raw:
            head, _, body = raw.partition(b"\n")
            meta = orjson.loads(head)
            hub.reset_state()
            hub.apply_batch(Batch.from_json(body))
            self.last_id = meta["id"].encode()
        else:
            hub.reset_state()
            self.last_id = b"0-0"
        log.info("resynced", node=self.node_id, from_id=self.last_id.decode())
        hub.refresh_all_sockets()

    # -- bets and client counts across nodes ------------------------------------------------------
    async def publish_bet_event(self, hub: Hub, user_id: str, frame: bytes) -> None:
        try:
            await self.redis.publish(BET_EVENTS, orjson.dumps({"user": user_id, "frame": frame.decode()}))
        except Exception as exc:
            log.warning("bet_event_not_published", error=str(exc))
            hub.deliver_to_user(user_id, frame)

    async def _bet_events(self, hub: Hub) -> None:
        attempt = 0
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(BET_EVENTS)
                attempt = 0
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is None:
                        continue
                    event = orjson.loads(msg["data"])
                    hub.deliver_to_user(event["user"], event["frame"].encode())
            except asyncio.CancelledError:
                raise
            except Exception:
                attempt += 1
                await self._backoff(attempt)

    async def _clients(self, hub: Hub) -> None:
        interval = max(1.0, min(5.0, hub.settings.heartbeat_interval / 2))
        while True:
            try:
                now = time.time()
                await self.redis.hset(CLIENTS, self.node_id, f"{len(hub.audience)}:{now}")
                total = 0
                for value in (await self.redis.hgetall(CLIENTS)).values():
                    count, _, stamp = value.decode().partition(":")
                    if now - float(stamp) < interval * 3:
                        total += int(count)
                self.cluster_count = total
                hub.state.active_bets = await hub.service.ledger.active_bets_by_book()
            except asyncio.CancelledError:
                raise
            except Exception:
                pass
            await asyncio.sleep(interval)

    def cluster_clients(self, local: int) -> int:
        return max(local, self.cluster_count) if self.connected else local

    async def close(self) -> None:
        await self._stop_feed()
        try:
            if await self.redis.get(LEADER) == self.node_id.encode():
                await self.redis.delete(LEADER)
            await self.redis.hdel(CLIENTS, self.node_id)
        except Exception:
            pass
        await self.redis.aclose()


Broker = LocalBroker | RedisBroker


def make_broker(url: str, feed_factory: Callable[[], Feed], first_feed: Feed, ttl: float, node_id: str) -> Any:
    if not url:
        return LocalBroker(first_feed)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise SystemExit(f"sbws: --broker must be a redis:// URL, got {url!r}")
    return RedisBroker(url, feed_factory, first_feed, ttl=ttl, node_id=node_id or None)
