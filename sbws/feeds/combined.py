"""Several sources at once: ``--feed A+B`` (for example ``odds-api+betfair-stream``).

Every source runs in its own task and its batches come out as they arrive,
the primary's (the first) as they are, the others' through
``matching.Matcher`` so an exchange's match market lands on the primary's
moneyline.  Healthy while every source is; a source that ends (or crashes,
logged) leaves the others running.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

import structlog

from ..market.records import Batch
from .base import NO_QUOTA, Feed
from .matching import Matcher

log = structlog.get_logger("sbws.feeds.combined")


class Combined:
    name = "combined"

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self.feeds = list(feeds)
        self.matcher = Matcher()
        self.name = "+".join(f.name for f in self.feeds)
        self.crashed: set[int] = set()

    @property
    def quota(self) -> Mapping[str, int]:
        for feed in self.feeds:
            if feed.quota:
                return feed.quota
        return NO_QUOTA

    def is_healthy(self, now: float) -> bool:
        return not self.crashed and all(feed.is_healthy(now) for feed in self.feeds)

    async def batches(self) -> AsyncIterator[Batch]:
        queue: asyncio.Queue[tuple[int, Batch | None]] = asyncio.Queue(maxsize=64)

        async def pump(index: int, feed: Feed) -> None:
            try:
                async for batch in feed.batches():
                    await queue.put((index, batch))
            except Exception:
                self.crashed.add(index)
                log.exception("feed_crashed", feed=feed.name)  # the others go on; not ready any more
            finally:
                await queue.put((index, None))

        tasks = [asyncio.create_task(pump(i, f)) for i, f in enumerate(self.feeds)]
        running = len(tasks)
        try:
            while running:
                index, batch = await queue.get()
                if batch is None:
                    running -= 1
                    continue
                yield self.matcher.primary(batch) if index == 0 else self.matcher.secondary(batch)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
