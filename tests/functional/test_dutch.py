"""Dutching (issue 23, in part) over both doors: stakes on several selections of one market at their best prices
now, returning the same whichever wins; bad requests change nothing and say why."""

from __future__ import annotations

import time

from engine.board import Quote
from sbws.market.records import Batch
from sbws.server.app import make_app
from tests.helpers import ScriptedFeed, app_state, connect, fast_settings, opening_batch, receive_type, wait_for

SOCCER = "ars-che:moneyline"


def expected(market: dict, selections: list[str], total: float) -> dict:
    """The formula straight from the market as get_markets shows it: s_i = T · (1/o_i) / Σ(1/o), best price each."""
    best = {s["id"]: max(s["decimal"].values()) for s in market["selections"] if s["decimal"]}
    inverse = [1 / best[s] for s in selections]
    return {"stakes": [round(total * x / sum(inverse), 2) for x in inverse], "returns": round(total / sum(inverse), 2),
            "best": [best[s] for s in selections]}


async def test_dutching_over_the_websocket_and_rest(aiohttp_client, tmp_path):
    client = await aiohttp_client(await make_app(fast_settings(tmp_path), ScriptedFeed([opening_batch()])))
    await wait_for(lambda: app_state(client).batches >= 1)
    market = (await (await client.get(f"/api/markets/{SOCCER}")).json())
    home, away, draw = (s["id"] for s in sorted(market["selections"], key=lambda s: ["home", "away", "draw"].index(s["id"])))
    want = expected(market, [home, draw], 50)

    rest = await client.get("/api/dutch", params={"marketId": SOCCER, "selections": f"{home},{draw}", "stake": "50"})
    assert rest.status == 200
    body = await rest.json()
    assert [leg["stake"] for leg in body["selections"]] == want["stakes"] and body["returns"] == want["returns"]
    assert [leg["decimal"] for leg in body["selections"]] == want["best"]
    assert body["selections"][0]["bookmaker"] == "betfair"  # 2.02 beats pinnacle's 2.00 for home
    assert body["profit"] == round(want["returns"] - 50, 2)
    assert all(abs(leg["returns"] - body["returns"]) <= 0.02 for leg in body["selections"])

    ws, _ = await connect(client)
    await ws.send_json({"type": "get_dutch", "id": "d1", "payload": {"marketId": SOCCER, "selections": [home, away, draw],
                                                                     "stake": 100}})
    reply = await receive_type(ws, "dutch")
    assert reply["id"] == "d1" and reply["returns"] == expected(market, [home, away, draw], 100)["returns"]
    assert round(sum(leg["stake"] for leg in reply["selections"]), 2) in (99.99, 100.0, 100.01)


async def test_dutching_with_commission_uses_the_effective_price(aiohttp_client, tmp_path):
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, commission={"betfair": 0.05}),
                                                 ScriptedFeed([opening_batch()])))
    await wait_for(lambda: app_state(client).batches >= 1)
    body = await (await client.get("/api/dutch", params={"marketId": SOCCER, "selections": "home", "stake": "10"})).json()
    [leg] = body["selections"]
    # betfair's 2.02 keeps 1 + 1.02 × 0.95 = 1.969 after commission: pinnacle's 2.00 is the better price.
    assert (leg["bookmaker"], leg["decimal"], leg["effectiveDecimal"]) == ("pinnacle", 2.0, 2.0)
    assert (body["returns"], body["profit"]) == (20.0, 10.0)


async def test_bad_dutching_requests_say_why(aiohttp_client, tmp_path):
    feed = ScriptedFeed([opening_batch()])
    client = await aiohttp_client(await make_app(fast_settings(tmp_path), feed))
    await wait_for(lambda: app_state(client).batches >= 1)

    async def status(**params: str) -> tuple[int, dict]:
        resp = await client.get("/api/dutch", params=params)
        return resp.status, await resp.json()

    code, body = await status(marketId="nope", selections="home", stake="5")
    assert (code, body["field"]) == (404, "marketId")
    code, body = await status(marketId=SOCCER, selections="home,over", stake="5")
    assert (code, body["field"]) == (404, "selections") and "'over'" in body["message"]
    for params, field in (({"selections": "home,home", "stake": "5"}, "selections"),
                          ({"selections": "home", "stake": "0"}, "stake"),
                          ({"selections": "home", "stake": "1.234"}, "stake"),
                          ({"selections": "home"}, "stake"),
                          ({"stake": "5"}, "selections")):
        code, body = await status(marketId=SOCCER, **params)
        assert (code, body["field"]) == (400, field), params
    # A selection no book prices now: 409.  A closed market: 409.
    ts = time.time()
    feed.push(Batch(ts, [], [], [Quote("lal-bos:total:+221.5", 0, "fanduel", 0.0, ts)], (), (), ()))
    await wait_for(lambda: app_state(client).batches >= 2)
    code, body = await status(marketId="lal-bos:total:+221.5", selections="over,under", stake="5")
    assert (code, body["field"]) == (409, "selections")
    feed.push(Batch(time.time(), closed=["lal-bos:moneyline"]))
    await wait_for(lambda: app_state(client).batches >= 3)
    code, body = await status(marketId="lal-bos:moneyline", selections="home,away", stake="5")
    assert (code, body["message"]) == (409, "market is closed")
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_dutch", "id": 7, "payload": {"marketId": SOCCER, "selections": "home", "stake": 5}})
    error = await receive_type(ws, "error")
    assert (error["code"], error["field"], error["id"]) == ("NX-400", "selections", 7)
