"""Placing, listing and settling bets (issue 5), over WebSocket and REST."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from decimal import Decimal

import aiohttp
import pytest

from engine.board import Quote
from sbws.server.keys import NODE, SERVICE
from sbws.ledger import plans
from sbws.ledger.sqlite import SqliteDriver
from sbws.ledger.rules import outcome, payout_cents
from sbws.market.records import Batch, EventResult
from tests.helpers import app_state, connect, make_user, receive_type, wait_for

SPREAD = "lal-bos:spread:-3.5"


def bet(**over):
    body = {"marketId": SPREAD, "selectionId": "home", "bookmaker": "pinnacle", "stake": 100, "odds": 110}
    body.update(over)
    return body


async def authed(client, settings, name="trader"):
    token = make_user(settings.db, name)
    ws, hello = await connect(client, f"/ws/sportsbooks?token={token}")
    return ws, token, hello


def ledger_rows(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, user_id, stake_cents, odds, potential_payout_cents, status, client_ref FROM bets").fetchall()
    finally:
        conn.close()


async def test_place_bet_round_trip(client, settings):
    ws, _, hello = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "id": "b1", "payload": bet(notes="Celtics -3.5")})
    msg = await receive_type(ws, "bet_placed")
    b = msg["bet"]
    assert msg["id"] == "b1" and msg["duplicate"] is False
    assert b["id"].startswith("bet_") and b["status"] == "placed"
    assert b["stake"] == 100 and b["odds"] == 110 and b["potentialPayout"] == 210.0
    assert b["marketId"] == SPREAD and b["selectionId"] == "home" and b["bookmaker"] == "pinnacle"
    assert b["notes"] == "Celtics -3.5" and isinstance(b["placedAt"], int)
    [row] = ledger_rows(settings.db)
    assert row[0] == b["id"] and row[1] == hello["userId"] and row[2] == 10000 and row[4] == 21000
    await ws.send_json({"type": "get_bets"})
    listed = await receive_type(ws, "bets")
    assert [x["id"] for x in listed["bets"]] == [b["id"]]


def test_payout_rounds_half_up_exactly():
    assert payout_cents(10000, -110) == 19091
    assert payout_cents(10000, 150) == 25000
    assert payout_cents(1, -110) == 2  # 1.909 cents
    assert payout_cents(5, -300) == 7  # 6.666.. cents
    assert payout_cents(3, -200) == 5  # 4.5 cents rounds half up


async def test_minus_110_pays_190_91(client, settings):
    state = app_state(client)
    ts = time.time()
    client.server.app[NODE].feed.push(Batch(ts, quotes=[Quote(SPREAD, 0, "pinnacle", 1.0 + 100 / 110, ts)]))
    await wait_for(lambda: state.price(SPREAD, 0, "pinnacle") < 2)
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet(odds=-110)})
    b = (await receive_type(ws, "bet_placed"))["bet"]
    assert b["odds"] == -110 and b["potentialPayout"] == 190.91


@pytest.mark.parametrize(
    "payload, field, code",
    [
        (bet(stake=0), "stake", "NX-400"),
        (bet(stake=-5), "stake", "NX-400"),
        (bet(stake=10.001), "stake", "NX-400"),
        (bet(stake="100"), "stake", "NX-400"),
        (bet(stake=True), "stake", "NX-400"),
        (bet(stake=None), "stake", "NX-400"),
        (bet(stake=10_000.01), "stake", "NX-400"),
        (bet(stake=10**30), "stake", "NX-400"),
        (bet(odds=50), "odds", "NX-400"),
        (bet(odds=-99), "odds", "NX-400"),
        (bet(odds=110.5), "odds", "NX-400"),
        (bet(odds="110"), "odds", "NX-400"),
        (bet(odds=False), "odds", "NX-400"),
        (bet(notes="x" * 501), "notes", "NX-400"),
        (bet(notes=5), "notes", "NX-400"),
        (bet(clientRef="r" * 65), "clientRef", "NX-400"),
        (bet(marketId=""), "marketId", "NX-400"),
        (bet(marketId=7), "marketId", "NX-400"),
        (bet(marketId="nope:moneyline"), "marketId", "NX-404"),
        (bet(selectionId="draw"), "selectionId", "NX-404"),
        (bet(bookmaker="acme"), "bookmaker", "NX-404"),
        (bet(bookmaker="fanduel"), "bookmaker", "NX-409"),
    ],
)
async def test_validation_branches_change_nothing(client, settings, payload, field, code):
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": payload})
    err = await receive_type(ws, "error")
    assert err["code"] == code and err["field"] == field, err
    assert ledger_rows(settings.db) == []


@pytest.mark.parametrize("raw", ['{"stake": NaN}', '{"stake": Infinity}', '{"stake": 1e999}'])
async def test_nan_and_infinity_rejected(client, settings, raw):
    ws, _, _ = await authed(client, settings)
    await ws.send_str('{"type":"place_bet","payload":' + raw + "}")
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-400"
    assert ledger_rows(settings.db) == []


async def test_decimal_stake_kept_exact(client, settings):
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet(stake=0.1)})
    b = (await receive_type(ws, "bet_placed"))["bet"]
    assert b["stake"] == 0.1 and ledger_rows(settings.db)[0][2] == 10


async def test_price_protection_both_ways(client, settings):
    ws, _, _ = await authed(client, settings)
    # Better for the bettor than asked (+110 available, +105 asked): accepted at +110.
    await ws.send_json({"type": "place_bet", "payload": bet(odds=105)})
    b = (await receive_type(ws, "bet_placed"))["bet"]
    assert b["odds"] == 110 and b["requestedOdds"] == 105
    # Worse than asked (+110 available, +120 asked): refused with the current price.
    await ws.send_json({"type": "place_bet", "payload": bet(odds=120)})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-409" and err["currentOdds"] == 110 and err["requestedOdds"] == 120
    assert len(ledger_rows(settings.db)) == 1


async def test_closed_market_and_started_event_409(client, settings):
    ws, _, _ = await authed(client, settings)
    hub = client.server.app[NODE]
    ts = time.time()
    hub.feed.push(Batch(ts, closed=["kc-buf:moneyline"]))
    await wait_for(lambda: not app_state(client).is_open("kc-buf:moneyline"))
    await ws.send_json({"type": "place_bet", "payload": bet(marketId="kc-buf:moneyline", bookmaker="fanduel", odds=-125)})
    assert (await receive_type(ws, "error"))["code"] == "NX-409"
    state = app_state(client)
    import attrs

    event = state.event_of("lal-bos:moneyline")
    started = attrs.evolve(event, start_ms=int(time.time() * 1000) - 1000)
    hub.feed.push(Batch(time.time(), events=[started]))
    await wait_for(lambda: state.event_of("lal-bos:moneyline") == started)
    await ws.send_json({"type": "place_bet", "payload": bet()})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-409" and "started" in err["message"]
    assert ledger_rows(settings.db) == []


async def test_client_ref_idempotent_sequential_and_concurrent(client, settings):
    ws, token, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet(clientRef="order-1")})
    first = await receive_type(ws, "bet_placed")
    await ws.send_json({"type": "place_bet", "payload": bet(clientRef="order-1")})
    again = await receive_type(ws, "bet_placed")
    assert again["duplicate"] is True and again["bet"]["id"] == first["bet"]["id"] and again["bet"]["stake"] == 100
    # Across a reconnect and over REST, concurrently.
    headers = {"Authorization": f"Bearer {token}"}
    results = await asyncio.gather(*(client.post("/api/bets", json=bet(clientRef="order-2"), headers=headers) for _ in range(10)))
    bodies = [await r.json() for r in results]
    assert sorted(r.status for r in results) == [200] * 9 + [201]
    assert len({b["bet"]["id"] for b in bodies}) == 1
    assert [r[6] for r in ledger_rows(settings.db)].count("order-2") == 1


async def test_a_client_ref_reused_for_a_different_bet_is_refused(client, settings):
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet(clientRef="order-9")})
    first = (await receive_type(ws, "bet_placed"))["bet"]
    for change in ({"stake": 5}, {"bookmaker": "draftkings", "selectionId": "away", "odds": 105},
                   {"marketId": "lal-bos:moneyline", "selectionId": "home", "odds": -200}, {"odds": 100}):
        await ws.send_json({"type": "place_bet", "payload": bet(clientRef="order-9", **change), "id": 7})
        err = await receive_type(ws, "error")
        assert err["code"] == "NX-409" and err["reason"] == "clientRef reused", (change, err)
        assert err["field"] == "clientRef" and err["betId"] == first["id"] and err["id"] == 7
    assert [r[0] for r in ledger_rows(settings.db)] == [first["id"]]


async def test_a_retry_after_the_event_settled_returns_the_original_bet(client, settings):
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet(clientRef="lost-ack")})
    first = (await receive_type(ws, "bet_placed"))["bet"]
    client.server.app[NODE].feed.push(Batch(time.time(), results=[EventResult("lal-bos", 110, 105)]))
    await wait_for(lambda: app_state(client).key("lal-bos:spread:-3.5") is None)
    await ws.send_json({"type": "place_bet", "payload": bet(clientRef="lost-ack")})
    again = await receive_type(ws, "bet_placed", skip=("heartbeat", "sportsbooks", "bet_settled"))
    assert again["duplicate"] is True and again["bet"]["id"] == first["id"]


async def test_users_never_see_each_other(client, settings):
    ws_a, _, _ = await authed(client, settings, "alice")
    ws_b, token_b, _ = await authed(client, settings, "bob")
    await ws_a.send_json({"type": "place_bet", "payload": bet(clientRef="same")})
    a_bet = (await receive_type(ws_a, "bet_placed"))["bet"]
    await ws_b.send_json({"type": "place_bet", "payload": bet(clientRef="same")})
    b_bet = (await receive_type(ws_b, "bet_placed"))["bet"]
    assert a_bet["id"] != b_bet["id"]
    await ws_b.send_json({"type": "get_bets", "payload": {"marketId": SPREAD}})
    listed = await receive_type(ws_b, "bets")
    assert [b["id"] for b in listed["bets"]] == [b_bet["id"]]
    resp = await client.get("/api/bets", headers={"Authorization": f"Bearer {token_b}"})
    assert [b["id"] for b in (await resp.json())["bets"]] == [b_bet["id"]]


async def test_get_bets_filters(client, settings):
    ws, _, _ = await authed(client, settings)
    for book, sel, odds in (("pinnacle", "home", 110), ("draftkings", "away", 105), ("pinnacle", "away", -125)):
        await ws.send_json({"type": "place_bet", "payload": bet(bookmaker=book, selectionId=sel, odds=odds)})
        await receive_type(ws, "bet_placed")
        await asyncio.sleep(0.002)
    for payload, n in (({}, 3), ({"bookmaker": "pinnacle"}, 2), ({"status": "won"}, 0), ({"limit": 1}, 1),
                       ({"marketId": "kc-buf:moneyline"}, 0), ({"from": int(time.time() * 1000) + 60_000}, 0)):
        await ws.send_json({"type": "get_bets", "payload": payload})
        assert (await receive_type(ws, "bets"))["total"] == n, payload
    await ws.send_json({"type": "get_bets"})
    listed = (await receive_type(ws, "bets"))["bets"]
    assert [b["placedAt"] for b in listed] == sorted((b["placedAt"] for b in listed), reverse=True)
    assert listed[0]["bookmaker"] == "pinnacle" and listed[0]["selectionId"] == "away"
    await ws.send_json({"type": "get_bets", "payload": {"limit": 501}})
    assert (await receive_type(ws, "error"))["field"] == "limit"


async def test_settlement_pushes_bet_settled_and_updates_active_bets(client, settings):
    ws, _, _ = await authed(client, settings)
    other_ws, _ = await connect(client)
    placed = {}
    for sel, book, odds in (("home", "pinnacle", 110), ("away", "draftkings", 105)):
        await ws.send_json({"type": "place_bet", "payload": bet(selectionId=sel, bookmaker=book, odds=odds)})
        placed[sel] = (await receive_type(ws, "bet_placed"))["bet"]
    await ws.send_json({"type": "subscribe", "payload": {"sportsbooks": ["pinnacle"]}})
    await receive_type(ws, "subscribed")
    assert client.server.app[SERVICE].active_bets == {"pinnacle": 1, "draftkings": 1}
    hub = client.server.app[NODE]
    # Celtics (home) win by 5 and cover -3.5.
    hub.feed.push(Batch(time.time(), results=[EventResult("lal-bos", 110, 105)]))
    settled = {}
    while len(settled) < 2:
        msg = await receive_type(ws, "bet_settled")
        settled[msg["bet"]["selectionId"]] = msg["bet"]
    assert settled["home"]["status"] == "won" and settled["home"]["payout"] == 210.0
    assert settled["away"]["status"] == "lost" and settled["away"]["payout"] == 0
    assert settled["home"]["settledAt"] is not None
    await wait_for(lambda: client.server.app[SERVICE].active_bets == {})
    await other_ws.send_str('{"type":"ping"}')
    while (m := await other_ws.receive_json(timeout=5))["type"] != "pong":
        assert m["type"] != "bet_settled"


@pytest.mark.parametrize(
    "market, line, sel, home, away, three_way, want",
    [
        ("spread", -3.5, "home", 110, 106, False, "won"),
        ("spread", -3.5, "home", 110, 107, False, "lost"),
        ("spread", -3.0, "home", 110, 107, False, "push"),
        ("spread", -3.0, "away", 110, 107, False, "push"),
        ("spread", 2.5, "away", 100, 102, False, "lost"),
        ("total", 220.0, "over", 110, 110, False, "push"),
        ("total", 220.5, "under", 110, 110, False, "won"),
        ("total", 2.5, "over", 2, 1, True, "won"),
        ("moneyline", None, "home", 1, 1, True, "lost"),
        ("moneyline", None, "draw", 1, 1, True, "won"),
        ("moneyline", None, "away", 20, 20, False, "push"),
        ("moneyline", None, "away", 20, 24, False, "won"),
    ],
)
def test_settlement_rules(market, line, sel, home, away, three_way, want):
    assert outcome(market, line, sel, home, away, three_way) == want


async def test_revoked_token_loses_rights_on_next_bet(client, settings):
    ws, token, _ = await authed(client, settings)
    from sbws.ledger import plans
    from sbws.ledger.sqlite import SqliteDriver

    store = SqliteDriver(settings.db)
    store.run(plans.revoke_token(token.split(".")[0]))
    store.close()
    await ws.send_json({"type": "place_bet", "payload": bet()})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-401" and "revoked" in err["message"]
    ws2, hello = await connect(client, f"/ws/sportsbooks?token={token}")
    assert hello["authenticated"] is False


async def test_ledger_write_failure_is_nx500_and_no_bet(client, settings, monkeypatch):
    ws, _, _ = await authed(client, settings)
    conn = sqlite3.connect(settings.db)
    conn.execute("CREATE TRIGGER fail BEFORE INSERT ON bets BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    conn.commit()
    conn.close()
    await ws.send_json({"type": "place_bet", "payload": bet()})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-500"
    assert ledger_rows(settings.db) == []


def test_stake_is_decimal_not_float():
    from sbws.wire.commands import parse_stake

    assert parse_stake(0.1, Decimal("0.01"), Decimal("10000")) == Decimal("0.10")
    assert parse_stake(19.99, Decimal("0.01"), Decimal("10000")) == Decimal("19.99")


async def close_of(ws):
    msg = await ws.receive(timeout=10)
    while msg.type == aiohttp.WSMsgType.TEXT:
        msg = await ws.receive(timeout=10)
    return msg


async def test_revoking_a_token_closes_its_open_sockets(client, settings):
    ws, token, _ = await authed(client, settings)
    other, _, _ = await authed(client, settings, "someone-else")
    store = SqliteDriver(settings.db)  # another process's connection, like `sbws tokens revoke`
    store.run(plans.revoke_token(token.split(".")[0]))
    store.close()
    msg = await close_of(ws)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1008 and msg.extra == "token revoked"
    await other.send_json({"type": "ping"})
    assert (await receive_type(other, "pong"))["type"] == "pong"


async def test_an_expired_token_closes_its_socket_and_stops_working(client, settings):
    store = SqliteDriver(settings.db)
    store.run(plans.add_user("temp"))
    _, token = store.run(plans.issue_token("temp", int(time.time() * 1000) + 1500))
    store.close()
    ws, hello = await connect(client, f"/ws/sportsbooks?token={token}")
    assert hello["authenticated"] is True
    msg = await close_of(ws)
    assert msg.data == 1008 and msg.extra == "token expired"
    _, again = await connect(client, f"/ws/sportsbooks?token={token}")
    assert again["authenticated"] is False


async def test_no_bet_at_a_price_the_feed_no_longer_confirms(aiohttp_client, tmp_path):
    from sbws.clock import ManualClock
    from sbws.market.records import BookStatus
    from sbws.server.app import make_app
    from tests.helpers import ScriptedFeed, fast_settings, opening_batch

    settings = fast_settings(tmp_path, max_bet_quote_age=0.6)
    feed = ScriptedFeed([opening_batch()])
    clock = ManualClock()
    client = await aiohttp_client(await make_app(settings, feed, clock))
    await wait_for(lambda: app_state(client).batches >= 1)
    ws, _, _ = await authed(client, settings)
    await ws.send_json({"type": "place_bet", "payload": bet()})
    await receive_type(ws, "bet_placed")
    clock.advance(0.8)  # the feed says nothing more: its prices age past the limit
    await ws.send_json({"type": "place_bet", "id": "late", "payload": bet()})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-409" and err["reason"] == "stale" and err["retryable"] is True
    assert err["id"] == "late" and err["quoteAge"] >= 0.6 and "pinnacle" in err["message"]
    assert len(ledger_rows(settings.db)) == 1
    # The book is reported online again: its standing prices are confirmed.
    feed.push(Batch(clock.time(), statuses=[BookStatus("pinnacle", "Pinnacle", "online", 80, clock.ms())]))
    await wait_for(lambda: app_state(client).confirmed_at("lal-bos:moneyline", 0, "pinnacle") == clock.time())
    await ws.send_json({"type": "place_bet", "payload": bet()})
    assert (await receive_type(ws, "bet_placed"))["duplicate"] is False
    # A feed that stops delivering (what /readyz reports) refuses every bet at once.
    feed.healthy = False
    assert (await client.get("/readyz")).status == 503
    await ws.send_json({"type": "place_bet", "payload": bet()})
    err = await receive_type(ws, "error")
    assert err["code"] == "NX-409" and err["reason"] == "stale" and "feed" in err["message"]
    resp = await client.post("/api/bets", json=bet(), headers={"Authorization": f"Bearer {make_user(settings.db, 'rest')}"})
    assert resp.status == 409 and (await resp.json())["reason"] == "stale"
    assert len(ledger_rows(settings.db)) == 2


async def test_bets_pay_at_the_price_the_book_quotes(client, settings):
    ws, _, _ = await authed(client, settings)
    ts = time.time()
    ml = "lal-bos:moneyline"
    client.server.app[NODE].feed.push(Batch(ts, quotes=[
        Quote(ml, 0, "pinnacle", 1.75, ts), Quote(ml, 1, "pinnacle", 1.73, ts),
        Quote(ml, 0, "draftkings", 1.0 + 100 / 110, ts),  # a book quoting American -110
    ]))
    await wait_for(lambda: app_state(client).price(ml, 0, "pinnacle") == 1.75)
    cases = (
        ({"selectionId": "home", "bookmaker": "pinnacle", "stake": 10000, "odds": -134}, 17500.00, "1.75", 1.75),
        ({"selectionId": "home", "bookmaker": "pinnacle", "stake": 100, "decimal": 1.75}, 175.00, "1.75", 1.75),
        ({"selectionId": "away", "bookmaker": "pinnacle", "stake": 100, "decimal": 1.73}, 173.00, "1.73", 1.73),
        ({"selectionId": "home", "bookmaker": "draftkings", "stake": 100, "odds": -110}, 190.91, None, 1 + 100 / 110),
    )
    for payload, payout, stored, decimal in cases:
        await ws.send_json({"type": "place_bet", "payload": {"marketId": ml, **payload}})
        placed = (await receive_type(ws, "bet_placed"))["bet"]
        assert placed["potentialPayout"] == payout and placed["decimal"] == decimal, (payload, placed)
        with sqlite3.connect(settings.db) as conn:
            row = conn.execute("SELECT price, potential_payout_cents FROM bets WHERE id = ?", (placed["id"],)).fetchone()
        assert row == (stored, round(payout * 100)), payload


async def test_price_protection_compares_exact_prices(client, settings):
    ws, _, _ = await authed(client, settings)
    ts = time.time()
    ml = "lal-bos:moneyline"
    client.server.app[NODE].feed.push(Batch(ts, quotes=[Quote(ml, 0, "pinnacle", 1.75, ts)]))
    await wait_for(lambda: app_state(client).price(ml, 0, "pinnacle") == 1.75)
    base = {"marketId": ml, "selectionId": "home", "bookmaker": "pinnacle", "stake": 10}
    # -133 is 1.7519: better than the 1.75 on offer, though both round to -133.
    for asked, field in (({"odds": -133}, "odds"), ({"decimal": 1.76}, "decimal")):
        await ws.send_json({"type": "place_bet", "payload": {**base, **asked}})
        err = await receive_type(ws, "error")
        assert err["code"] == "NX-409" and err["field"] == field and err["currentDecimal"] == 1.75, err
    for bad_payload, field in (({"odds": -110, "decimal": 1.9}, "decimal"), ({}, "odds"), ({"decimal": 1.0}, "decimal"),
                               ({"decimal": 1.75001}, "decimal"), ({"decimal": "1.75"}, "decimal")):
        await ws.send_json({"type": "place_bet", "payload": {**base, **bad_payload}})
        err = await receive_type(ws, "error")
        assert err["code"] == "NX-400" and err["field"] == field, (bad_payload, err)
    assert ledger_rows(settings.db) == []
