"""The Python client's pure parts (issue 26): URLs, payloads, amounts, the state's events, the watch view."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from sbws.client import ItemChanged, ItemClosed, ItemOpened, MarketChanged, State, payload, socket_url
from sbws.client.client import money
from sbws.client.watch import Options, event_line, rows, subscription


def test_urls_payloads_and_exact_amounts():
    assert socket_url("ws://h:3000") == "ws://h:3000/ws/sportsbooks?v=2"
    assert socket_url("https://h/ws/sportsbooks?v=1&x=1") == "wss://h/ws/sportsbooks?x=1&v=2"
    assert payload(market_type="spread", max_hold=None, from_ms=1, to_ms=2, event_id="e") == {
        "marketType": "spread", "from": 1, "to": 2, "eventId": "e"}
    assert orjson.dumps({"stake": money(Decimal("12.30"))}) == b'{"stake":12.30}'
    assert orjson.dumps({"stake": money(0.1 * 3)}) == b'{"stake":0.30000000000000004}'  # a float is sent as written
    with pytest.raises(ValueError):
        money("NaN")


def test_item_pushes_open_change_and_close_and_an_image_replaces():
    state = State()
    a, b = {"id": "a", "edge": 1.0}, {"id": "b", "edge": 2.0}
    events = state.take({"type": "arbitrage_update", "image": True, "opportunities": [a, b], "closed": [],
                         "epoch": "e", "seq": 3})
    assert events == [ItemOpened("arbitrage", a), ItemOpened("arbitrage", b)] and state.position == ("e", 3)
    a2 = {"id": "a", "edge": 1.5}
    events = state.take({"type": "arbitrage_update", "delta": True, "opportunities": [a2], "closed": ["b"],
                         "epoch": "e", "seq": 4})
    assert events == [ItemClosed("arbitrage", "b"), ItemChanged("arbitrage", a2)]
    assert state.items["arbitrage"] == {"a": a2}
    events = state.take({"type": "arbitrage_update", "image": True, "opportunities": [b], "epoch": "e", "seq": 5})
    assert events == [ItemClosed("arbitrage", "a"), ItemOpened("arbitrage", b)]
    # A kind this client was never told about is read by the same rule.
    events = state.take({"type": "dutch_update", "delta": True, "dutches": [{"id": "d"}], "closed": []})
    assert events == [ItemOpened("dutch", {"id": "d"})]
    # A reply (it has an id) is not state.
    assert state.take({"type": "arbitrage_update", "id": "c1", "opportunities": [a]}) == []


def test_market_events_say_what_changed():
    state = State()
    m = {"id": "m", "selections": [{"id": "home", "odds": {"x": -110}, "decimal": {"x": 1.91}}], "bestOdds": {}}
    assert state.take({"type": "market_update", "image": True, "markets": [m]}) == [MarketChanged("m", m)]
    events = state.take({"type": "market_update", "delta": True, "ts": 9,
                         "markets": [{"id": "m", "s": [{"id": "home", "d": {"x": None}}]}]})
    assert [e.market_id for e in events] == ["m"] and state.markets["m"]["selections"][0]["odds"] == {}
    assert state.markets["m"]["timestamp"] == 9
    assert state.take({"type": "market_update", "delta": True, "markets": [{"id": "m", "status": "closed"}]}) == [
        MarketChanged("m", None)]
    assert state.markets == {}


def test_the_watch_view_filters_and_sorts():
    items = {str(i): {"id": str(i), "edge": e, "detectedAt": t} for i, (e, t) in enumerate([(0.2, 3), (1.5, 1),
                                                                                            (0.9, 2)])}
    best = rows(items, "arbitrage", Options(min_edge=0.5))
    assert [i["edge"] for i in best] == [1.5, 0.9]
    assert [i["detectedAt"] for i in rows(items, "arbitrage", Options(sort="age", rows=2))] == [3, 2]
    assert subscription(Options(sports=("NBA",), books=("pinnacle",))) == {
        "arbitrage": True, "value": True, "middles": True, "sports": ["NBA"], "sportsbooks": ["pinnacle"]}
    assert orjson.loads(event_line(ItemClosed("value", "v1"))) == {"event": "ItemClosed", "kind": "value",
                                                                   "item_id": "v1"}
