"""Connection limits on a real server process: refusals with a JSON body, silent connections closed, /livez alive."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.serverproc import ServerProcess
from tests.services import need


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


def test_the_open_files_limit_is_raised_to_the_hard_limit_at_start(tmp_path):
    import json
    import resource
    import subprocess

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 256:
        need(f"a hard open-files limit above 256 (this machine's is {hard})")
    server = ServerProcess(tmp_path / "l.db")
    server.log = open(server.log_path, "ab")
    server.proc = subprocess.Popen(
        server.args, stdout=server.log, stderr=subprocess.STDOUT, env=server.env,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    try:
        deadline = time.monotonic() + 30
        listening = None
        while listening is None and time.monotonic() < deadline:
            for line in server.log_path.read_text().splitlines():
                record = json.loads(line)
                if record["event"] == "listening":
                    listening = record
            time.sleep(0.05)
        assert listening is not None and listening["open_files"] == hard
        limits = open(f"/proc/{server.proc.pid}/limits").read()
        assert any(line.startswith("Max open files") and line.split()[3] == str(hard) for line in limits.splitlines())
    finally:
        server.terminate()


def test_accept_failures_for_lack_of_descriptors_are_logged_once_in_a_while(capsys):
    import errno

    from sbws.server import run
    from tests.helpers import structured_logs

    with structured_logs():
        loop = asyncio.new_event_loop()
        run.ACCEPT_ERRORS.last = float("-inf")
        for _ in range(100):
            run._on_loop_error(loop, {"message": "socket.accept() out of system resource",
                                      "exception": OSError(errno.EMFILE, "Too many open files")})
        loop.close()
        lines = [line for line in capsys.readouterr().err.splitlines() if "accept_failed" in line]
    assert len(lines) == 1 and "LimitNOFILE" in lines[0] and "Traceback" not in lines[0]
