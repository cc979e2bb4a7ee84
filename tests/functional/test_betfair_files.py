"""A Betfair historical file through the server (issue 24, in part): `--feed betfair:FILE` shows the market as an
outright with its runners' names and best back prices, and its settlement pays the winner's bet."""

from __future__ import annotations

import asyncio
import time
from decimal import ROUND_HALF_UP, Decimal

from sbws.server.app import make_app
from tests.helpers import SHARED, fast_settings, make_user

FILE = SHARED / "data" / "betfair" / "1.197931750"
WINNER, LOSER = "37947503", "39823721"  # 2. Sandwood Jet won; 6. Coolavanny Galiv was the favourite


async def test_a_replayed_greyhound_market_is_served_and_settles_bets_on_its_result(aiohttp_client, tmp_path):
    settings = fast_settings(tmp_path, feed=f"betfair:{FILE}", replay_speed=40.0, live_betting=True,
                             betfair_catalogue=str(FILE) + ".catalogue.json")
    client = await aiohttp_client(await make_app(settings))
    headers = {"Authorization": f"Bearer {make_user(settings.db)}"}
    deadline = time.monotonic() + 10
    market = None
    while time.monotonic() < deadline:
        resp = await client.get("/api/markets/1.197931750")
        if resp.status == 200 and len((market := await resp.json())["bestOdds"]) == 6:
            break
        await asyncio.sleep(0.05)
    assert market and market["marketType"] == "outright" and market["numberOfWinners"] == 1
    assert market["sport"] == "Greyhound Racing" and market["eventDescription"] == "Sheffield OR 280m"
    names = {s["id"]: s["name"] for s in market["selections"]}
    assert names[WINNER] == "2. Sandwood Jet" and len(names) == 6
    assert set(market["selections"][0]["decimal"]) == {"betfair"}
    for selection in market["selections"]:  # the exchange's best lay beside its best back, never below it
        assert set(selection["lay"]) == {"betfair"} and selection["lay"]["betfair"] > selection["decimal"]["betfair"]
    placed = {}
    for selection in (WINNER, LOSER):
        for _ in range(20):  # the price may move between the read and the bet
            best = (await (await client.get("/api/markets/1.197931750")).json())["bestOdds"][selection]
            resp = await client.post("/api/bets", json={"marketId": "1.197931750", "selectionId": selection,
                                                        "bookmaker": "betfair", "stake": 10, "decimal": best["decimal"]},
                                     headers=headers)
            if resp.status in (200, 201):
                placed[selection] = (await resp.json())["bet"]
                break
        assert selection in placed
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        bets = {b["selectionId"]: b for b in (await (await client.get("/api/bets", headers=headers)).json())["bets"]}
        if all(b["status"] != "placed" for b in bets.values()):
            break
        await asyncio.sleep(0.1)
    won, lost = bets[WINNER], bets[LOSER]
    assert won["status"] == "won" and lost["status"] == "lost" and lost["payout"] == 0 and lost["commission"] == 0
    # Betfair's own rate (the file's marketBaseRate, 5 %) on the bettor's net winnings in the market: the winner's
    # profit less the loser's stake; nothing comes off the loser.
    net = round(won["potentialPayout"] - won["stake"] - lost["stake"], 2)
    assert won["commission"] == float((Decimal(str(net)) * Decimal("0.05")).quantize(Decimal("0.01"), ROUND_HALF_UP))
    assert won["payout"] == round(won["potentialPayout"] - won["commission"], 2)
    assert (await client.get("/api/markets/1.197931750")).status == 404  # settled: off the board
