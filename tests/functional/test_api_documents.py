"""Generated clients against a real server: the documents allow exactly what the server accepts.

* schemathesis (property-based, from /api/openapi.json) over every operation, with a valid token,
  positive and negative data and the stateful links (place a bet, then read it), fixed seed;
* messages generated from the AsyncAPI payload schemas (hypothesis-jsonschema) over a real socket:
  a valid one gets its documented reply (or a business error, never NX-400 or NX-500), a message
  with one field broken gets NX-400 naming that field, and the socket is never closed abnormally.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.helpers import make_user
from tests.serverproc import ServerProcess

DOCUMENT_ERRORS = ("NX-400", "NX-500")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("documents") / "ledger.db"
    token = make_user(str(db), "generated")
    proc = ServerProcess(db, "--rate-limit", "100000", "--rate-burst", "100000").start()
    proc.token = token  # type: ignore[attr-defined]
    yield proc
    proc.terminate()


def test_schemathesis_finds_no_failure(server, tmp_path):
    st_bin = Path(sys.executable).with_name("schemathesis")
    command = [str(st_bin) if st_bin.exists() else shutil.which("schemathesis") or "schemathesis", "run",
               f"{server.url}/api/openapi.json", "--header", f"Authorization: Bearer {server.token}",
               "--checks", "all", "--max-examples", "50", "--seed", "1", "--generation-database", "none",
               "--workers", "1", "--no-color"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert "Stateful" in out.stdout and "unique failures" not in out.stdout


# -- the WebSocket, from the AsyncAPI document --------------------------------------------------
ASYNCAPI = json.loads(Path(__file__).resolve().parents[2].joinpath("sbws", "schemas", "asyncapi.json").read_text())


def resolve(node: Any) -> Any:
    """Inline the document's own $refs so the schema stands alone."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = ASYNCAPI
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def client_messages() -> dict[str, tuple[dict[str, Any], set[str]]]:
    """Each message a client may send: its payload schema and its documented replies."""
    out = {}
    for op in ASYNCAPI["operations"].values():
        if op["action"] != "receive":
            continue
        [ref] = op["messages"]
        name = ref["$ref"].rsplit("/", 1)[-1]
        replies = {r["$ref"].rsplit("/", 1)[-1] for r in op["reply"]["messages"]}
        out[name] = (resolve(ASYNCAPI["components"]["messages"][name]["payload"]), replies)
    return out


MESSAGES = client_messages()


def exchange(url: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one message on a fresh socket; the reply to it (matched by its id, which replies echo),
    with the socket then checked alive."""
    message = {"id": "probe", **message} if message.get("id") is None else message

    async def run() -> list[dict[str, Any]]:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            await ws.send_str(json.dumps(message))
            while True:
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended with {msg.type} {msg.data!r} after {message!r}"
                body = json.loads(msg.data)
                if body.get("id") == message["id"]:
                    break
            await ws.send_str('{"type":"ping","id":"alive"}')
            while (await ws.receive_json(timeout=5)).get("id") != "alive":
                pass
            return [body]

    return asyncio.run(run())


def replies_of(message: Any) -> set[str]:
    entry = MESSAGES.get(message.get("type")) if isinstance(message, dict) else None
    return entry[1] if entry else set()


valid_messages = st.sampled_from(sorted(MESSAGES)).flatmap(lambda name: from_schema(MESSAGES[name][0]))


@settings(max_examples=150, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(message=valid_messages)
def test_every_valid_message_gets_its_documented_reply(server, message):
    url = f"{server.url}/ws/sportsbooks?token={server.token}"
    [reply] = exchange(url, message)
    assert reply["type"] in replies_of(message), (message, reply)
    if reply["type"] == "error":
        assert reply["code"] not in DOCUMENT_ERRORS, (message, reply)


def broken(schema: dict[str, Any]) -> list[Any]:
    """Values this field's schema forbids (each one breaks exactly one rule)."""
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    out: list[Any] = [{"not": "a scalar"}]
    if "string" in kinds:
        if "maxLength" in schema:
            out.append("x" * (schema["maxLength"] + 1))
        if schema.get("minLength"):
            out.append("")
        if "enum" in schema:
            out.append("no-such-value")
    if "integer" in kinds:
        out += ["7", 1.5]
    if "number" in kinds or "integer" in kinds:
        if "minimum" in schema:
            out.append(schema["minimum"] - 1)
        if "maximum" in schema:
            out.append(schema["maximum"] + 1)
        if "exclusiveMinimum" in schema:
            out.append(schema["exclusiveMinimum"])
        if "anyOf" in schema:
            out.append(0)
    if "array" in kinds:
        out.append("not a list")
        if "maxItems" in schema:
            out.append(["x"] * (schema["maxItems"] + 1))
    if "boolean" in kinds:
        out.append("yes")
    return out


def mutations() -> list[tuple[str, str, Any]]:
    cases = []
    for name, (schema, _) in sorted(MESSAGES.items()):
        payload = schema["properties"].get("payload")
        if not payload or "properties" not in payload:
            continue
        for field, rule in sorted(payload["properties"].items()):
            for value in broken(rule):
                cases.append((name, field, value))
    return cases


BASE_PAYLOADS = {
    "get_history": {"marketId": "sim-1:moneyline"},
    "get_dutch": {"marketId": "sim-1:moneyline", "selections": ["home", "away"], "stake": 10},
    "get_matched": {"stake": 10},
    "get_exposure": {"marketId": "sim-1:moneyline"},
    "get_arbitrage": {},
    "place_bet": {"marketId": "sim-1:moneyline", "selectionId": "home", "bookmaker": "pinnacle", "stake": 10, "odds": -110},
}


@pytest.mark.parametrize("name, field, value", mutations(), ids=lambda v: str(v)[:20])
def test_a_message_with_one_field_broken_gets_nx400_naming_it(server, name, field, value):
    payload = copy.deepcopy(BASE_PAYLOADS.get(name, {}))
    payload[field] = value
    if name == "place_bet" and field == "decimal":
        payload.pop("odds")
    url = f"{server.url}/ws/sportsbooks?token={server.token}"
    [reply] = exchange(url, {"type": name, "id": 1, "payload": payload})
    assert reply["type"] == "error" and reply["code"] == "NX-400", (name, field, value, reply)
    assert reply["field"] == field, (name, field, value, reply)
