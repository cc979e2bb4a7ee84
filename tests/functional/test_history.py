"""Price history and steam end to end (issue 16): a real server, a real SQLite history file."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.board import Quote
from engine.markets import MONEYLINE, MarketKey
from sbws.history.series import DAY_MS
from sbws.history.sqlite import SqliteHistory
from sbws.market.records import Batch, BookStatus, EventInfo
from sbws.server.keys import NODE
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, receive_type, wait_for

MARKET = "hist-ev:moneyline"
BOOKS = ("pinnacle", "draftkings", "fanduel", "betmgm")


def batch(quotes, ts, events=(), markets=()):
    statuses = [BookStatus(b, b.title(), "online", 50, int(ts * 1000)) for b in BOOKS]
    return Batch(ts, list(events), list(markets), [Quote(MARKET, o, b, p, ts) for o, b, p in quotes], (), (), statuses)


def opening(ts):
    event = EventInfo("hist-ev", "NBA", "NBA", "Heat", "Knicks", int((ts + 3600) * 1000))
    quotes = [(o, b, p) for b in BOOKS for o, p in ((0, 2.00), (1, 1.90))]
    return batch(quotes, ts, [event], [MarketKey("hist-ev", MONEYLINE)])


@pytest.fixture
def t0():
    return time.time() - 50


@pytest.fixture
def feed(t0):
    return ScriptedFeed([opening(t0)])


@pytest.fixture
def settings(tmp_path):
    return fast_settings(tmp_path, steam_window=60.0, steam_books=3, steam_move=2.0)


async def flush(client):
    await client.server.app[NODE].history.flush()


async def test_history_over_websocket_and_rest(client, feed, t0):
    # pinnacle moves home three times; draftkings withdraws its away price once.
    feed.push(batch([(0, "pinnacle", 1.95)], t0 + 10))
    feed.push(batch([(0, "pinnacle", 1.95), (1, "draftkings", 0.0)], t0 + 20))  # an unchanged price is no change
    feed.push(batch([(0, "pinnacle", 1.91)], t0 + 30))
    await wait_for(lambda: app_state(client).batches >= 4)
    await flush(client)
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_history", "id": "h", "payload": {"marketId": MARKET}})
    reply = await receive_type(ws, "history")
    assert reply["id"] == "h" and reply["marketId"] == MARKET
    series = {(s["selection"], s["bookmaker"]): s["points"] for s in reply["series"]}
    assert len(series) == 8
    t = int(t0 * 1000)
    assert series[("home", "pinnacle")] == [[t, 100, 2.0], [t + 10_000, -105, 1.95], [t + 30_000, -110, 1.91]]
    assert series[("away", "draftkings")] == [[t, -111, 1.9], [t + 20_000, None, None]]
    assert reply["open"]["home"]["pinnacle"] == {"t": t, "odds": 100, "decimal": 2.0}
    assert reply["current"]["home"]["pinnacle"] == {"t": t + 30_000, "odds": -110, "decimal": 1.91}
    assert reply["current"]["away"]["draftkings"] == {"t": t + 20_000, "odds": None, "decimal": None}
    assert reply["open"]["away"]["draftkings"]["decimal"] == 1.9

    params = {"selection": "home", "bookmaker": "pinnacle", "from": str(t + 5_000), "maxPoints": "1"}
    rest = await (await client.get(f"/api/markets/{MARKET}/history", params=params)).json()
    assert [(s["selection"], s["bookmaker"]) for s in rest["series"]] == [("home", "pinnacle")]
    assert rest["series"][0]["points"] == [[t + 30_000, -110, 1.91]]  # one bucket: its last point
    assert rest["open"] == {"home": {"pinnacle": {"t": t, "odds": 100, "decimal": 2.0}}}  # open ignores from
    assert (await client.get("/api/markets/nope:moneyline/history")).status == 404
    bad = await client.get(f"/api/markets/{MARKET}/history", params={"maxPoints": "0"})
    assert bad.status == 400 and (await bad.json())["field"] == "maxPoints"
    assert (await client.get(f"/api/markets/{MARKET}/history", params={"selection": "draw"})).status == 404
    empty = await client.get(f"/api/markets/{MARKET}/history", params={"from": "9", "to": "1"})
    assert empty.status == 200 and all(s["points"] == [] for s in (await empty.json())["series"])


async def test_steam_is_pushed_marked_and_kept(client, feed, t0):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"steam": True, "sports": ["NBA"]}})
    ack = await receive_type(ws, "subscribed")
    assert ack["subscriptions"]["steam"] is True
    other, _ = await connect(client)
    await other.send_json({"type": "subscribe", "payload": {"steam": True, "sports": ["NFL"]}})
    await receive_type(other, "subscribed")
    # pinnacle first, then two books: home shortens 50 % -> 52.6 % and more.
    feed.push(batch([(0, "pinnacle", 1.90)], t0 + 10))
    feed.push(batch([(0, "draftkings", 1.91)], t0 + 15))
    feed.push(batch([(0, "fanduel", 1.92)], t0 + 20))
    msg = await receive_type(ws, "steam", skip=("heartbeat", "sportsbooks", "market_update"))
    steam = msg["steam"]
    assert steam["marketId"] == MARKET and steam["selection"] == "home" and steam["selectionName"] == "Heat"
    assert steam["direction"] == "shortening" and steam["sharpFirst"] is True and steam["firstBook"] == "pinnacle"
    assert [b["bookmaker"] for b in steam["books"]] == ["pinnacle", "draftkings", "fanduel"]
    assert steam["books"][0]["from"] == 100 and steam["books"][0]["to"] == -111
    await flush(client)
    history = await (await client.get(f"/api/markets/{MARKET}/history")).json()
    assert [s["id"] for s in history["steam"]] == [steam["id"]]
    with pytest.raises((AssertionError, asyncio.TimeoutError)):  # an NFL-only socket gets no NBA steam
        await receive_type(other, "steam", timeout=0.5, skip=("heartbeat", "sportsbooks", "market_update"))


def test_retention_drops_whole_days(tmp_path):
    store = SqliteHistory(str(tmp_path / "h.db"), days=2)
    try:
        now = 10 * DAY_MS + 5_000
        store.record([("m:moneyline", 0, "a", 6 * DAY_MS + 1, 2.0), ("m:moneyline", 0, "a", 8 * DAY_MS + 1, 2.1),
                      ("m:moneyline", 0, "a", now - 1_000, 2.2)])
        store.record_steam([("stm_x", "m:moneyline", 6 * DAY_MS + 2, b"{}")])
        assert store.flush()
        assert store.tables == {6, 8, 10}
        store.prune(now)
        assert store.flush()
        assert store.tables == {8, 10}  # day 8 ends after the cutoff (day 8 + 5 s): kept whole
        series, opening, current, steam = store.query("m:moneyline", None, 0, now)
        assert [p for pts in series.values() for p in pts] == [(8 * DAY_MS + 1, 2.1), (now - 1_000, 2.2)]
        assert list(opening.values()) == [(8 * DAY_MS + 1, 2.1)] and steam == []
    finally:
        store.close()


async def test_history_writes_stay_off_the_event_loop(tmp_path):
    """Recording hands rows to the writer thread: it returns while that thread cannot write at all."""
    import sqlite3

    path = tmp_path / "h.db"
    store = SqliteHistory(str(path), days=7)
    blocker = sqlite3.connect(str(path), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another writer holds the file's write lock
        rows = [(f"m{i % 500}:moneyline", i % 2, f"b{i % 20}", 1_000_000 + i, 2.0 + (i % 7) / 100) for i in range(20_000)]
        store.record(rows)
        await asyncio.sleep(0.2)
        assert store.written == 0  # record returned; the writer thread waits for the lock, not the caller
        blocker.execute("ROLLBACK")
        assert await asyncio.get_running_loop().run_in_executor(None, store.flush)
        assert store.written == 20_000
    finally:
        blocker.close()
        store.close()


async def test_history_requests_are_budgeted_per_address(client):
    """Issue 22, item 9 (in part): past its budget an address gets 429 (both doors share it)."""
    from sbws.wire.limits import HISTORY_PER_ADDRESS

    statuses = [(await client.get(f"/api/markets/{MARKET}/history")).status for _ in range(int(HISTORY_PER_ADDRESS[1]) + 3)]
    assert statuses.count(200) >= int(HISTORY_PER_ADDRESS[1]) and 429 in statuses
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_history", "id": "h", "payload": {"marketId": MARKET}})
    reply = await receive_type(ws, "*")
    assert reply["code"] == "NX-429" and reply["reason"] == "history rate" and reply["id"] == "h"
