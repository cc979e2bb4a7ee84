"""The default broker: the feed runs in this process and its batches go straight to the node."""

from __future__ import annotations

import asyncio

import structlog

from ..feeds.base import Feed
from .base import Sink

log = structlog.get_logger("sbws.broker")


class LocalBroker:
    is_leader = True
    connected = True

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.done = False

    async def check(self) -> None:
        return None

    async def run(self, sink: Sink) -> None:
        try:
            async for batch in self.feed.batches():
                sink.apply_batch(batch)
                await asyncio.sleep(0)
            log.info("feed_finished", feed=self.feed.name)
        finally:
            self.done = True

    def healthy(self, now: float) -> bool:
        return not self.done and self.feed.is_healthy(now)

    async def publish_bet_event(self, sink: Sink, user_id: str, frame: bytes) -> None:
        sink.deliver_to_user(user_id, frame)

    def cluster_clients(self, local: int) -> int:
        return local

    async def close(self) -> None:
        return None
