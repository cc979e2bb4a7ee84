"""+EV value bets, middles and closing line value end to end (issue 14), over WebSocket and REST."""

from __future__ import annotations

import json
import time

import pytest

from engine.board import Quote
from engine.devig import devig_prices
from engine.markets import SPREAD, TOTAL, MarketKey
from engine.middles import integer_distribution
from engine.value import value_id
from sbws.market.records import Batch, BookStatus, EventInfo
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, make_user, receive_type, wait_for

START_IN = 3.0
"""Seconds until the test event starts: long enough to bet on it first, short enough to wait for its close."""
MARKET = "clv-ev:spread:-2.5"


def _batch(events, markets, quotes, books=("pinnacle", "draftkings", "fanduel")):
    ts = time.time()
    statuses = [BookStatus(b, b.title(), "online", 50, int(ts * 1000)) for b in books]
    return Batch(ts, events, markets, [Quote(m, o, b, p, ts) for m, o, b, p in quotes], (), (), statuses)


def opening(start_ms):
    event = EventInfo("clv-ev", "NBA", "NBA", "Heat", "Knicks", start_ms)
    totals = [MarketKey("clv-ev", TOTAL, x) for x in (220.5, 221.5, 222.5)]
    quotes = [
        # A symmetric sharp line: p = 0.5 by every method; draftkings' 2.10 on home is +5 % EV.
        (MARKET, 0, "pinnacle", 1.95), (MARKET, 1, "pinnacle", 1.95),
        (MARKET, 0, "draftkings", 2.10), (MARKET, 1, "draftkings", 1.75),
        # Totals: over 220.5 at draftkings and under 222.5 at fanduel leave 221 and 222 winning both.
        ("clv-ev:total:+221.5", 0, "pinnacle", 1.95), ("clv-ev:total:+221.5", 1, "pinnacle", 1.95),
        ("clv-ev:total:+220.5", 0, "draftkings", 1.87), ("clv-ev:total:+222.5", 1, "fanduel", 1.87),
    ]
    return _batch([event], [MarketKey("clv-ev", SPREAD, -2.5), *totals], quotes)


@pytest.fixture
def start_ms():
    return int((time.time() + START_IN) * 1000)


@pytest.fixture
def feed(start_ms):
    return ScriptedFeed([opening(start_ms)])


@pytest.fixture
def settings(tmp_path):
    return fast_settings(tmp_path, value_interval=0.05)


async def test_value_pushes_requests_and_rest(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"value": True}})
    ack = await receive_type(ws, "subscribed")
    assert ack["subscriptions"]["value"] is True and ack["subscriptions"]["minEv"] is None
    snap = await receive_type(ws, "value_update")
    [item] = snap["value"]
    assert item["id"] == value_id(MARKET, 0, "draftkings") and item["marketId"] == MARKET
    assert (item["selection"], item["selectionName"], item["line"], item["bookmaker"]) == ("home", "Heat", -2.5, "draftkings")
    assert item["odds"] == 110 and item["decimal"] == 2.10 and item["fairProbability"] == pytest.approx(0.5)
    assert item["fairOdds"] == {"american": 100, "decimal": 2.0}
    assert item["ev"] == pytest.approx(5.0) and item["kelly"] == pytest.approx(0.05 / 1.10, abs=1e-6)
    assert item["sharp"]["bookmakers"] == ["pinnacle"] and item["sharp"]["method"] == "worst"
    assert item["sharp"]["hold"] == pytest.approx((2 / 1.95 - 1) * 100, abs=1e-3) and item["suspect"] is False
    assert "stake" not in item

    await ws.send_json({"type": "get_value", "id": 1, "payload": {"bankroll": 1000, "minEv": 4}})
    reply = await receive_type(ws, "value_update")
    assert reply["id"] == 1 and reply["value"][0]["stake"] == pytest.approx(0.25 * 0.05 / 1.10 * 1000, abs=0.01)
    for bad in ({"bankroll": -5}, {"minEv": "x"}, {"minEv": float("nan")}, {"marketType": "parlay"}):
        await ws.send_str('{"type":"get_value","id":2,"payload":' + json.dumps(bad) + "}")
        err = await receive_type(ws, "error", skip=("heartbeat", "sportsbooks", "value_update"))
        assert err["code"] == "NX-400" and err.get("id") == (None if bad.get("minEv") != bad.get("minEv") else 2)

    rest = await (await client.get("/api/value", params={"bookmaker": "draftkings", "minEv": "4", "bankroll": "200"})).json()
    assert [v["id"] for v in rest["value"]] == [item["id"]] and rest["value"][0]["stake"] == pytest.approx(2.27, abs=0.01)
    assert (await (await client.get("/api/value", params={"minEv": "6"})).json())["total"] == 0
    assert (await client.get("/api/value", params={"bankroll": "abc"})).status == 400


async def test_value_closes_and_respects_sportsbooks(client, feed):
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"value": True, "sportsbooks": ["fanduel", "pinnacle"]}})
    await receive_type(ws, "subscribed")
    assert (await receive_type(ws, "value_update"))["value"] == []  # the bet is at draftkings, not subscribed
    other, _ = await connect(client)
    await other.send_json({"type": "subscribe", "payload": {"value": True}})
    await receive_type(other, "subscribed")
    assert len((await receive_type(other, "value_update"))["value"]) == 1
    feed.push(_batch([], [], [(MARKET, 0, "draftkings", 1.90)]))
    closed = await receive_type(other, "value_update")
    while not closed["closed"]:
        closed = await receive_type(other, "value_update")
    assert closed["closed"] == [value_id(MARKET, 0, "draftkings")] and closed["value"] == []
    assert len(app_state(client).live("value")) == 0


async def test_middles(client):
    reply = await (await client.get("/api/middles", params={"marketType": "total"})).json()
    # Pinnacle's 221.5 makes two narrower middles with the others; the wide one is draftkings and fanduel.
    windows = {(m["window"]["low"], m["window"]["high"]): m for m in reply["middles"]}
    assert set(windows) == {(220.5, 222.5), (220.5, 221.5), (221.5, 222.5)}
    middle = windows[(220.5, 222.5)]
    assert [(leg["bookmaker"], leg["selection"], leg["line"]) for leg in middle["legs"]] == [
        ("draftkings", "over", 220.5), ("fanduel", "under", 222.5)]
    assert middle["window"] == {"low": 220.5, "high": 222.5} and middle["width"] == 2.0
    assert [leg["stake"] for leg in middle["legs"]] == [50.0, 50.0]
    assert middle["missProfit"] == pytest.approx(100 / (2 / 1.87) - 100, abs=0.01)
    assert middle["hitProfit"] == pytest.approx(200 / (2 / 1.87) - 100, abs=0.01)
    assert middle["model"] == {"center": pytest.approx(221.5), "sd": 14.0}
    # Centred on 221.5 with sd 14: 221 and 222 are the winning totals.
    k, p = integer_distribution(221.5, 14.0, nonnegative=True)
    assert middle["hitProbability"] == pytest.approx(float(p[(k == 221) | (k == 222)].sum()), abs=1e-6)
    assert (await client.get("/api/middles", params={"marketType": "moneyline"})).status == 400
    assert (await (await client.get("/api/middles", params={"bookmaker": "betmgm"})).json())["total"] == 0
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"middles": True, "sports": ["NBA"]}})
    await receive_type(ws, "subscribed")
    pushed = await receive_type(ws, "middles_update", skip=("heartbeat", "sportsbooks", "market_update"))
    assert {m["id"] for m in pushed["middles"]} == {m["id"] for m in reply["middles"]}
    await ws.send_json({"type": "get_middles", "id": "m", "payload": {"minEv": 1000}})
    assert (await receive_type(ws, "middles_update", skip=("heartbeat", "sportsbooks", "market_update")))["middles"] == []


async def test_closing_line_value_reaches_the_bet(client, settings, feed, start_ms):
    token = make_user(settings.db)
    ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    await ws.send_json({"type": "place_bet", "id": "b", "payload": {
        "marketId": MARKET, "selectionId": "home", "bookmaker": "draftkings", "stake": 10, "odds": 110}})
    placed = (await receive_type(ws, "bet_placed"))["bet"]
    assert placed["fairProbability"] == pytest.approx(0.5) and placed["clv"] is None
    # The sharp line moves before the start; that last pre-start line is the close.
    feed.push(_batch([], [], [(MARKET, 0, "pinnacle", 1.80), (MARKET, 1, "pinnacle", 2.10)]))
    closing_p = devig_prices("worst", [1.80, 2.10])[0]
    await wait_for(lambda: app_state(client).closing_line(MARKET) is not None
                   and app_state(client).closing_line(MARKET).p[0] == pytest.approx(closing_p))
    updated = await receive_type(ws, "bet_updated", timeout=START_IN + 5)
    assert time.time() * 1000 >= start_ms
    bet = updated["bet"]
    assert bet["id"] == placed["id"] and bet["closingFairProbability"] == pytest.approx(closing_p, abs=1e-6)
    assert bet["clv"] == pytest.approx((closing_p * 2.10 - 1) * 100, abs=1e-3)
    await ws.send_json({"type": "get_bets", "id": "g"})
    listing = await receive_type(ws, "bets")
    assert listing["clv"] == {"bets": 1, "average": pytest.approx(bet["clv"], abs=1e-3)}
    rest = await (await client.get("/api/bets", headers={"Authorization": f"Bearer {token}"})).json()
    assert rest["bets"][0]["clv"] == pytest.approx(bet["clv"], abs=1e-3) and rest["clv"]["bets"] == 1
