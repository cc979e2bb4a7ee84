"""REST API, health, metrics and the API documents, validated against themselves."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine.board import Quote
from sbws.market.records import Batch
from sbws.server.keys import READY
from sbws.wire.documents import schemas_dir
from tests.helpers import connect, make_user, receive_type

OPENAPI = json.loads((schemas_dir() / "openapi.json").read_text())
ASYNCAPI_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "asyncapi-3.0.0.schema.json").read_text())
ASYNCAPI = json.loads((schemas_dir() / "asyncapi.json").read_text())


def check_response(path: str, method: str, status: int, body) -> None:
    """Validate a real response body against the OpenAPI document."""
    root = dict(OPENAPI, **{"$id": "urn:sbws-openapi"})
    registry = Registry().with_resource("urn:sbws-openapi", Resource.from_contents(root, default_specification=DRAFT202012))
    pointer = "/".join(["paths", path.replace("/", "~1"), method, "responses", str(status), "content", "application~1json", "schema"])
    jsonschema.Draft202012Validator({"$ref": f"urn:sbws-openapi#/{pointer}"}, registry=registry).validate(body)


def test_openapi_document_is_valid():
    validate_openapi(OPENAPI)
    broken = dict(OPENAPI, paths={"/x": {"get": {"responses": {"200": {}}}}})
    with pytest.raises(Exception):
        validate_openapi(broken)


def test_asyncapi_document_is_valid_asyncapi_3():
    jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(ASYNCAPI)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate({k: v for k, v in ASYNCAPI.items() if k != "info"})
    names = set(ASYNCAPI["components"]["messages"])
    assert {"subscribe", "unsubscribe", "get_markets", "get_arbitrage", "place_bet", "get_bets", "ping"} <= names
    assert {"connected", "sportsbooks", "market_update", "arbitrage_update", "bet_placed", "heartbeat", "error"} <= names


async def test_documents_are_served(client):
    assert (await (await client.get("/api/openapi.json")).json()) == OPENAPI
    assert (await (await client.get("/asyncapi.json")).json()) == ASYNCAPI


async def test_ws_messages_match_asyncapi(client, settings, feed):
    """Real pushes validate against the AsyncAPI message schemas."""
    root = dict(ASYNCAPI, **{"$id": "urn:sbws-asyncapi"})
    registry = Registry().with_resource("urn:sbws-asyncapi", Resource.from_contents(root, default_specification=DRAFT202012))

    def check(msg):
        schema = {"$ref": f"urn:sbws-asyncapi#/components/messages/{msg['type']}/payload"}
        jsonschema.Draft202012Validator(schema, registry=registry).validate(msg)

    token = make_user(settings.db)
    ws, hello = await connect(client, f"/ws/sportsbooks?token={token}")
    check(hello)
    await ws.send_json({"type": "subscribe", "payload": {"arbitrage": True, "sports": ["NBA"]}})
    for kind in ("subscribed", "market_update", "arbitrage_update"):
        check(await receive_type(ws, kind))
    await ws.send_json({"type": "place_bet", "payload": {"marketId": "lal-bos:spread:-3.5", "selectionId": "home",
                                                         "bookmaker": "pinnacle", "stake": 5, "odds": 100}})
    check(await receive_type(ws, "bet_placed"))
    await ws.send_json({"type": "get_bets"})
    check(await receive_type(ws, "bets"))
    await ws.send_json({"type": "nope"})
    check(await receive_type(ws, "error"))
    v2, hello = await connect(client, "/ws/sportsbooks?v=2")
    check(hello)
    assert hello["format"] == 2 and hello["keys"]["s"] == "selections"
    await v2.send_json({"type": "subscribe", "payload": {"sports": ["NBA"]}})
    check(await receive_type(v2, "subscribed"))
    image = await receive_type(v2, "market_update")
    check(image)
    assert image["image"] and "selections" in image["markets"][0]
    feed.push(Batch(time.time(), (), (), [Quote("lal-bos:moneyline", 0, "draftkings", 1.58, time.time())]))
    delta = await receive_type(v2, "market_update")
    check(delta)
    assert delta["delta"] and delta["markets"] == [{"id": "lal-bos:moneyline", "s": [{"id": "home", "d": {"draftkings": 1.58}}]}]


async def test_rest_endpoints_match_openapi(client, settings):
    for path, query in (("/api/sportsbooks", ""), ("/api/markets", "?sport=NBA&limit=2"), ("/api/arbitrage", "?minEdge=0.1")):
        resp = await client.get(path + query)
        assert resp.status == 200
        check_response(path, "get", 200, await resp.json())
    markets = await (await client.get("/api/markets?sport=NBA&limit=2")).json()
    assert len(markets["markets"]) == 2 and markets["total"] == 3
    arbs = await (await client.get("/api/arbitrage")).json()
    assert arbs["total"] == 1
    one = await client.get("/api/markets/lal-bos:spread:-3.5")
    check_response("/api/markets/{marketId}", "get", 200, await one.json())
    missing = await client.get("/api/markets/nope")
    assert missing.status == 404
    check_response("/api/markets/{marketId}", "get", 404, await missing.json())
    bad = await client.get("/api/markets?limit=abc")
    assert bad.status == 400 and (await bad.json())["field"] == "limit"


async def test_rest_bets_auth_and_errors(client, settings):
    body = {"marketId": "lal-bos:spread:-3.5", "selectionId": "home", "bookmaker": "pinnacle", "stake": 12.5, "odds": 110}
    anon = await client.post("/api/bets", json=body)
    assert anon.status == 401
    check_response("/api/bets", "post", 401, await anon.json())
    token = make_user(settings.db)
    for headers, cookies in (({"Authorization": f"Bearer {token}"}, None), ({}, {"X-Token": token})):
        resp = await client.post("/api/bets", json=body, headers=headers, cookies=cookies)
        assert resp.status == 201
        check_response("/api/bets", "post", 201, await resp.json())
    resp = await client.post(f"/api/bets?token={token}", data=b"{oops", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    resp = await client.post("/api/bets", json=dict(body, odds=150), headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 409 and (await resp.json())["currentOdds"] == 110
    listed = await client.get("/api/bets?limit=5", headers={"Authorization": f"Bearer {token}"})
    data = await listed.json()
    check_response("/api/bets", "get", 200, data)
    assert data["total"] == 2 and data["bets"][0]["stake"] == 12.5


async def test_health_and_readiness(client):
    assert (await client.get("/livez")).status == 200
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"] == {"started": True, "feed": True, "ledger": True}
    client.server.app[READY]["ready"] = False
    assert (await client.get("/readyz")).status == 503


async def test_metrics_exposition(client):
    ws, _ = await connect(client)
    await ws.send_json({"type": "ping"})
    await receive_type(ws, "pong")
    await ws.send_str("garbage")
    await receive_type(ws, "error")
    text = await (await client.get("/metrics")).text()
    assert "sbws_connected_sockets 1.0" in text
    assert 'sbws_messages_in_total{type="ping"} 1.0' in text
    assert 'sbws_errors_total{code="NX-400"} 1.0' in text
    assert 'sbws_messages_out_total{type="pong"} 1.0' in text
    for name in ("sbws_engine_scan_seconds_count", "sbws_feed_lag_seconds", "sbws_event_loop_lag_seconds"):
        assert name in text


async def test_dashboard_served_at_root(client):
    resp = await client.get("/")
    assert resp.status == 200 and "text/html" in resp.headers["Content-Type"]
    assert "<title>" in await resp.text()


async def test_markets_carry_their_hold_and_filter_by_it(client):
    from tests.helpers import connect, receive_type

    body = await (await client.get("/api/markets")).json()
    holds = {m["id"]: m["hold"] for m in body["markets"]}
    # lal-bos spread: best home 2.10 (pinnacle), best away 2.05 (draftkings): S = 0.964, an arbitrage.
    assert holds["lal-bos:spread:-3.5"] == pytest.approx(-3.6005, abs=1e-4)
    assert holds["lal-bos:total:+221.5"] == pytest.approx(4.712, abs=1e-3)
    assert holds["ars-che:moneyline"] == pytest.approx(100 * (1 / 2.02 + 1 / 3.4 + 1 / 3.8 - 1), abs=1e-4)
    low = await (await client.get("/api/markets", params={"maxHold": "4"})).json()
    assert {m["id"] for m in low["markets"]} == {i for i, h in holds.items() if h is not None and h <= 4}
    assert low["total"] == len(low["markets"]) and "lal-bos:total:+221.5" not in {m["id"] for m in low["markets"]}
    bad = await client.get("/api/markets", params={"maxHold": "lots"})
    assert bad.status == 400 and (await bad.json())["field"] == "maxHold"
    ws, _ = await connect(client)
    await ws.send_json({"type": "get_markets", "payload": {"maxHold": 0}})
    reply = await receive_type(ws, "market_update")
    assert [m["id"] for m in reply["markets"]] == ["lal-bos:spread:-3.5"]
    await ws.close()
