"""Background tasks that nobody awaits at once (closing a socket, settling an event, sending alerts).

The node owns one ``TaskSet`` and drains it when it stops; the parts that
start such work are handed its ``spawn``, so no task is ever left unreferenced
or unwaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("sbws.tasks")

Spawn = Callable[[Coroutine[Any, Any, None]], None]
STOP_GRACE = 1.0
"""Seconds a cancelled task has to end before it is cancelled again."""


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel a task until it has ended.  Something it awaits may swallow one cancellation: a leader's feed task
    did under load (it went on publishing), and the worker never exited on SIGTERM.  Cancelled once, waited
    on with ``gather``, such a task holds the shutdown up for good; cancelled again, it ends."""
    attempts = 0
    while not task.done():
        if attempts == 1:
            log.warning("task_ignored_cancel", task=task.get_name(), grace_s=STOP_GRACE)
        task.cancel()
        attempts += 1
        await asyncio.wait({task}, timeout=STOP_GRACE)


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
