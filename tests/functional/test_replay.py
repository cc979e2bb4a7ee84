"""Recording and replaying feeds through the live server."""

from __future__ import annotations

import attrs

from sbws.server.keys import NODE
from sbws.server.app import make_app
from sbws.market.records import Batch
from sbws.feeds.replay import JsonlReplay
from sbws.feeds.simulator import Simulator
from tests.helpers import SHARED, app_state, connect, fast_settings, make_user, receive_type, wait_for


def normalized(path):
    """Batches with time removed: what must survive a record -> replay round trip exactly."""
    out = []
    for b in JsonlReplay(str(path), rebase_time=False).read():
        out.append(Batch(
            0.0, [attrs.evolve(e, start_ms=0) for e in b.events], b.markets,
            [attrs.evolve(q, ts=0.0) for q in b.quotes], b.closed, b.results,
            [attrs.evolve(s, last_update_ms=0) for s in b.statuses], b.runners,
            [attrs.evolve(q, ts=0.0) for q in b.runner_quotes],
        ).to_json())
    return out


def times(path):
    return [(b.ts, [q.ts for q in (*b.quotes, *b.runner_quotes)], [e.start_ms for e in b.events])
            for b in JsonlReplay(str(path), rebase_time=False).read()]


async def test_record_then_replay_round_trip(aiohttp_client, tmp_path):
    first = tmp_path / "live.jsonl"
    sim = Simulator(seed=9, events=6, tick_ms=20, speed=50.0)
    client = await aiohttp_client(await make_app(fast_settings(tmp_path, record=str(first), db=str(tmp_path / "a.db")), sim))
    await wait_for(lambda: app_state(client).batches >= 30, timeout=10)
    await client.close()
    recorded = normalized(first)
    assert len(recorded) >= 30
    batches = list(JsonlReplay(str(first), rebase_time=False).read())
    assert any(b.runners for b in batches) and any(b.runner_quotes for b in batches)  # the outrights' shape too

    second = tmp_path / "replayed.jsonl"
    settings = fast_settings(tmp_path, feed=f"replay:{first}", record=str(second), db=str(tmp_path / "b.db"), sim_speed=1.0)
    client = await aiohttp_client(await make_app(settings))
    hub = client.server.app[NODE]
    await wait_for(lambda: hub.broker.done, timeout=20)
    await client.close()
    assert normalized(second) == recorded
    # Time keeps its shape: every timestamp is shifted by one constant.
    a, b = times(first), times(second)
    shift = b[0][0] - a[0][0]
    for (ta, qa, ea), (tb, qb, eb) in zip(a, b):
        assert abs((tb - ta) - shift) < 1e-6
        assert all(abs((y - x) - shift) < 1e-6 for x, y in zip(qa, qb))
        assert all(abs((y - x) - shift * 1000) <= 1 for x, y in zip(ea, eb))


async def test_season_replay_streams_and_settles(aiohttp_client, tmp_path):
    season = SHARED / "data" / "football-data" / "epl2223.csv"
    settings = fast_settings(tmp_path, feed=f"replay:{season}", sim_tick_ms=150)
    client = await aiohttp_client(await make_app(settings))
    token = make_user(settings.db)
    await wait_for(lambda: app_state(client).batches >= 1)
    ws, _ = await connect(client, f"/ws/sportsbooks?token={token}")
    await ws.send_json({"type": "get_markets", "payload": {"marketType": "moneyline"}})
    msg = await receive_type(ws, "market_update")
    market = msg["markets"][0]
    assert market["sport"] == "Soccer" and len(market["selections"]) == 3
    sel, best = "home", market["bestOdds"]["home"]
    await ws.send_json({"type": "place_bet", "payload": {"marketId": market["id"], "selectionId": sel,
                        "bookmaker": best["bookmaker"], "stake": 10, "odds": -100000}})
    placed = await receive_type(ws, "bet_placed")
    settled = await receive_type(ws, "bet_settled", timeout=10)
    assert settled["bet"]["id"] == placed["bet"]["id"]
    assert settled["bet"]["status"] in ("won", "lost")
