"""Several sources at once (issue 24): an exchange's match market matched onto The Odds API's moneyline of the
same event, on the recorded soccer response, and what is never matched."""

from __future__ import annotations

import json

from sbws.feeds.betfair import Mapper
from sbws.feeds.matching import Matcher, same_side
from sbws.feeds.odds_api import OddsMapper
from tests.helpers import SHARED

SOCCER = json.loads((SHARED / "data" / "odds-api" / "soccer.json").read_text())
EVENT = SOCCER[0]  # Atalanta BC v Spezia, with Betfair's h2h and h2h_lay recorded


def betfair_match_odds(market_id, names, minutes_late=5, prices=None):  # type: ignore[no-untyped-def]
    """A Betfair MATCH_ODDS market as the stream would send it, for the recorded event: runners named as Betfair
    names them, backed and laid at the prices The Odds API recorded for Betfair."""
    recorded = {m["key"]: {o["name"]: o["price"] for o in m["outcomes"]}
                for b in EVENT["bookmakers"] if b["key"] == "betfair" for m in b["markets"]}
    start = EVENT["commence_time"].replace("14:00", f"14:{minutes_late:02d}")
    runners = [{"id": 100 + i, "status": "ACTIVE", "sortPriority": i + 1, "name": name} for i, name in enumerate(names)]
    rc = []
    for i, name in enumerate(names):
        source = {"Atalanta": "Atalanta BC", "The Draw": "Draw"}.get(name, name)
        back, lay = (prices or recorded["h2h"]).get(source), recorded["h2h_lay"].get(source)
        rc.append({"id": 100 + i, "atb": [[back, 50.0]] if back else [], "atl": [[lay, 20.0]] if lay else []})
    return {"op": "mcm", "pt": 1637412000000, "mc": [{"id": market_id, "marketDefinition": {
        "status": "OPEN", "eventTypeId": "1", "marketType": "MATCH_ODDS", "numberOfWinners": 1, "marketTime": start,
        "runners": runners}, "rc": rc}]}


def combined(*messages):  # type: ignore[no-untyped-def]
    matcher, mapper = Matcher(), Mapper()
    parsed = OddsMapper().parse(SOCCER, 0)
    from sbws.market.records import Batch

    matcher.primary(Batch(0.0, parsed.events, parsed.markets, parsed.quotes))
    return [matcher.secondary(mapper.batch(m, lambda ms: ms / 1000.0)) for m in messages], matcher


def test_names_of_one_side():
    assert same_side("atalanta", "atalanta-bc") and same_side("manchester-city", "manchester-city")
    assert not same_side("manchester-city", "manchester-united") and not same_side("spezia", "atalanta-bc")


def test_an_exchange_match_market_lands_on_the_recorded_moneyline_backs_and_lays():
    [batch], matcher = combined(betfair_match_odds("1.5001", ["Atalanta", "Spezia", "The Draw"]))
    moneyline = f"{EVENT['id']}:moneyline"
    assert matcher.matched["1.5001"].market_id == moneyline
    assert not batch.markets and not batch.runner_quotes and not batch.runners  # no market of its own
    got = {(q.outcome, q.side): q.price for q in batch.quotes}
    # home, draw, away of a three-way moneyline, at the recorded Betfair prices
    assert got == {(0, "back"): 1.31, (2, "back"): 9.0, (1, "back"): 5.6, (0, "lay"): 1.36, (2, "lay"): 15.0,
                   (1, "lay"): 11.5}
    assert {q.market_id for q in batch.quotes} == {moneyline} and {q.book for q in batch.quotes} == {"betfair"}
    assert {d.selection for d in batch.depth} == {"home", "draw", "away"}
    assert [s.market_id for s in batch.exchange] == [moneyline]


def test_what_is_not_the_same_event_stays_a_market_of_its_own():
    batches, matcher = combined(betfair_match_odds("1.6", ["Atalanta", "Spezia", "The Draw"], minutes_late=20),
                                betfair_match_odds("1.7", ["Atalanta", "Juventus", "The Draw"]),
                                betfair_match_odds("1.8", ["Atalanta", "Spezia", "Over 2.5"]))
    assert not matcher.matched
    for batch in batches:
        assert [m.id for m in batch.markets] and batch.runner_quotes and not batch.quotes


async def test_a_crashed_source_leaves_the_others_running_and_is_not_ready():
    import asyncio
    import time

    from sbws.feeds.combined import Combined
    from sbws.market.records import Batch
    from tests.helpers import ScriptedFeed

    class Broken(ScriptedFeed):
        name = "broken"

        async def batches(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")
            yield  # pragma: no cover - an async generator that fails at once

    primary = ScriptedFeed([Batch(1.0), Batch(2.0)])
    combined = Combined([primary, Broken()])
    seen = []

    async def run():  # type: ignore[no-untyped-def]
        async for batch in combined.batches():
            seen.append(batch.ts)

    task = asyncio.create_task(run())
    await asyncio.sleep(0.1)
    task.cancel()
    assert seen == [1.0, 2.0] and not combined.is_healthy(time.time()) and combined.name == "scripted+broken"
