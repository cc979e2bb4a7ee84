"""The Python client (issue 26) against real servers: state equal to get_markets at the same seq through forced
disconnects inside and outside the replay window, requests and errors, a bet retried across a server killed
mid-request, the documented examples, the blocking facade, and `sbws watch` under a pseudo-terminal."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings, strategies as st

from sbws.client import Client, ConnectFailed, ItemOpened, Resumed, Resynced, ServerError, connect
from sbws.server.app import make_app
from sbws.server.keys import NODE
from tests.functional.test_protocol_v2 import KEYS, SUBSCRIPTION, batch_for, opening, step
from tests.helpers import ScriptedFeed, app_state, fast_settings, make_user, wait_for
from tests.serverproc import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
SIM = ["--seed", "3", "--sim-events", "12", "--sim-tick-ms", "200", "--market-interval", "0.2",
       "--arbitrage-interval", "0.2", "--log-level", "warning"]
drop = st.just(("drop", None))


async def same_as_server(c: Client) -> None:
    """The client's markets and arbitrage equal the server's answer at the seq the client holds."""
    reply = await c.request("get_markets", {"limit": 1000})
    assert c.position is not None and reply["seq"] == c.position[1]
    assert c.markets == {m["id"]: m for m in reply["markets"] if m["status"] == "open"}
    arbs = await c.request("get_arbitrage", {})
    assert set(c.items("arbitrage")) == {o["id"] for o in arbs["opportunities"]}


async def _scenario(tmp_path: Path, steps: list, window: float) -> list[str]:
    app = await make_app(fast_settings(tmp_path, market_interval=0, arbitrage_interval=0, replay_window=window,
                                       rate_limit=1000, rate_burst=1000, address_snapshots=1000),
                         ScriptedFeed([opening()]))
    outcomes: list[str] = []
    async with TestClient(TestServer(app)) as http:
        await wait_for(lambda: app_state(http).batches >= 1)
        async with Client(str(http.make_url("/")), subscription=SUBSCRIPTION, backoff=0.05) as c:
            events = c.events()
            n = 1
            await same_as_server(c)
            for kind, arg in steps:
                if kind == "drop":  # the socket dies; the market moves on (two updates) while the client is away
                    await c.drop()
                    for _ in range(2):
                        n += 1
                        app[NODE].broker.feed.push(batch_for("quotes", [(n % len(KEYS), 0, "pinnacle",
                                                                         2.1 + n / 100)]))
                    while not isinstance(event := await asyncio.wait_for(events.__anext__(), 10),
                                         (Resumed, Resynced)):
                        pass
                    outcomes.append(type(event).__name__)
                    await wait_for(lambda: c.connected, timeout=10)
                else:
                    n += 1
                    app[NODE].broker.feed.push(batch_for(kind, arg))
                await wait_for(lambda: app_state(http).batches >= n)
                await same_as_server(c)
            await events.aclose()
    return outcomes


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(step, drop), min_size=1, max_size=8), st.sampled_from([60.0, 0.0]))
def test_client_state_equals_get_markets_through_drops(tmp_path_factory, steps, window):
    """Inside the window (60 s) every drop resumes; outside it (0 s) every drop resyncs from an image; either way
    the state equals get_markets at the same seq after every step."""
    outcomes = asyncio.run(_scenario(tmp_path_factory.mktemp("client"), steps, window))
    assert outcomes == ["Resumed" if window else "Resynced"] * sum(1 for k, _ in steps if k == "drop")


async def test_requests_errors_and_a_failed_first_connect(aiohttp_client, tmp_path):
    app = await make_app(fast_settings(tmp_path, market_interval=0), ScriptedFeed([opening()]))
    http = await aiohttp_client(app)
    await wait_for(lambda: app_state(http).batches >= 1)
    token = make_user(str(tmp_path / "ledger.db"), "alice")
    async with Client(str(http.make_url("/")), token=token) as c:
        assert c.markets == {} and c.status == "live"  # no subscription: requests only
        markets = await c.get_markets(limit=2)
        assert [m["id"] for m in markets] == sorted(m["id"] for m in markets) and len(markets) == 2
        with pytest.raises(ServerError) as refused:
            await c.place_bet("no-such-market", "home", "pinnacle", Decimal("5.00"), odds=-110)
        assert (refused.value.code, refused.value.field, refused.value.retryable) == ("NX-404", "marketId", False)
        market = next(m for m in await c.get_markets(limit=100) if m["bestOdds"])
        selection, best = next(iter(market["bestOdds"].items()))
        placed = await c.place_bet(market["id"], selection, best["bookmaker"], Decimal("12.30"), odds=-100000,
                                   client_ref="ref-1")
        assert placed.bet["stake"] == 12.3 and not placed.duplicate and placed.bet["clientRef"] == "ref-1"
        again = await c.place_bet(market["id"], selection, best["bookmaker"], "12.30", odds=-100000,
                                  client_ref="ref-1")
        assert again.duplicate and again.bet["id"] == placed.bet["id"]
        assert [b["id"] for b in await c.get_bets()] == [placed.bet["id"]]
        split = await c.get_dutch(market["id"], [selection], Decimal("20.00"))
        assert split["selections"][0]["stake"] == 20.0 and split["stake"] == 20.0
        assert (await c.subscribe(market_types=["spread"]))["marketTypes"] == ["spread"]
        await wait_for(lambda: bool(c.markets))
        assert {m["marketType"] for m in c.markets.values()} == {"spread"}
    with pytest.raises(ConnectFailed):
        async with Client(f"ws://127.0.0.1:{free_port()}", connect_timeout=0.5):
            pass


def test_importing_the_client_loads_nothing_of_the_server():
    code = ("import sys, sbws.client, sbws.client.watch; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sbws', 'engine', 'numpy')))")
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                       cwd=ROOT).stdout.replace("'", '"'))
    assert loaded and all(m == "sbws" or m.startswith("sbws.client") for m in loaded), loaded


def bets_with(db: Path, ref: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM bets WHERE client_ref = ?", (ref,))]


async def test_a_server_killed_mid_bet_and_restarted_ends_with_exactly_one_bet(tmp_path):
    """kill -9 right after the place_bet frame left (before the server could commit it), and once after it
    committed with its reply lost on the way: the client's retries with the same clientRef end with one bet, and
    in the second case the server hands back the bet it holds (duplicate)."""
    db = tmp_path / "ledger.db"
    token = make_user(str(db), "trader")
    server = ServerProcess(db, *SIM)
    server.start()
    loop = asyncio.get_running_loop()

    class Killing(Client):
        mode: str | None = None
        ref = ""

        def _handle(self, body):  # type: ignore[no-untyped-def]
            if self.mode in ("lost", "retry") and body.get("type") == "bet_placed":
                return  # the reply never arrives (even when its bytes were read after the kill)
            super()._handle(body)

        async def _exchange(self, ws, kind, body, timeout):  # type: ignore[no-untyped-def]
            mode = self.mode
            if mode == "retry" and kind == "place_bet":
                self.mode = mode = None
            if kind != "place_bet" or mode is None:
                return await super()._exchange(ws, kind, body, timeout)
            sent = asyncio.ensure_future(super()._exchange(ws, kind, body, timeout))
            if mode == "lost":
                await wait_for(lambda: bool(bets_with(db, self.ref)), timeout=10)  # committed
            else:
                await asyncio.sleep(0)
            server.kill()
            self.mode = "retry" if mode == "lost" else None
            loop.run_in_executor(None, server.start)  # the same port, the same ledger
            return await sent

    try:
        async with Killing(server.url, token=token, backoff=0.2, request_timeout=15, bet_attempts=30) as c:
            market = next(m for m in await c.get_markets(limit=100) if m["status"] == "open" and m["bestOdds"])
            selection, best = next(iter(market["bestOdds"].items()))
            for i, mode in enumerate(("early", "lost", "early", "lost")):
                c.mode, c.ref = mode, f"kill-{i}"
                placed = await c.place_bet(market["id"], selection, best["bookmaker"], 5, odds=-100000,
                                           client_ref=c.ref)
                assert bets_with(db, c.ref) == [placed.bet["id"]]
                if mode == "lost":
                    assert placed.duplicate, "the retry must get the committed bet back"
                await wait_for(lambda: c.connected, timeout=30)
    finally:
        server.__exit__()


def example(name: str) -> dict:
    """The function ``name`` as docs/client.md prints it."""
    doc = (ROOT / "docs" / "client.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if f"async def {name}(" in b)
    scope: dict = {}
    exec(compile(block, f"docs/client.md#{name}", "exec"), scope)  # noqa: S102 - our own document
    return scope


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("examples") / "ledger.db"
    token = make_user(str(db), "trader")
    server = ServerProcess(db, *SIM).start()
    yield server, token, db
    server.__exit__()


async def test_the_documented_examples_run_against_a_real_server(live_server, tmp_path, capsys):
    server, token, db = live_server
    printed = await asyncio.wait_for(example("print_arbitrage")["print_arbitrage"](server.url, -100.0, 2), 30)
    out = capsys.readouterr().out.splitlines()
    assert printed == 2 and len(out) == 2 and all(re.match(r"-?\d+\.\d\d% .+ at ", line) for line in out)

    bet = await asyncio.wait_for(example("bet_value")["bet_value"](server.url, token, 10_000, 0.0), 30)
    assert bet is not None and bets_with(db, bet["clientRef"]) == [bet["id"]]
    assert bet["id"] in capsys.readouterr().out

    async with Client(server.url) as c:
        market_id = next(m["id"] for m in await c.get_markets(limit=100) if m["status"] == "open")
    path = tmp_path / "line.csv"
    seen = await asyncio.wait_for(example("record_line")["record_line"](server.url, market_id, path, 3), 60)
    rows = list(csv.reader(path.open()))
    assert seen == 3 and rows[0] == ["timestamp", "selection", "bookmaker", "odds", "decimal"] and len(rows) > 4
    assert all(float(r[4]) > 1 and int(r[3]) != 0 for r in rows[1:])


def test_the_blocking_facade(live_server):
    server, _token, _db = live_server
    with connect(server.url, subscription={"arbitrage": True, "sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"]}) as c:
        assert c.status == "live" and c.markets() and isinstance(c.items("arbitrage"), dict)
        assert len(c.get_markets(limit=3)) == 3
        events = list(zip(range(3), c.events(timeout=10)))
        assert len(events) == 3
        with pytest.raises(AttributeError):
            c.drop  # noqa: B018 - only requests are forwarded


def read_pty(fd: int, seconds: float, until: re.Pattern[str] | None = None) -> str:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
            if until is not None and until.search(strip(out.decode(errors="replace"))):
                break
    return out.decode(errors="replace")


def strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r", "", text)


def test_sbws_watch_under_a_pseudo_terminal(live_server):
    server, token, _db = live_server
    parent, child = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "sbws", "watch", "--url", server.url, "--token", token,
                             "--sort", "edge", "--rows", "5"], stdin=child, stdout=child, stderr=child, env=env,
                            cwd=ROOT, start_new_session=True)
    os.close(child)
    try:
        screen = strip(read_pty(parent, 20, re.compile(r"arbitrage \(\d+ live.*value \(\d+ live.*middles", re.S)))
        assert "sbws watch: live at ws://" in screen, screen[-2000:]
        assert re.search(r"arbitrage \(\d+ live, \d+ shown\)", screen) and "edge %" in screen
        assert re.search(r"value \(\d+ live", screen) and re.search(r"middles \(\d+ live", screen)
        assert "sort edge" in screen
        os.write(parent, b"s")  # the next sort: EV
        assert "sort ev" in strip(read_pty(parent, 10, re.compile(r"sort ev")))
        os.write(parent, b"q")
        assert proc.wait(10) == 0
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(parent)


def test_sbws_watch_json_prints_one_event_a_line(live_server):
    server, _token, _db = live_server
    proc = subprocess.Popen([sys.executable, "-m", "sbws", "watch", "--url", server.url, "--json",
                             "--sport", "NBA", "--sport", "NFL", "--sport", "MLB", "--sport", "NHL"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(5)]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert all(line["event"] in ("ItemOpened", "ItemChanged", "ItemClosed", "MarketChanged") for line in lines)
    assert all(line["item"]["sport"] != "Soccer" for line in lines if "item" in line)
