"""Many nodes sharing one market over Redis.

``RedisBroker`` lets several nodes (or ``--workers``) share one market:

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
* settled bets and socket counts cross nodes the same way;
* feed health travels with the stream: the leader appends a health entry
  (its feed delivers, or not: failing, or finished) every third of the TTL,
  and every node, leader included, is healthy only while the newest entry it
  has read says so and is younger than ``HEALTH_STALE`` TTLs.  A follower
  that stops reading, a leader whose feed finished and a cluster with no
  leader all refuse bets, as one node with a stopped feed does.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
import structlog

from ..errors import ConfigError
from ..fanout.stream import new_epoch
from ..feeds.base import Feed
from ..market.records import Batch
from ..observability.logs import redact
from ..tasks import cancel_and_wait
from .base import Sink

log = structlog.get_logger("sbws.broker")

STREAM = b"sbws:batches"
SNAPSHOT = b"sbws:snapshot"
LEADER = b"sbws:leader"
CLIENTS = b"sbws:clients"
BET_EVENTS = b"sbws:bet-events"
STREAM_MAXLEN = 100_000
HEALTH_STALE = 1.5
"""TTLs after the newest health entry read before a node counts the feed as not delivering."""
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""


def _position(fields: dict[bytes, bytes]) -> tuple[str, int] | None:
    """The (epoch, seq) the leader gave a stream entry (entries of older versions have none)."""
    if b"e" not in fields or b"s" not in fields:
        return None
    return fields[b"e"].decode(), int(fields[b"s"])


class RedisBroker:
    def __init__(self, url: str, feed_factory: Callable[[], Feed], first_feed: Feed, ttl: float = 5.0,
                 node_id: str | None = None, snapshot_every: float = 5.0, clients_interval: float = 5.0) -> None:
        self.url = url
        self.redis: Any = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=10)
        self.feed_factory = feed_factory
        self.next_feed: Feed | None = first_feed
        self.feed: Feed = first_feed
        self.ttl = ttl
        self.node_id = node_id or "node-" + secrets.token_hex(4)
        self.snapshot_every = snapshot_every
        self.clients_interval = clients_interval
        self.is_leader = False
        self.connected = False
        self.last_id = b"0-0"
        self.cluster_count = 0
        self._feed_task: asyncio.Task[None] | None = None
        self.feed_done = False
        """The leader's feed ended (a replay ran out): the leader says so in its health entries."""
        self.health: tuple[bool, float] | None = None
        """The newest health entry read from the stream, and when (monotonic), on every node."""
        self._renew = self.redis.register_script(RENEW)

    async def check(self) -> None:
        try:
            await asyncio.wait_for(self.redis.ping(), 3.0)
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            await self.redis.aclose()
            raise ConfigError(f"cannot reach Redis at {redact(self.url)}: {exc}; is it running, and is --broker right?") from None

    # -- the whole node ----------------------------------------------------------------------
    async def run(self, sink: Sink) -> None:
        tasks = [
            asyncio.create_task(self._consume(sink), name="redis-consume"),
            asyncio.create_task(self._lead(sink), name="redis-lead"),
            asyncio.create_task(self._bet_events(sink), name="redis-bets"),
            asyncio.create_task(self._clients(sink), name="redis-clients"),
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
        if not self.connected or self.health is None:
            return False
        delivers, read_at = self.health
        return delivers and time.monotonic() - read_at < HEALTH_STALE * self.ttl

    def _feed_delivers(self) -> bool:
        """The leader's own view, which it publishes: its feed task runs and the feed says it delivers."""
        task = self._feed_task
        return task is not None and not task.done() and not self.feed_done and self.feed.is_healthy(time.time())

    # -- leadership ------------------------------------------------------------------------------
    async def _lead(self, sink: Sink) -> None:
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
                        await self.redis.xadd(STREAM, {b"h": b"1" if self._feed_delivers() else b"0",
                                                       b"n": self.node_id.encode()},
                                              maxlen=STREAM_MAXLEN, approximate=True)
                else:
                    if await self.redis.set(LEADER, self.node_id, nx=True, px=ttl_ms):
                        log.info("leadership_acquired", node=self.node_id)
                        self.is_leader = True
                        self._feed_task = asyncio.create_task(self._publish_feed(sink), name="feed")
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
            await cancel_and_wait(task)

    async def _publish_feed(self, sink: Sink) -> None:
        """Leader only: a fresh feed; its first batch resets every node (a new term, a new market)."""
        feed = self.next_feed or self.feed_factory()
        self.next_feed = None
        self.feed = feed
        self.feed_done = False
        first = True
        last_snapshot = 0.0
        epoch, seq = new_epoch(), 0  # a new term is a new market stream; the leader numbers its updates
        try:
            async for batch in feed.batches():
                seq += 1
                fields = {b"b": batch.to_json(), b"e": epoch.encode(), b"s": str(seq).encode()}
                if first:
                    fields[b"reset"] = b"1"
                    first = False
                await self.redis.xadd(STREAM, fields, maxlen=STREAM_MAXLEN, approximate=True)
                if time.monotonic() - last_snapshot > self.snapshot_every:
                    last_snapshot = time.monotonic()
                    await self._write_snapshot(sink)
            self.feed_done = True
            log.info("feed_finished", feed=feed.name, node=self.node_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("leader_feed_failed", node=self.node_id)
            self.is_leader = False

    async def _write_snapshot(self, sink: Sink) -> None:
        if self.last_id == b"0-0":
            return
        epoch, seq = sink.position()
        meta = {"id": self.last_id.decode(), "node": self.node_id, "epoch": epoch, "seq": seq}
        body = orjson.dumps(meta) + b"\n" + sink.snapshot().to_json()
        await self.redis.set(SNAPSHOT, body)

    # -- every node: apply the stream ---------------------------------------------------------
    async def _consume(self, sink: Sink) -> None:
        attempt = 0
        while True:
            try:
                await self._resync(sink)
                self.connected = True
                attempt = 0
                while True:
                    reply = await self.redis.xread({STREAM: self.last_id}, block=1000, count=500)
                    for _stream, entries in reply or ():
                        for entry_id, fields in entries:
                            self.last_id = entry_id
                            if b"h" in fields:
                                self.health = (fields[b"h"] == b"1", time.monotonic())
                                continue
                            batch = Batch.from_json(fields[b"b"])
                            reset = bool(fields.get(b"reset"))
                            if reset:
                                sink.reset()
                            sink.apply_batch(batch, _position(fields))
                            if reset:
                                sink.refresh_sockets()
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("redis_lost", node=self.node_id, error=str(exc))
                self.connected = False
                attempt += 1
                await self._backoff(attempt)

    async def _resync(self, sink: Sink) -> None:
        """Start from the leader's snapshot (or the stream's start) and refresh every socket."""
        raw = await self.redis.get(SNAPSHOT)
        if raw:
            head, _, body = raw.partition(b"\n")
            meta = orjson.loads(head)
            sink.reset()
            position = (meta["epoch"], int(meta["seq"])) if "epoch" in meta else None
            sink.apply_batch(Batch.from_json(body), position)
            self.last_id = meta["id"].encode()
        else:
            sink.reset()
            self.last_id = b"0-0"
        log.info("resynced", node=self.node_id, from_id=self.last_id.decode())
        sink.refresh_sockets()

    # -- bets and client counts across nodes ------------------------------------------------------
    async def publish_bet_event(self, sink: Sink, user_id: str, frame: bytes) -> None:
        try:
            await self.redis.publish(BET_EVENTS, orjson.dumps({"user": user_id, "frame": frame.decode()}))
        except Exception as exc:
            log.warning("bet_event_not_published", error=str(exc))
            sink.deliver_to_user(user_id, frame)

    async def _bet_events(self, sink: Sink) -> None:
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
                    sink.deliver_to_user(event["user"], event["frame"].encode())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bet_events_lost", node=self.node_id, error=str(exc))
                attempt += 1
                await self._backoff(attempt)

    async def _clients(self, sink: Sink) -> None:
        interval = self.clients_interval
        while True:
            try:
                now = time.time()
                await self.redis.hset(CLIENTS, self.node_id, f"{sink.local_clients()}:{now}")
                total = 0
                for value in (await self.redis.hgetall(CLIENTS)).values():
                    count, _, stamp = value.decode().partition(":")
                    if now - float(stamp) < interval * 3:
                        total += int(count)
                self.cluster_count = total
                await sink.refresh_active_bets()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cluster_counts_not_refreshed", node=self.node_id, error=str(exc))
            await asyncio.sleep(interval)

    def cluster_clients(self, local: int) -> int:
        return max(local, self.cluster_count) if self.connected else local

    async def close(self) -> None:
        await self._stop_feed()
        try:
            if await self.redis.get(LEADER) == self.node_id.encode():
                await self.redis.delete(LEADER)
            await self.redis.hdel(CLIENTS, self.node_id)
        except (RedisError, OSError) as exc:
            log.warning("leave_not_recorded", node=self.node_id, error=str(exc))
        await self.redis.aclose()
