"""The Odds API adapter against a local HTTP server serving real recorded responses."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from sbws.server.app import make_app
from sbws.errors import ConfigError
from sbws.feeds.factory import make_feed
from sbws.feeds.odds_api import OddsApiFeed, OddsMapper, parse_scores
from tests.helpers import SHARED, app_state, fast_settings, wait_for

NBA = json.loads((SHARED / "data" / "odds-api" / "nba.json").read_text())
SOCCER = json.loads((SHARED / "data" / "odds-api" / "soccer.json").read_text())
OUTRIGHTS = json.loads((SHARED / "data" / "odds-api" / "baseball-outrights.json").read_text())
WORLD_SERIES = "baseball_mlb_world_series_winner"


def count_back_prices(body, key="h2h"):
    return sum(len(m["outcomes"]) for e in body for b in e["bookmakers"] for m in b["markets"] if m["key"] == key)


def test_mapping_of_recorded_nba_and_soccer():
    mapper = OddsMapper()
    parsed = mapper.parse(NBA, 0)
    events, specs, quotes, books = parsed.events, parsed.markets, parsed.quotes, parsed.books
    assert len(events) == len(NBA) and not any(e.three_way for e in events)
    backs, lays = [q for q in quotes if q.side == "back"], [q for q in quotes if q.side == "lay"]
    assert len(backs) == count_back_prices(NBA)  # h2h_lay prices never become back prices
    assert len(lays) == count_back_prices(NBA, "h2h_lay") > 0 and {q.book for q in lays} <= {"betfair", "matchbook"}
    assert not mapper.skipped
    for event in NBA:  # each lay price is the exchange's own, on the same moneyline
        for b in event["bookmakers"]:
            for m in b["markets"]:
                if m["key"] == "h2h_lay":
                    for o in m["outcomes"]:
                        outcome = 0 if o["name"] == event["home_team"] else 1
                        assert any(q.market_id == f"{event['id']}:moneyline" and q.outcome == outcome and
                                   q.book == b["key"] and q.price == o["price"] for q in lays)
    first = NBA[0]
    pin = next(b for b in first["bookmakers"] if b["key"] == "pinnacle")
    home_price = next(o["price"] for o in pin["markets"][0]["outcomes"] if o["name"] == first["home_team"])
    assert any(q.market_id == f"{first['id']}:moneyline" and q.outcome == 0 and q.book == "pinnacle" and q.price == home_price for q in quotes)
    parsed = OddsMapper().parse(SOCCER, 0)
    events, specs, quotes, books = parsed.events, parsed.markets, parsed.quotes, parsed.books
    assert all(e.three_way for e in events)
    draw = [q for q in quotes if q.outcome == 1]
    assert draw and all(s.three_way for s in specs)
    assert {"betfair", "matchbook", "pinnacle"} <= set(books)


def test_spreads_pair_only_opposite_lines_and_totals_same_point():
    body = [{"id": "e1", "sport_key": "basketball_nba", "sport_title": "NBA", "commence_time": "2030-01-01T00:00:00Z",
             "home_team": "Celtics", "away_team": "Lakers", "bookmakers": [
                 {"key": "a", "title": "A", "last_update": "2030-01-01T00:00:00Z", "markets": [
                     {"key": "spreads", "outcomes": [{"name": "Celtics", "price": 1.9, "point": -3.5}, {"name": "Lakers", "price": 1.9, "point": 3.5}]},
                     {"key": "totals", "outcomes": [{"name": "Over", "price": 1.9, "point": 221.5}, {"name": "Under", "price": 1.9, "point": 221.5}]}]},
                 {"key": "b", "title": "B", "last_update": "2030-01-01T00:00:00Z", "markets": [
                     {"key": "spreads", "outcomes": [{"name": "Celtics", "price": 2.2, "point": -4.0}, {"name": "Lakers", "price": 2.2, "point": 4.0}]},
                     {"key": "outrights", "outcomes": [{"name": "Celtics", "price": 5.0}]}]}]}]
    mapper = OddsMapper()
    parsed = mapper.parse(body, 0)
    quotes = parsed.quotes
    by_market = {}
    for q in quotes:
        by_market.setdefault(q.market_id, set()).add((q.outcome, q.book))
    assert by_market["e1:spread:-3.5"] == {(0, "a"), (1, "a")}
    assert by_market["e1:spread:-4"] == {(0, "b"), (1, "b")}
    assert by_market["e1:total:+221.5"] == {(0, "a"), (1, "a")}
    assert not mapper.skipped  # an outrights market inside a match's event is that event's outright
    assert [(q.market_id, q.runner, q.book, q.price) for q in parsed.runner_quotes] == [("e1:outright", "celtics", "b", 5.0)]


def test_scores_parse():
    body = [{"id": "e1", "completed": True, "home_team": "A", "away_team": "B", "scores": [{"name": "A", "score": "101"}, {"name": "B", "score": "99"}]},
            {"id": "e2", "completed": False, "home_team": "A", "away_team": "B", "scores": None}]
    [r] = parse_scores(body)
    assert (r.event_id, r.home_score, r.away_score) == ("e1", 101, 99)


class FakeOddsApi:
    """A local stand-in serving scripted responses in order."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []

    async def handle(self, request):
        self.requests.append((request.path, dict(request.query)))
        if request.path.endswith("/scores"):
            return web.json_response(self.scores, headers=self.quota_headers(100, 5))
        kind, payload = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if kind == "sleep":
            await asyncio.sleep(payload)
            return web.json_response([])
        if kind == "status":
            return web.Response(status=payload, text="nope")
        if kind == "garbage":
            return web.Response(body=b"<html>502 proxy</html>", content_type="application/json", headers=self.quota_headers(90, 10))
        remaining, used, body = payload
        return web.json_response(body, headers=self.quota_headers(remaining, used))

    scores: list = []
    outright_sports = ("baseball_mlb_world_series_winner",)

    async def listing(self, request):
        """The free sports listing (no quota headers: it costs nothing)."""
        self.requests.append((request.path, dict(request.query)))
        keys = ("basketball_nba", "soccer_italy_serie_a", "baseball_mlb_world_series_winner")
        return web.json_response([{"key": k, "has_outrights": k in self.outright_sports, "active": True} for k in keys])

    @staticmethod
    def quota_headers(remaining, used):
        return {"x-requests-remaining": str(remaining), "x-requests-used": str(used), "x-requests-last": "1"}


async def start_fake(aiohttp_server, script):
    fake = FakeOddsApi(script)
    app = web.Application()
    app.router.add_get("/v4/sports", fake.listing)
    app.router.add_get("/v4/sports/{sport}/odds", fake.handle)
    app.router.add_get("/v4/sports/{sport}/scores", fake.handle)
    server = await aiohttp_server(app)
    return fake, f"http://{server.host}:{server.port}"


async def test_poll_reads_quota_and_builds_statuses(aiohttp_server):
    fake, base = await start_fake(aiohttp_server, [("ok", (480, 20, NBA))])
    feed = OddsApiFeed(base, ("basketball_nba",), "eu,uk", 30.0, "KEY")
    async with aiohttp.ClientSession() as http:
        batch = await feed.poll_once(http)
    assert fake.requests[0][0] == "/v4/sports"  # the listing first (free), once
    path, query = fake.requests[1]
    assert path == "/v4/sports/basketball_nba/odds"
    assert query["apiKey"] == "KEY" and query["markets"] == "h2h,spreads,totals" and query["oddsFormat"] == "decimal"
    assert feed.quota == {"remaining": 480, "used": 20, "last": 1}
    assert sum(q.side == "back" for q in batch.quotes) == count_back_prices(NBA)
    assert {s.id for s in batch.statuses} >= {"pinnacle", "betfair"}
    assert all(s.quota_remaining == 480 and s.status == "online" for s in batch.statuses)
    assert feed.next_interval() == 30.0
    feed.quota = {"remaining": 60, "used": 440}
    assert feed.next_interval() == 60.0
    feed.quota = {"remaining": 25, "used": 475}
    assert feed.next_interval() == 180.0
    feed.quota = {"remaining": 0, "used": 500}
    assert feed.next_interval() >= 3600
    picky = OddsApiFeed(base, ("basketball_nba",), "eu,uk", 30.0, "KEY", bookmakers="pinnacle,betfair")
    async with aiohttp.ClientSession() as http:
        await picky.poll_once(http)
    _, query = fake.requests[-1]
    assert query["bookmakers"] == "pinnacle,betfair" and "regions" not in query


@pytest.mark.parametrize("failure", [("status", 429), ("status", 503), ("status", 401), ("garbage", None), ("sleep", 1.0)])
async def test_errors_degrade_back_off_and_keep_last_good_data(aiohttp_server, failure):
    fake, base = await start_fake(aiohttp_server, [("ok", (480, 20, NBA)), failure, ("ok", (470, 30, NBA))])
    feed = OddsApiFeed(base, ("basketball_nba",), "eu", 0.05, "KEY", timeout=0.3, backoff_cap=0.2)
    got = []
    async for batch in feed.batches():
        got.append(batch)
        if len(got) == 2:
            assert feed.failures == 1
            assert feed.next_interval() > 0.05 * 0.5  # backing off, with jitter
        if len(got) == 3:
            break
    good, bad, again = got
    assert good.quotes and not bad.quotes and not bad.closed  # nothing withdrawn on failure
    assert bad.statuses and all(s.status == "degraded" for s in bad.statuses)
    assert again.statuses[0].status == "online" and feed.failures == 0
    assert not [q for q in again.quotes if q.price == 0.0]  # same data: no withdrawals


async def test_vanished_event_closes_its_markets_and_settles_from_scores(aiohttp_server):
    shorter = NBA[1:]
    fake, base = await start_fake(aiohttp_server, [("ok", (100, 1, NBA)), ("ok", (99, 2, shorter))])
    first = NBA[0]
    fake.scores = [{"id": first["id"], "completed": True, "home_team": first["home_team"], "away_team": first["away_team"],
                    "scores": [{"name": first["home_team"], "score": "110"}, {"name": first["away_team"], "score": "101"}]}]
    feed = OddsApiFeed(base, ("basketball_nba",), "eu", 0.01, "KEY")
    async with aiohttp.ClientSession() as http:
        await feed.poll_once(http)
        batch = await feed.poll_once(http)
    assert f"{first['id']}:moneyline" in batch.closed
    assert [(r.event_id, r.home_score, r.away_score) for r in batch.results] == [(first["id"], 110, 101)]
    withdrawn = {q.market_id for q in batch.quotes if q.price == 0.0}
    assert withdrawn == {f"{first['id']}:moneyline"}
    assert feed.pending_scores["basketball_nba"] == {}


async def test_scores_are_polled_sparingly_and_given_up_after_three_days(aiohttp_server):
    fake, base = await start_fake(aiohttp_server, [("ok", (100, 1, NBA)), ("ok", (99, 2, NBA[1:]))])
    fake.scores = []  # no result yet
    feed = OddsApiFeed(base, ("basketball_nba",), "eu", 0.01, "KEY")
    async with aiohttp.ClientSession() as http:
        await feed.poll_once(http)
        await feed.poll_once(http)  # the event goes: scores asked at once
        await feed.poll_once(http)  # still pending: not asked again so soon
    assert [path for path, _ in fake.requests].count("/v4/sports/basketball_nba/scores") == 1
    pending = feed.pending_scores["basketball_nba"]
    assert list(pending) == [NBA[0]["id"]]
    pending[NBA[0]["id"]] -= 4 * 86400
    assert feed._scores_due("basketball_nba", False, __import__("time").time()) is False
    assert feed.pending_scores["basketball_nba"] == {}


def with_betfair_arbitrage(body):
    """The recorded soccer odds with Betfair's home price in the first event raised to 3.00: an arbitrage with a
    Betfair leg (Atalanta is 1.31 everywhere else), so the commission shows on a real leg."""
    body = json.loads(json.dumps(body))
    event = body[0]
    h2h = next(m for b in event["bookmakers"] if b["key"] == "betfair" for m in b["markets"] if m["key"] == "h2h")
    next(o for o in h2h["outcomes"] if o["name"] == event["home_team"])["price"] = 3.0
    return body


async def test_server_on_odds_api_feed_end_to_end(aiohttp_server, aiohttp_client, tmp_path):
    fake, base = await start_fake(aiohttp_server, [("ok", (321, 9, with_betfair_arbitrage(SOCCER)))])
    settings = fast_settings(tmp_path, feed="odds-api", odds_api_base=base, odds_api_key="KEY", odds_api_interval=30.0,
                             odds_api_sports=("soccer_italy_serie_a",))
    app = await make_app(settings)
    assert isinstance(app[__import__("sbws.server.keys", fromlist=["NODE"]).NODE].feed, OddsApiFeed)
    client = await aiohttp_client(app)
    await wait_for(lambda: app_state(client).batches >= 1)
    markets = await (await client.get("/api/markets?sport=Serie A - Italy&limit=1000")).json()
    assert markets["total"] == len(SOCCER)
    assert all(len(m["selections"]) == 3 for m in markets["markets"])
    books = await (await client.get("/api/sportsbooks")).json()
    assert next(b for b in books["sportsbooks"] if b["id"] == "pinnacle")["quotaRemaining"] == 321
    # betfair carries its default exchange commission (5 % of winnings): its leg's effective price is lower.
    arbs = await (await client.get("/api/arbitrage")).json()
    legs = [leg for o in arbs["opportunities"] for leg in o["legs"] if leg["bookmaker"] == "betfair"]
    assert legs, "the raised Betfair price must give an arbitrage with a Betfair leg"
    for leg in legs:
        assert leg["decimal"] == 3.0 and leg["effectiveDecimal"] == pytest.approx(1 + 2.0 * 0.95)
    await asyncio.sleep(0.3)
    text = await (await client.get("/metrics")).text()
    assert "sbws_odds_api_requests_remaining 321.0" in text


def test_odds_api_needs_a_key(tmp_path):
    with pytest.raises(ConfigError, match="SBWS_ODDS_API_KEY"):
        make_feed(fast_settings(tmp_path, feed="odds-api"))


async def test_a_sport_with_outrights_is_polled_for_them_and_served_as_one_outright_market(aiohttp_server, aiohttp_client,
                                                                                              tmp_path):
    """The recorded World Series winner response through the feed and the server: the listing says the sport has
    outrights, so it is polled with markets=outrights; both books' runners make one market, with the names as
    recorded, the best price per runner and the hold over all of them."""
    fake, base = await start_fake(aiohttp_server, [("ok", (400, 10, OUTRIGHTS))])
    settings = fast_settings(tmp_path, feed="odds-api", odds_api_base=base, odds_api_key="KEY", odds_api_interval=30.0,
                             odds_api_sports=(WORLD_SERIES,))
    client = await aiohttp_client(await make_app(settings))
    await wait_for(lambda: app_state(client).batches >= 1)
    odds = [q for path, q in fake.requests if path.endswith("/odds")]
    assert odds and all(q["markets"] == "outrights" for q in odds)
    [event] = OUTRIGHTS
    body = await (await client.get("/api/markets?marketType=outright")).json()
    [market] = body["markets"]
    assert market["id"] == f"{event['id']}:outright" and market["numberOfWinners"] == 1
    assert market["eventDescription"] == event["sport_title"] and market["marketType"] == "outright"
    backs = {b["key"]: {o["name"]: o["price"] for o in m["outcomes"]} for b in event["bookmakers"] for m in b["markets"]
             if m["key"] == "outrights"}
    names = {name for runners in backs.values() for name in runners}
    assert sorted(s["name"] for s in market["selections"]) == sorted(names)
    for selection in market["selections"]:
        quoted = {book: runners[selection["name"]] for book, runners in backs.items() if selection["name"] in runners}
        assert selection["decimal"] == quoted
        assert market["bestOdds"][selection["id"]]["decimal"] == max(quoted.values())
    best = [max(runners[n] for runners in backs.values() if n in runners) for n in names]
    assert market["hold"] == pytest.approx((sum(1 / d for d in best) - 1) * 100, abs=1e-4)
    assert (await (await client.get("/api/markets?marketType=moneyline")).json())["total"] == 0
