"""Bets first: the ledger's background writes (alerts, webhook attempts, pruning) yield to every other write.

One flood of alerts wrote hundreds of MiB a minute on the bet writer and took
bet latency from 3 ms to over a second.  Background plans now go one at a
time, after the foreground writes already waiting, and at most
``MAX_BACKLOG`` of them may wait: past it they are refused at once
(``LedgerUnavailable``), so their callers log and drop, never queue without
bound.  A bet waits for at most one background transaction, whatever is
waiting behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ..errors import LedgerUnavailable

MAX_BACKLOG = 200
"""Background writes that may wait; one alert tick or one delivery attempt is one."""


class Lanes:
    """``foreground()`` around every bet, token or rule write; ``background()`` around the rest."""

    def __init__(self, max_backlog: int = MAX_BACKLOG) -> None:
        self.max_backlog = max_backlog
        self.waiting = 0
        """Background writes waiting for their turn."""
        self._foreground = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def foreground(self) -> AsyncIterator[None]:
        self._foreground += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._foreground -= 1
            if not self._foreground:
                self._idle.set()

    @asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        if self.waiting >= self.max_backlog:
            raise LedgerUnavailable(f"{self.waiting} background writes already wait; this one is dropped")
        self.waiting += 1
        counted = True
        try:
            async with self._turn:
                await self._idle.wait()
                self.waiting -= 1
                counted = False
                yield
        finally:
            if counted:  # cancelled while waiting
                self.waiting -= 1
