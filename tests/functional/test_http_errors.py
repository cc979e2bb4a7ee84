"""Malformed HTTP from a client: a 4xx, and one structured log line, never a traceback (on a real process)."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import make_user
from tests.serverproc import ServerProcess


async def raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    return data


async def test_bad_gzip_and_duplicate_host_are_client_errors_logged_in_one_line(tmp_path):
    db = tmp_path / "l.db"
    token = make_user(str(db))
    server = ServerProcess(db, "--log-level", "info").start()
    try:
        bad_gzip = await raw(server.port, (
            f"POST /api/bets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            "Content-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnotgzip!!!"
        ).encode())
        assert bad_gzip.startswith(b"HTTP/1.1 400")
        body = json.loads(bad_gzip.split(b"\r\n\r\n", 1)[1])
        assert body["code"] == "NX-400" and "content-encoding" in body["message"]
        two_hosts = await raw(server.port, b"GET /api/markets HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert two_hosts.split(b"\r\n")[0].endswith(b"400 Bad Request")
        assert (await raw(server.port, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(b"HTTP/1.1 200")
    finally:
        server.terminate()
    lines = server.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert "Traceback" not in server.log_path.read_text()
    errors = [r for r in records if "error" in r]
    assert any("content-encoding" in r["error"] for r in errors) and any("Duplicate 'Host'" in r["error"] for r in errors)
    assert all(r["level"] != "error" for r in errors)
