"""Exchanges through the server (issue 24, in part): lay prices on the wire in both protocol versions, and
back-lay arbitrage as arbitrage items of kind back_lay on both doors."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.board import LAY, Quote
from sbws.market.records import Batch
from sbws.server.app import make_app
from sbws.server.keys import NODE
from tests.helpers import FUTURE, ScriptedFeed, app_state, connect, fast_settings, opening_batch, receive_type, wait_for

MARKET = "lal-bos:moneyline"


def with_exchange(ts: float) -> Batch:
    """The opening market, with smarkets backing the home side at 2.10 and laying it at 2.22, and a bookmaker
    backing it at 2.25: the issue's worked example at 2 % commission."""
    return Batch(ts, quotes=[Quote(MARKET, 0, "smarkets", 2.10, ts), Quote(MARKET, 0, "smarkets", 2.22, ts, LAY),
                             Quote(MARKET, 0, "bet365", 2.25, ts)])


async def test_back_lay_arbitrage_and_lay_prices_on_both_doors(aiohttp_client, tmp_path):
    now = time.time()
    settings = fast_settings(tmp_path, commission={"smarkets": 0.02})
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch(now), with_exchange(now)])))
    await wait_for(lambda: app_state(client).batches >= 2)
    market = await (await client.get(f"/api/markets/{MARKET}")).json()
    home = next(s for s in market["selections"] if s["id"] == "home")
    away = next(s for s in market["selections"] if s["id"] == "away")
    assert home["lay"] == {"smarkets": 2.22} and away["lay"] == {}  # a laid market: every selection says
    assert market["bestOdds"]["home"]["decimal"] == 2.25  # lays are never back prices
    other = await (await client.get("/api/markets/lal-bos:spread:-3.5")).json()
    assert all("lay" not in s for s in other["selections"])  # nobody lays it: no field
    body = await (await client.get("/api/arbitrage")).json()
    kinds = {o["kind"] for o in body["opportunities"]}
    assert kinds == {"back", "back_lay"}
    [opp] = [o for o in body["opportunities"] if o["kind"] == "back_lay"]
    back, lay = opp["legs"]
    assert (back["side"], back["bookmaker"], back["decimal"], back["stake"]) == ("back", "bet365", 2.25, 100.0)
    assert (lay["side"], lay["bookmaker"], lay["decimal"]) == ("lay", "smarkets", 2.22)
    assert lay["stake"] == 102.27 and lay["liability"] == round(102.2727 * 1.22, 2)
    assert opp["guaranteedProfit"] == 0.23 and opp["edge"] == pytest.approx(0.2273, abs=1e-4)
    assert opp["roi"] == pytest.approx(0.2273 / (100 + 102.2727 * 1.22) * 100, abs=1e-4)
    assert all(leg["side"] == "back" for o in body["opportunities"] if o["kind"] == "back" for leg in o["legs"])
    ws, _ = await connect(client)
    await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA"], "arbitrage": True}})
    push = await receive_type(ws, "arbitrage_update")
    assert {o["kind"] for o in push["opportunities"]} == {"back", "back_lay"}
    # The lay goes (smarkets withdraws it): the opportunity closes, the lay field empties.
    client.server.app[NODE].feed.push(Batch(now + 1, quotes=[Quote(MARKET, 0, "smarkets", 0.0, now + 1, LAY)]))
    await wait_for(lambda: app_state(client).batches >= 3)
    body = await (await client.get("/api/arbitrage")).json()
    assert {o["kind"] for o in body["opportunities"]} == {"back"}
    market = await (await client.get(f"/api/markets/{MARKET}")).json()
    assert next(s for s in market["selections"] if s["id"] == "home")["lay"] == {}
    await ws.close()


async def test_matched_betting_on_both_doors(aiohttp_client, tmp_path):
    """get_matched and /api/matched: each laid selection's best bookmaker back against the exchange's lay, with the
    lay stake, liability and the result either way, best rating first; bad requests get NX-400."""
    now = time.time()
    settings = fast_settings(tmp_path, commission={"smarkets": 0.05})
    batch = Batch(now, quotes=[Quote(MARKET, 0, "smarkets", 2.6, now, LAY), Quote(MARKET, 0, "bet365", 2.5, now),
                               Quote(MARKET, 1, "smarkets", 3.05, now, LAY), Quote(MARKET, 1, "bet365", 3.0, now)])
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch(now), batch])))
    await wait_for(lambda: app_state(client).batches >= 2)
    body = await (await client.get("/api/matched?stake=100")).json()
    assert body["betType"] == "qualifying" and body["total"] == 2
    home = next(s for s in body["selections"] if s["selection"] == "home")
    assert home["back"] == {"bookmaker": "bet365", "decimal": 2.5, "odds": 150}
    assert home["lay"] == {"exchange": "smarkets", "decimal": 2.6, "commission": 5.0}
    assert (home["layStake"], home["liability"], home["ifBackWins"], home["ifLayWins"]) == (98.04, 156.86, -6.86, -6.86)
    ratings = [s["rating"] for s in body["selections"]]
    assert ratings == sorted(ratings, reverse=True)
    free = await (await client.get("/api/matched?stake=50&type=free_snr")).json()
    away = next(s for s in free["selections"] if s["selection"] == "away")
    assert (away["layStake"], away["liability"], away["ifBackWins"], away["ifLayWins"]) == (33.33, 68.33, 31.67, 31.67)
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_matched", "id": "m", "payload": {"stake": 50, "type": "free_snr", "limit": 1}})
    reply = await receive_type(ws, "matched")
    assert reply["id"] == "m" and len(reply["selections"]) == 1 and reply["total"] == 2
    assert reply["selections"][0] == free["selections"][0]
    for query in ("stake=0", "stake=100&type=free", "stake=abc", "", "stake=100&limit=0"):
        resp = await client.get(f"/api/matched?{query}")
        assert resp.status == 400 and (await resp.json())["code"] == "NX-400", query
    await ws.close()


async def test_a_suspended_market_refuses_bets_and_says_so_with_its_ladder(aiohttp_client, tmp_path):
    from sbws.market.records import Depth, ExchangeState
    from tests.helpers import make_user

    now = time.time()
    settings = fast_settings(tmp_path)
    ladder = Depth(MARKET, "home", "smarkets", [(2.10, 50.0), (2.08, 120.0)], [(2.22, 30.0)], 2.14, 5400.0)
    opened = Batch(now, quotes=[Quote(MARKET, 0, "smarkets", 2.10, now), Quote(MARKET, 0, "smarkets", 2.22, now, LAY)],
                   exchange=[ExchangeState(MARKET, "open", True, 5)], depth=[ladder])
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch(now), opened])))
    await wait_for(lambda: app_state(client).batches >= 2)
    market = await (await client.get(f"/api/markets/{MARKET}")).json()
    assert market["status"] == "open" and market["inPlay"] is True and market["betDelay"] == 5
    home = next(s for s in market["selections"] if s["id"] == "home")
    assert home["depth"] == {"smarkets": {"back": [[2.1, 50.0], [2.08, 120.0]], "lay": [[2.22, 30.0]]}}
    assert home["lastTraded"] == {"smarkets": 2.14} and home["traded"] == {"smarkets": 5400.0}
    assert "inPlay" not in await (await client.get("/api/markets/lal-bos:spread:-3.5")).json()
    headers = {"Authorization": f"Bearer {make_user(settings.db)}"}
    bet = {"marketId": MARKET, "selectionId": "home", "bookmaker": "pinnacle", "stake": 10, "decimal": 1.6}
    client.server.app[NODE].feed.push(Batch(now + 1, exchange=[ExchangeState(MARKET, "suspended", True, 5)]))
    await wait_for(lambda: app_state(client).batches >= 3)
    assert (await (await client.get(f"/api/markets/{MARKET}")).json())["status"] == "suspended"
    resp = await client.post("/api/bets", json=bet, headers=headers)
    error = await resp.json()
    assert resp.status == 409 and error["reason"] == "suspended" and error["retryable"] is True
    client.server.app[NODE].feed.push(Batch(now + 2, exchange=[ExchangeState(MARKET, "open", True, 5)]))
    await wait_for(lambda: app_state(client).batches >= 4)
    resp = await client.post("/api/bets", json=bet, headers=headers)
    assert resp.status in (200, 201), await resp.json()


async def test_lay_bets_their_liability_exposure_and_commission_on_net_winnings(aiohttp_client, tmp_path):
    """A lay at an exchange: placed only at a lay price no higher than asked, its liability within the stake
    limits; the exposure nets it against a back; settled as the mirror of a back, with the exchange's commission
    on the bettor's net winnings in the market, exact in cents."""
    from sbws.market.records import EventResult
    from tests.helpers import make_user

    now = time.time()
    settings = fast_settings(tmp_path, commission={"smarkets": 0.02}, max_stake=1000.0)
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch(now), with_exchange(now)])))
    await wait_for(lambda: app_state(client).batches >= 2)
    headers = {"Authorization": f"Bearer {make_user(settings.db)}"}

    async def bet(**body):  # type: ignore[no-untyped-def]
        resp = await client.post("/api/bets", json={"marketId": MARKET, "selectionId": "home", **body}, headers=headers)
        return resp.status, await resp.json()

    status, error = await bet(bookmaker="smarkets", side="lay", stake=10, decimal=2.20)
    assert status == 409 and error["currentDecimal"] == 2.22  # the lay price is above what was asked
    status, error = await bet(bookmaker="bet365", side="lay", stake=10, decimal=3.0)
    assert status == 409 and "does not lay" in error["message"]
    status, error = await bet(bookmaker="smarkets", side="lay", stake=900, decimal=2.3)
    assert status == 400 and error["field"] == "stake" and error["liability"] == 1098.0  # over the 1,000 limit
    status, laid = await bet(bookmaker="smarkets", side="lay", stake=10, decimal=2.3)
    assert status in (200, 201), laid
    lay = laid["bet"]
    assert (lay["side"], lay["decimal"], lay["liability"], lay["potentialPayout"]) == ("lay", 2.22, 12.2, 22.2)
    status, backed = await bet(bookmaker="bet365", stake=10, decimal=2.25)
    assert status in (200, 201) and backed["bet"]["side"] == "back" and backed["bet"]["liability"] == 10.0
    exposure = await (await client.get(f"/api/exposure?marketId={MARKET}", headers=headers)).json()
    by = {s["selection"]: s["ifWins"] for s in exposure["selections"]}
    assert by == {"home": 0.3, "away": 0.0} and exposure["worstCase"] == 0.0 and exposure["bets"] == 2
    assert (await client.get(f"/api/exposure?marketId={MARKET}")).status == 401
    client.server.app[NODE].feed.push(Batch(now + 1, results=[EventResult("lal-bos", 100, 110)]))  # away wins
    for _ in range(100):
        bets = {b["side"]: b for b in (await (await client.get("/api/bets", headers=headers)).json())["bets"]}
        if all(b["status"] != "placed" for b in bets.values()):
            break
        await asyncio.sleep(0.05)
    back, lay = bets["back"], bets["lay"]
    assert (back["status"], back["payout"], back["profit"], back["commission"]) == ("lost", 0.0, -10.0, 0.0)
    # The lay wins the backer's 10: its net winnings in the market at smarkets are 10, 2 % of it is 0.20.
    assert (lay["status"], lay["payout"], lay["commission"], lay["profit"]) == ("won", 22.0, 0.2, 9.8)


async def test_a_back_lay_stake_is_capped_by_the_size_offered_at_the_lay(aiohttp_client, tmp_path):
    from sbws.market.records import Depth

    now = time.time()
    settings = fast_settings(tmp_path, commission={"smarkets": 0.02})
    ladder = Depth(MARKET, "home", "smarkets", [(2.10, 80.0)], [(2.22, 40.0), (2.24, 500.0)])
    batch = Batch(now, quotes=with_exchange(now).quotes, depth=[ladder])
    client = await aiohttp_client(await make_app(settings, ScriptedFeed([opening_batch(now), batch])))
    await wait_for(lambda: app_state(client).batches >= 2)
    [opp] = [o for o in (await (await client.get("/api/arbitrage")).json())["opportunities"] if o["kind"] == "back_lay"]
    assert opp["maxStake"] == round(40.0 * (2.22 - 0.02) / 2.25, 2)  # 40 laid at 2.22 covers a back of 39.11
    # More size at the lay: the cap moves without any price moving.
    client.server.app[NODE].feed.push(Batch(now + 1, depth=[Depth(MARKET, "home", "smarkets", [(2.10, 80.0)],
                                                                  [(2.22, 400.0)])]))
    await wait_for(lambda: app_state(client).batches >= 3)
    [opp] = [o for o in (await (await client.get("/api/arbitrage")).json())["opportunities"] if o["kind"] == "back_lay"]
    assert opp["maxStake"] == round(400.0 * 2.2 / 2.25, 2)


async def test_two_sources_at_once_an_exchange_stream_onto_a_bookmaker_feeds_moneyline(aiohttp_client, tmp_path):
    """--feed A+B: the exchange's match market (Betfair's own ids and names) is the primary's moneyline: its backs
    and lays appear there beside the bookmakers', and a back-lay arbitrage across the two sources is found."""
    from datetime import datetime, timezone

    from sbws.feeds.betfair import Mapper
    from sbws.feeds.combined import Combined
    from tests.helpers import FUTURE

    exchange = ScriptedFeed()
    now = time.time()
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, commission={"betfair": 0.02}),
                                                 Combined([ScriptedFeed([opening_batch(now)]), exchange])))
    await wait_for(lambda: app_state(client).batches >= 1)
    start = datetime.fromtimestamp(FUTURE / 1000 + 120, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    message = {"op": "mcm", "pt": int(now * 1000), "mc": [{"id": "1.9", "marketDefinition": {
        "status": "OPEN", "eventTypeId": "7522", "marketType": "MATCH_ODDS", "numberOfWinners": 1, "marketTime": start,
        "runners": [{"id": 1, "status": "ACTIVE", "sortPriority": 1, "name": "Boston Celtics"},
                    {"id": 2, "status": "ACTIVE", "sortPriority": 2, "name": "Los Angeles Lakers"}]},
        "rc": [{"id": 1, "atb": [[1.62, 100.0]], "atl": [[1.58, 40.0]]}, {"id": 2, "atb": [[2.5, 80.0]], "atl": [[2.56, 30.0]]}]}]}
    mapper = Mapper()
    exchange.push(mapper.batch({"op": "mcm", "pt": int(now * 1000), "mc": [{"id": "1.9", "marketDefinition":
                                                                            message["mc"][0]["marketDefinition"]}]},
                               lambda ms: ms / 1000.0))
    exchange.push(mapper.batch(message, lambda ms: ms / 1000.0))
    await wait_for(lambda: app_state(client).batches >= 3)
    market = await (await client.get(f"/api/markets/{MARKET}")).json()
    home = next(s for s in market["selections"] if s["id"] == "home")
    assert home["decimal"]["betfair"] == 1.62 and home["lay"] == {"betfair": 1.58}
    assert home["depth"]["betfair"] == {"back": [[1.62, 100.0]], "lay": [[1.58, 40.0]]}
    assert (await client.get("/api/markets/1.9")).status == 404  # no market of its own
    # pinnacle backs the home side at 1.60 against betfair's lay at 1.58 with 2 %: back 100, lay 100·1.6/1.56
    body = await (await client.get("/api/arbitrage")).json()
    [opp] = [o for o in body["opportunities"] if o["kind"] == "back_lay"]
    assert [(leg["side"], leg["bookmaker"]) for leg in opp["legs"]] == [("back", "pinnacle"), ("lay", "betfair")]
    assert opp["guaranteedProfit"] == round(100 * 1.6 / 1.56 * 0.98 - 100, 2) and opp["maxStake"] == round(40 * 1.56 / 1.6, 2)


async def test_get_arbitrage_for_a_stake_walks_the_lay_down_the_ladder(aiohttp_client, tmp_path):
    from sbws.market.records import Depth

    now = time.time()
    ladder = Depth(MARKET, "home", "smarkets", [(2.10, 80.0)], [(2.22, 40.0), (2.23, 500.0)])
    batch = Batch(now, quotes=with_exchange(now).quotes, depth=[ladder])
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, commission={"smarkets": 0.02}),
                                                 ScriptedFeed([opening_batch(now), batch])))
    await wait_for(lambda: app_state(client).batches >= 2)
    body = await (await client.get("/api/arbitrage?stake=50")).json()
    [opp] = [o for o in body["opportunities"] if o["kind"] == "back_lay"]
    back, lay = opp["legs"]
    assert opp["totalStake"] == 50 and back["stake"] == 50 and opp["filled"] is True
    # 50 backed at 2.25 needs about 51.4 laid: 40 at 2.22, the rest at 2.23
    assert [level[0] for level in lay["levels"]] == [2.22, 2.23] and lay["levels"][0][1] == 40.0
    assert lay["decimal"] == pytest.approx((40 * 2.22 + lay["levels"][1][1] * 2.23) / lay["stake"], abs=1e-3)
    assert lay["stake"] == pytest.approx(50 * 2.25 / (lay["decimal"] - 0.02), abs=0.01)
    full = {o["id"]: o for o in (await (await client.get("/api/arbitrage")).json())["opportunities"]}
    scaled = [o for o in body["opportunities"] if o["kind"] == "back"]
    assert scaled  # every all-back arbitrage for half its stake of 100: half of each stake
    for o in scaled:
        assert [leg["stake"] for leg in o["legs"]] == [round(leg["stake"] / 2, 2) for leg in full[o["id"]]["legs"]]
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_arbitrage", "id": "a", "payload": {"stake": 50}})
    reply = await receive_type(ws, "arbitrage_update")
    assert {o["id"]: o["guaranteedProfit"] for o in reply["opportunities"]} == {
        o["id"]: o["guaranteedProfit"] for o in body["opportunities"]}
    assert (await client.get("/api/arbitrage?stake=0")).status == 400
    await ws.close()


async def test_a_suspended_market_has_no_live_opportunities_until_it_reopens(aiohttp_client, tmp_path):
    from sbws.market.records import ExchangeState

    now = time.time()
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, commission={"smarkets": 0.02}),
                                                 ScriptedFeed([opening_batch(now), with_exchange(now)])))
    await wait_for(lambda: app_state(client).batches >= 2)

    async def kinds():  # type: ignore[no-untyped-def]
        body = await (await client.get("/api/arbitrage")).json()
        return {o["kind"] for o in body["opportunities"] if o["marketId"] == MARKET}

    assert await kinds() == {"back", "back_lay"}  # bet365's 2.25 and draftkings' away make an all-back one too
    client.server.app[NODE].feed.push(Batch(now + 1, exchange=[ExchangeState(MARKET, "suspended")]))
    await wait_for(lambda: app_state(client).batches >= 3)
    assert await kinds() == set()
    client.server.app[NODE].feed.push(Batch(now + 2, exchange=[ExchangeState(MARKET, "open")]))
    await wait_for(lambda: app_state(client).batches >= 4)
    assert await kinds() == {"back", "back_lay"}


def test_a_discount_lowers_the_commission_paid():
    from sbws.feeds.factory import arb_config
    from sbws.settings import Settings

    settings = Settings(commission={"betfair": 0.05}, commission_discount={"betfair": 0.4})
    assert arb_config(settings).commission["betfair"] == pytest.approx(0.03)  # 5 % less 40 %: 400 of winnings pay 12
