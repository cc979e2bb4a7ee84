"""The one place that touches aiohttp's WebSocket: direct frame writes, and refusing unmasked client frames.

aiohttp has no public way to write one pre-encoded frame to many sockets
without a task switch each; ``WebSocketResponse.send_frame`` is the public
path and the fallback (compression on, or frames queued behind a slow
socket).  The direct path writes a whole frame built once per push
(``wire.framing.text_frame``) with the connection's ``transport.write``, only
while the socket is open: aiohttp writes its own frames synchronously, so
frames never interleave.  ``tests/functional/test_adapter.py`` holds it to
writing the same bytes as ``send_frame``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.web_request import BaseRequest

from ..wire.masking import MaskScanner

from aiohttp._websocket.writer import WebSocketWriter

CLOSE_TIMEOUT = 1.0


class SocketTransport:
    """``fanout.transport.Transport`` on an aiohttp WebSocket, holding it only weakly."""

    __slots__ = ("_ws", "_transport", "direct")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, direct: bool = True) -> None:
        self._ws = weakref.ref(ws)
        self._transport: weakref.ref[asyncio.Transport] | None = None
        if transport is not None:
            try:
                self._transport = weakref.ref(transport)
            except TypeError:
                self._transport = None
        self.direct = direct and self._transport is not None

    def _raw(self) -> asyncio.Transport | None:
        return self._transport() if self._transport is not None else None

    def buffered(self) -> int:
        transport = self._raw()
        if transport is None:
            return 0
        try:
            return int(transport.get_write_buffer_size())
        except (AttributeError, RuntimeError, OSError):
            return 0

    def write_now(self, framed: bytes, limit: int | None = None) -> bool:
        """Direct write when the socket is uncompressed and open: aiohttp marks it closed before it writes its
        close frame, so nothing follows that frame."""
        if not self.direct:
            return False
        ws, transport = self._ws(), self._transport()  # type: ignore[misc]
        if ws is None or transport is None or ws.closed or transport.is_closing():
            return False
        if limit is not None and transport.get_write_buffer_size() > limit:
            return False
        transport.write(framed)
        return True

    async def send(self, frame: bytes) -> None:
        ws = self._ws()
        if ws is None:
            raise ConnectionResetError("socket gone")
        await ws.send_frame(frame, WSMsgType.TEXT)

    async def close(self, code: int, reason: bytes) -> None:
        ws, transport = self._ws(), self._raw()
        if ws is not None:
            try:
                await asyncio.wait_for(ws.close(code=code, message=reason), CLOSE_TIMEOUT)
            except (asyncio.TimeoutError, ConnectionResetError, RuntimeError):
                pass
        if transport is not None and not transport.is_closing():
            transport.abort()


class _MaskGuard:
    """Stands between aiohttp's protocol and its WebSocket reader; stops feeding at the first unmasked frame."""

    def __init__(self, parser: Any, scanner: MaskScanner, on_unmasked: Callable[[], None]) -> None:
        self.parser = parser
        self.scanner = scanner
        self.on_unmasked = on_unmasked
        self.refused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.refused:
            return False, b""
        if not self.scanner.feed(data):
            self.refused = True
            self.on_unmasked()
            return False, b""
        result: tuple[bool, bytes] = self.parser.feed_data(data)
        return result

    def feed_eof(self) -> None:
        self.parser.feed_eof()


class MaskedWebSocketResponse(web.WebSocketResponse):
    """A WebSocket that closes with 1002 when the client sends an unmasked frame, as RFC 6455 requires.

    aiohttp accepts unmasked client frames; the check sits in front of its
    reader from the first byte after the handshake (pending bytes included).
    """

    _closing_task: asyncio.Task[bool] | None = None

    def _post_start(self, request: BaseRequest, protocol: str | None, writer: WebSocketWriter) -> None:
        handler = request.protocol
        scanner = MaskScanner()
        early_ok = scanner.feed(bytes(handler._message_tail))
        super()._post_start(request, protocol, writer)
        handler._payload_parser = _MaskGuard(handler._payload_parser, scanner, self._refuse_unmasked)
        if not early_ok:
            self._refuse_unmasked()

    def _refuse_unmasked(self) -> None:
        if self._closing_task is None:
            self._closing_task = asyncio.get_running_loop().create_task(
                self.close(code=WSCloseCode.PROTOCOL_ERROR, message=b"client frames must be masked")
            )


async def close_silent_connections(runner: web.AppRunner, timeout: float, on_close: Callable[[], None]) -> None:
    """Close connections that sent no complete request head within ``timeout`` seconds of opening.

    aiohttp waits for a first request indefinitely; a half-sent head would hold a
    file descriptor for good.  Checked every fraction of the timeout; a connection
    that has started a request (``_request_count``) is left to aiohttp's own timeouts.
    """
    first_seen: dict[Any, float] = {}  # handlers take no weak references (__slots__): pruned each round
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(min(1.0, timeout / 4))
        now = loop.time()
        current = runner.server.connections if runner.server is not None else []
        first_seen = {handler: first_seen.get(handler, now) for handler in current}
        for handler, seen in first_seen.items():
            if now - seen > timeout and not (handler._request_count or handler._upgraded or handler._force_close):
                handler.force_close()
                on_close()
