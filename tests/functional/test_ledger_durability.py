"""The ledger under stress: SIGKILL mid-burst, and the event loop during a burst of bets."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time

import aiohttp

from sbws.server.app import make_app
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, make_user, opening_batch, wait_for
from tests.serverproc import ServerProcess


async def _hammer(url: str, token: str, acked: list[str], stop_after: float) -> None:
    """Place bets as fast as the server answers; remember every acknowledged clientRef."""
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url + f"/ws/sportsbooks?token={token}")
        await ws.send_json({"type": "get_markets", "payload": {"limit": 1000}})
        while (msg := await ws.receive_json(timeout=5))["type"] != "market_update":
            pass
        targets = [(m["id"], sel, b["bookmaker"]) for m in msg["markets"] if m["status"] == "open"
                   for sel, b in m["bestOdds"].items()]
        deadline = time.monotonic() + stop_after
        n = 0
        try:
            while time.monotonic() < deadline:
                market, sel, book = targets[n % len(targets)]
                ref = f"r{n}"
                await ws.send_json({"type": "place_bet", "payload": {
                    "marketId": market, "selectionId": sel, "bookmaker": book, "stake": 1, "odds": -100000, "clientRef": ref}})
                while True:
                    reply = await ws.receive_json(timeout=5)
                    if reply["type"] == "bet_placed":
                        acked.append(reply["bet"]["clientRef"])
                        break
                    if reply["type"] == "error":
                        break
                n += 1
        except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError, TypeError):
            return  # the server died under us: that is the point


def test_sigkill_never_loses_an_acknowledged_bet(tmp_path):
    db = tmp_path / "crash.db"
    token = make_user(str(db))
    acked: list[str] = []
    rng = random.Random()
    with ServerProcess(db, "--rate-limit", "100000", "--rate-burst", "100000", "--sim-tick-ms", "50") as server:

        async def run():
            hammer = asyncio.create_task(_hammer(server.url, token, acked, 30))
            await asyncio.sleep(rng.uniform(1.0, 3.0))
            server.kill()
            await hammer

        asyncio.run(run())
    assert len(acked) > 20, "the client should have had bets acknowledged before the kill"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        refs = [r[0] for r in conn.execute("SELECT client_ref FROM bets")]
    finally:
        conn.close()
    assert len(refs) == len(set(refs))
    assert set(acked) <= set(refs)
    # And the restarted server serves them.
    with ServerProcess(db) as again:
        async def count():
            async with aiohttp.ClientSession() as http:
                resp = await http.get(again.url + "/api/bets?limit=500", headers={"Authorization": f"Bearer {token}"})
                return (await resp.json())["bets"]

        listed = asyncio.run(count())
        assert len(listed) == min(500, len(refs))


async def test_heartbeats_flow_during_a_burst_of_1000_bets(aiohttp_client, tmp_path):
    settings = fast_settings(tmp_path, heartbeat_interval=0.05, rate_limit=1e6, rate_burst=10**6)
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch()])))
    await wait_for(lambda: app_state(client).batches >= 1)
    token = make_user(settings.db)
    watcher, _ = await connect(client)
    bettor, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    beats: list[float] = []

    async def watch():
        while True:
            msg = await watcher.receive_json()
            if msg["type"] == "heartbeat":
                beats.append(time.monotonic())

    watching = asyncio.create_task(watch())
    start = time.monotonic()
    for i in range(1000):
        await bettor.send_json({"type": "place_bet", "payload": {"marketId": "lal-bos:spread:-3.5", "selectionId": "home",
                                "bookmaker": "pinnacle", "stake": 1, "odds": 100, "clientRef": f"b{i}"}})
    placed = 0
    while placed < 1000:
        msg = await bettor.receive_json(timeout=30)
        if msg["type"] == "bet_placed":
            placed += 1
        assert msg["type"] != "error", msg
    end = time.monotonic()
    watching.cancel()
    during = [t for t in beats if start <= t <= end]
    # The ledger thread writes while the loop keeps pushing: beats arrive throughout the burst.
    assert len(during) >= max(2, int((end - start) / 0.05 * 0.5)), (len(during), end - start)
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps, default=0) < 0.5


def test_processes_opening_a_new_ledger_at_once_migrate_it_once(tmp_path):
    """``--workers`` start together on a file that does not exist yet: every step is applied exactly once."""
    import sqlite3
    import threading

    from sbws.ledger.sqlite import MIGRATIONS, SqliteDriver

    for attempt in range(20):
        path = str(tmp_path / f"race{attempt}.db")
        gate = threading.Barrier(3)
        errors: list[BaseException] = []
        opened: list[SqliteDriver] = []

        def open_it() -> None:
            gate.wait()
            try:
                opened.append(SqliteDriver(path))
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever went wrong
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for ledger in opened:
            ledger.close()
        assert errors == []
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
