"""Connection limits on a real server process: refusals with a JSON body, silent connections closed, /livez alive."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.serverproc import ServerProcess


async def test_limits_per_address_and_overall_refuse_with_json(tmp_path):
    server = ServerProcess(tmp_path / "l.db", "--max-connections-per-ip", "5", "--max-connections", "8").start()
    try:
        async with aiohttp.ClientSession() as http:
            url = server.url + "/ws/sportsbooks"
            held = [await http.ws_connect(url) for _ in range(5)]
            async with http.get(url, headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                              "Sec-WebSocket-Version": "13"}) as refused:
                assert refused.status == 429
                body = await refused.json()
                assert body["code"] == "NX-429" and body["reason"] == "too many connections"
            async with http.get(server.url + "/livez") as live:
                assert live.status == 200
            async with http.get(server.url + "/metrics") as metrics:
                assert 'sbws_connections_refused_total{limit="address"} 1.0' in await metrics.text()
            await held.pop().close()
            held.append(await http.ws_connect(url))  # a slot freed is a slot taken
            for ws in held:
                await ws.close()
    finally:
        server.terminate()


async def test_overall_limit_is_503(tmp_path):
    server = ServerProcess(tmp_path / "l.db", "--max-connections", "3").start()
    try:
        async with aiohttp.ClientSession() as http:
            held = [await http.ws_connect(server.url + "/ws/sportsbooks") for _ in range(3)]
            try:
                await http.ws_connect(server.url + "/ws/sportsbooks")
                raise AssertionError("the fourth socket must be refused")
            except aiohttp.WSServerHandshakeError as exc:
                assert exc.status == 503
            for ws in held:
                await ws.close()
    finally:
        server.terminate()


async def test_a_half_sent_request_head_is_closed_after_the_header_timeout(tmp_path):
    server = ServerProcess(tmp_path / "l.db", "--header-timeout", "1").start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/markets HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", server.port)
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
        assert await asyncio.wait_for(silent_reader.read(), 10) == b""
        assert time.monotonic() - started < 4
        writer.close()
        silent_writer.close()
        async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as metrics:
            assert "sbws_header_timeouts_total 2.0" in await metrics.text()
    finally:
        server.terminate()
