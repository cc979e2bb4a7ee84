"""The aiohttp adapter's contract: the direct write of a frame built by ``wire.framing`` puts the same bytes on the
wire as ``send_frame``.

A raw TCP client does the WebSocket handshake by hand and reads the server's
frames byte for byte (server frames are unmasked, so equal payloads must give
equal bytes).
"""

from __future__ import annotations

import asyncio
import base64
import os

import attrs
from aiohttp import WSMsgType, web

from sbws.server.adapter import SocketTransport
from sbws.server.app import make_app
from sbws.server.keys import SOCKETS
from sbws.settings import Settings
from sbws.wire.framing import text_frame
from tests.helpers import app_state, connect, read_frame, receive_type, wait_for

PAYLOADS = (b'{"type":"x"}', b'{"pad":"' + b"a" * 300 + b'"}', b'{"pad":"' + b"b" * 70_000 + b'"}',
            *(b"c" * n for n in (0, 125, 126, 65_535, 65_536)))
"""Each header form of RFC 6455 (7-bit, 16-bit and 64-bit lengths) and the lengths at their edges."""


async def raw_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(b"go"))
    writer.write(bytes([0x81, 0x80 | len(body)]) + mask + body)
    return reader, writer


async def close_from_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the server's close frame and answer it, so the server's close handshake completes."""
    frame = await read_frame(reader)
    assert frame[0] == 0x88
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(frame[2:4]))
    writer.write(bytes([0x88, 0x80 | len(body)]) + mask + body)
    await writer.drain()


async def serve_frames(aiohttp_server, direct: bool):  # type: ignore[no-untyped-def]
    results: dict[str, object] = {"done": asyncio.Event()}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        transport = SocketTransport(ws, request.transport, direct=direct)
        msg = await ws.receive()
        assert msg.type == WSMsgType.TEXT
        for payload in PAYLOADS:
            written = transport.write_now(text_frame(payload))
            results.setdefault("direct", []).append(written)  # type: ignore[union-attr]
            if not direct:
                await transport.send(payload)
            await ws.send_frame(payload, WSMsgType.TEXT)
        await ws.close()
        results["after_close"] = transport.write_now(text_frame(PAYLOADS[0]))
        results["done"].set()  # type: ignore[union-attr]
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    return await aiohttp_server(app), results


async def test_direct_write_bytes_equal_send_frame_bytes(aiohttp_server):
    server, results = await serve_frames(aiohttp_server, direct=True)
    reader, writer = await raw_client(server.port)
    for payload in PAYLOADS:
        direct, public = await read_frame(reader), await read_frame(reader)
        assert direct == public
        assert direct.endswith(payload) and direct[0] == 0x81
    await close_from_client(reader, writer)
    await asyncio.wait_for(results["done"].wait(), 5)  # type: ignore[union-attr]
    writer.close()
    assert results["direct"] == [True] * len(PAYLOADS)
    assert results["after_close"] is False, "no direct write once the socket is closing"


async def test_the_public_fallback_writes_through_send_frame(aiohttp_server):
    server, results = await serve_frames(aiohttp_server, direct=False)
    reader, writer = await raw_client(server.port)
    for payload in PAYLOADS:
        via_adapter, public = await read_frame(reader), await read_frame(reader)
        assert via_adapter == public and via_adapter.endswith(payload)
    writer.close()
    assert results["direct"] == [False] * len(PAYLOADS)


async def test_the_server_works_end_to_end_without_direct_writes(aiohttp_client, settings: Settings, feed):
    """With per-message compression every frame goes through ``send_frame`` (the direct path writes no deflate)."""
    app = await make_app(attrs.evolve(settings, compress=True), feed)
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    ws, _ = await connect(client)
    assert all(not ctx.transport.direct for ctx in app[SOCKETS].values())  # type: ignore[union-attr]
    await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
    assert (await receive_type(ws, "subscribed"))["subscriptions"]["sports"] == ["NBA"]
    snapshot = await receive_type(ws, "market_update")
    assert {m["sport"] for m in snapshot["markets"]} == {"NBA"} and snapshot["total"] == 3
    await ws.close()
