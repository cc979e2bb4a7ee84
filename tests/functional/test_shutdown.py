"""A server stops on SIGTERM even when its feed task swallows a cancellation (issue 27: a leader worker under load
went on publishing after SIGTERM and never exited; something its feed task awaited took the one cancellation)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sbws.market.records import Batch
from sbws.server.app import make_app
from tests.helpers import ScriptedFeed, fast_settings, opening_batch, wait_for
from tests.services import RedisServer


class StubbornFeed(ScriptedFeed):
    """Takes the first cancellation and goes on yielding batches, as the leader's feed task did."""

    def __init__(self) -> None:
        super().__init__([opening_batch()])
        self.swallowed = 0
        self.delivered = 0

    async def batches(self) -> AsyncIterator[Batch]:
        while True:
            try:
                yield await self.queue.get() if not self.queue.empty() else opening_batch()
                self.delivered += 1
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                if self.swallowed:
                    raise
                self.swallowed += 1


@pytest.mark.parametrize("broker", ["local", "redis"])
async def test_the_server_stops_although_its_feed_swallowed_a_cancellation(tmp_path: Path, broker: str) -> None:
    redis = None
    if broker == "redis":
        redis = RedisServer(tmp_path)
        redis.start()
    try:
        feed = StubbornFeed()
        extra = {"broker": redis.url, "leader_ttl": 2.0} if redis is not None else {}
        app = await make_app(fast_settings(tmp_path, **extra), feed)
        runner = web.AppRunner(app)
        await runner.setup()
        await wait_for(lambda: feed.delivered >= 3)
        started = time.monotonic()
        await asyncio.wait_for(runner.cleanup(), 10.0)
        assert feed.swallowed == 1, "the feed task must have taken (and swallowed) the first cancellation"
        assert time.monotonic() - started < 5.0
    finally:
        if redis is not None:
            redis.stop()
