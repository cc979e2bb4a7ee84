"""One fixture of v2 reducer cases (state held, one frame, state after), run against the server's reducer, the
Python client's (``sbws.client``) and the one docs/protocol.md prints; tests/functional/test_dashboard_browser.py runs the dashboard's on the same cases."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson
import pytest

from sbws.client.state import State, apply_markets
from sbws.wire import deltas
from tests.reference import documented_reducer

CASES = orjson.loads((Path(__file__).resolve().parents[1] / "data" / "delta_cases.json").read_bytes())["cases"]


def server_reducer(markets: dict, msg: dict) -> None:
    if msg.get("image"):
        markets.clear()
        markets.update((m["id"], m) for m in msg["markets"])
        return
    for delta in msg["markets"]:
        deltas.apply(markets, delta, msg.get("ts"))


def client_state(markets: dict, msg: dict) -> None:
    """The whole client state (events computed too), not only its reducer."""
    state = State()
    state.markets = markets
    state.take(msg)


@pytest.mark.parametrize("reducer", [server_reducer, apply_markets, client_state, documented_reducer()],
                         ids=["server", "client", "client-state", "documented"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reducer_cases(case, reducer):
    markets = copy.deepcopy(case["state"])
    reducer(markets, copy.deepcopy(case["message"]))
    assert markets == case["expected"]
