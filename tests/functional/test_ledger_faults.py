"""The ledger busy or its disk full: a quick NX-503 that says so, tokens still readable, /readyz honest."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from sbws.server.app import make_app
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, make_user, opening_batch, receive_type, wait_for
from tests.services import need

BET = {"marketId": "lal-bos:spread:-3.5", "selectionId": "home", "bookmaker": "pinnacle", "stake": 100, "odds": 110}


def bets_in(db: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM bets").fetchone()[0])


async def test_a_locked_ledger_answers_503_fast_and_token_reads_go_on(client, settings):
    token = make_user(settings.db)
    ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    locker = sqlite3.connect(settings.db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        started = time.monotonic()
        await ws.send_json({"type": "place_bet", "id": "b", "payload": BET})
        err = await receive_type(ws, "error", timeout=10)
        assert time.monotonic() - started < 5
        assert err["code"] == "NX-503" and err["reason"] == "ledger unavailable" and err["retryable"] is True
        assert err["id"] == "b"
        _, hello = await connect(client, f"/ws/sportsbooks?token={token}")
        assert hello["authenticated"] is True, "token reads go on while another process holds the write lock"
        started = time.monotonic()
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["checks"]["ledger"] is False
        assert time.monotonic() - started < 4
        resp = await client.post("/api/bets", json=BET, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 503 and (await resp.json())["code"] == "NX-503"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    await ws.send_json({"type": "place_bet", "payload": BET})
    assert (await receive_type(ws, "bet_placed"))["duplicate"] is False
    assert (await client.get("/readyz")).status == 200
    assert bets_in(settings.db) == 1


@contextlib.contextmanager
def small_filesystem(path: Path, size: str = "4m") -> Iterator[Path]:
    path.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode:
        need("mounting a small tmpfs (root) to fill a real file system")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            pass
    return filler


async def test_a_full_disk_turns_bets_and_readyz_away_until_space_returns(aiohttp_client, tmp_path):
    with small_filesystem(tmp_path / "small") as small:
        settings = fast_settings(tmp_path, db=str(small / "ledger.db"))
        client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch()])))
        await wait_for(lambda: app_state(client).batches >= 1)
        token = make_user(settings.db)
        ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
        assert (await client.get("/readyz")).status == 200
        filler = fill(small)
        await ws.send_json({"type": "place_bet", "payload": BET})
        err = await receive_type(ws, "error", timeout=10)
        assert err["code"] == "NX-503" and err["reason"] == "ledger unavailable"
        assert (await client.get("/readyz")).status == 503
        filler.unlink()
        await ws.send_json({"type": "place_bet", "payload": BET})
        assert (await receive_type(ws, "bet_placed"))["duplicate"] is False
        assert (await client.get("/readyz")).status == 200
        await ws.close()
        await client.close()
        assert bets_in(settings.db) == 1
