"""Outrights through the server (issue 23): the simulator's golf and races on both doors and both protocol versions,
bets on every runner of a race settling from the simulator's hidden result, and bad outright requests."""

from __future__ import annotations

import asyncio
import time

import pytest

from sbws.server.app import make_app
from tests.helpers import connect, fast_settings, make_user, receive_type


def sim_settings(tmp_path, **over):  # type: ignore[no-untyped-def]
    """The simulator a hundred times faster than real time: a race opens, starts and finishes within seconds."""
    return fast_settings(tmp_path, feed="sim", sim_events=2, sim_books=4, sim_tick_ms=50, sim_speed=100.0, **over)


async def outrights(client):  # type: ignore[no-untyped-def]
    return (await (await client.get("/api/markets?marketType=outright&limit=1000")).json())["markets"]


async def test_the_simulators_outrights_are_served_on_both_doors(aiohttp_client, tmp_path):
    client = await aiohttp_client(await make_app(sim_settings(tmp_path)))
    deadline = time.monotonic() + 10
    while len(found := await outrights(client)) < 5 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    by_sport = {}
    for m in found:
        by_sport.setdefault(m["sport"], []).append(m)
        assert m["marketType"] == "outright" and m["line"] is None
        assert m["numberOfWinners"] == (int(m["id"].rsplit("top", 1)[1]) if ":top" in m["id"] else 1)
    [golf] = by_sport["Golf"]
    assert 60 <= len(golf["selections"]) <= 150 and golf["eventDescription"].startswith("The Sim Open")
    assert {m["numberOfWinners"] for m in by_sport["Horse Racing"]} - {1} <= {2, 3}  # WIN and PLACE markets
    assert len({m["numberOfWinners"] for m in by_sport["Horse Racing"]}) >= 2
    for m in found:
        best = [m["bestOdds"][s["id"]]["decimal"] for s in m["selections"] if s["id"] in m["bestOdds"]]
        if m["hold"] is not None:
            k = m["numberOfWinners"]
            assert len(best) == len(m["selections"])
            assert m["hold"] == pytest.approx((sum(1 / d for d in best) - k) / k * 100, abs=1e-3)
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_markets", "id": "q", "payload": {"marketType": "outright", "limit": 1000}})
    reply = await receive_type(ws, "market_update")  # the reply to get_markets (v1)
    assert len(reply["markets"]) >= 3 and {m["marketType"] for m in reply["markets"]} == {"outright"}
    await ws.send_json({"type": "get_markets", "id": "r", "payload": {"marketType": "futures"}})
    error = await receive_type(ws, "error")
    assert error["code"] == "NX-400" and error["field"] == "marketType"
    await ws.close()


async def test_bets_on_every_runner_of_a_race_settle_one_winner_and_k_places(aiohttp_client, tmp_path):
    """A stake on every runner of a race's WIN and PLACE markets, placed before the off: when the simulator's race
    ends, exactly one WIN bet and exactly k PLACE bets win (the winner among them), the rest lose, paid exactly."""
    settings = sim_settings(tmp_path)
    client = await aiohttp_client(await make_app(settings))
    headers = {"Authorization": f"Bearer {make_user(settings.db)}"}
    race = None
    deadline = time.monotonic() + 20
    while race is None and time.monotonic() < deadline:
        markets = {m["id"]: m for m in await outrights(client) if m["sport"] == "Horse Racing" and m["status"] == "open"}
        soon = time.time() * 1000 + 1500
        for win in markets.values():
            place = next((m for m in markets.values() if m["eventId"] == win["eventId"] and m["numberOfWinners"] > 1), None)
            if win["numberOfWinners"] == 1 and place and win["startTime"] > soon and len(win["bestOdds"]) == len(
                    win["selections"]) and len(place["bestOdds"]) == len(place["selections"]):
                race = (win, place)
        await asyncio.sleep(0.05)
    assert race is not None, "no race open long enough to bet on"
    placed = []
    for market in race:
        for sel in market["selections"]:
            best = market["bestOdds"][sel["id"]]
            for attempt in range(5):  # the price may move between the read and the bet: take the new one
                body = {"marketId": market["id"], "selectionId": sel["id"], "bookmaker": best["bookmaker"], "stake": 2,
                        "decimal": best["decimal"]}
                resp = await client.post("/api/bets", json=body, headers=headers)
                reply = await resp.json()
                if resp.status == 201 or resp.status == 200:
                    placed.append(reply["bet"])
                    break
                assert resp.status == 409, reply
                best = {"bookmaker": best["bookmaker"], "decimal": reply.get("currentDecimal", best["decimal"])}
            else:
                raise AssertionError(f"could not bet on {sel['id']}")
    assert len(placed) == sum(len(m["selections"]) for m in race)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        bets = (await (await client.get("/api/bets?limit=500", headers=headers)).json())["bets"]
        if all(b["status"] != "placed" for b in bets):
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("the race never settled")
    win, place = race
    won = {m["id"]: {b["selectionId"] for b in bets if b["marketId"] == m["id"] and b["status"] == "won"} for m in race}
    assert len(won[win["id"]]) == 1 and len(won[place["id"]]) == place["numberOfWinners"]
    assert won[win["id"]] <= won[place["id"]]
    for b in bets:
        assert b["status"] in ("won", "lost")
        assert b["payout"] == (b["potentialPayout"] if b["status"] == "won" else 0)
        assert b["potentialPayout"] == pytest.approx(round(2 * b["decimal"], 2))


async def test_a_v2_client_holds_every_outright_as_the_server_has_it_at_the_same_seq(aiohttp_client, tmp_path):
    """Protocol v2 on outrights: an image, then deltas on up to 150 selections (runners' prices moving, markets
    closing and new fields opening); the Python client's reduced state equals get_markets at the seq it holds."""
    from sbws.client import Client, MarketChanged

    client = await aiohttp_client(await make_app(sim_settings(tmp_path, market_interval=0.05)))
    subscription = {"sports": ["Golf", "Horse Racing"], "marketTypes": ["outright"]}
    async with Client(str(client.make_url("/")), subscription=subscription, backoff=0.05) as c:
        events = c.events()
        changed = 0
        while changed < 40:
            changed += isinstance(await asyncio.wait_for(events.__anext__(), 10), MarketChanged)
        for _ in range(100):
            seq, held = c.position[1], {m: dict(v) for m, v in c.markets.items()}
            reply = await c.request("get_markets", {"marketType": "outright", "limit": 1000})
            if reply["seq"] == seq:
                break
        else:
            raise AssertionError("never read the server at the client's seq")
        assert held == {m["id"]: m for m in reply["markets"] if m["status"] == "open"}
        assert any(len(m["selections"]) >= 60 for m in held.values())  # the golf field came through whole
        await events.aclose()
