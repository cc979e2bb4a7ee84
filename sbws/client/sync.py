"""A blocking facade over ``Client`` for notebooks and scripts: the client runs on its own thread and loop.

    with connect("ws://127.0.0.1:3000", subscription={"arbitrage": True}) as c:
        print(len(c.items("arbitrage")))
        for event in c.events(timeout=30):
            print(event)

Every request method of ``Client`` (``get_markets``, ``place_bet``, …) is here with the same arguments,
blocking until its reply; ``markets()`` and ``items(kind)`` return copies taken on the client's thread.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from .client import Client
from .events import Event

T = TypeVar("T")


class SyncClient:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sbws-client", daemon=True)
        self._thread.start()
        self._client = Client(*args, **kwargs)
        try:
            self._call(self._client.start())
        except BaseException:
            self._stop_loop()
            raise

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._call(self._client.close())
        self._stop_loop()

    @property
    def status(self) -> str:
        return self._client.status

    def markets(self) -> dict[str, dict[str, Any]]:
        async def snapshot() -> dict[str, dict[str, Any]]:
            return copy.deepcopy(self._client.markets)

        return self._call(snapshot())

    def items(self, kind: str) -> dict[str, dict[str, Any]]:
        async def snapshot() -> dict[str, dict[str, Any]]:
            return copy.deepcopy(self._client.items(kind))

        return self._call(snapshot())

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events from now on; the iteration ends after ``timeout`` seconds without one (None: never)."""
        stream = self._client.events()
        try:
            while True:
                try:
                    yield self._call(asyncio.wait_for(stream.__anext__(), timeout))
                except (StopAsyncIteration, asyncio.TimeoutError, TimeoutError):
                    return
        finally:
            self._call(stream.aclose())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._client, name)
        if not (name.startswith(("get_", "place_", "request", "subscribe", "unsubscribe")) and callable(method)):
            raise AttributeError(name)

        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._call(method(*args, **kwargs))

        return blocking


def connect(url: str | list[str], token: str | None = None, subscription: dict[str, Any] | None = None,
            **options: Any) -> SyncClient:
    """A connected ``SyncClient`` (``ConnectFailed`` if it cannot connect)."""
    return SyncClient(url, token, subscription, **options)
