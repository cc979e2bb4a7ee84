"""The client's view of the server, reduced from protocol v2 messages: no I/O, no server code.

Written from ``docs/protocol.md`` ("Protocol version 2"), not from the server's
own reducer, so the two checking each other means something.  ``State.take``
applies one message and says what changed, as events.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from .events import (
    AlertReceived, BetSettled, BetUpdated, Event, ItemChanged, ItemClosed, ItemOpened, MarketChanged, SteamMove,
)

ITEM_KINDS = {"arbitrage_update": ("arbitrage", "opportunities"), "value_update": ("value", "value"),
              "middles_update": ("middles", "middles")}
"""Item pushes and their list key.  An ``X_update`` push not named here is read the same way, its list being
its one list field besides ``closed`` (so kinds added to the server later need no client change)."""


KEYS = {"s": "selections", "d": "decimal", "f": "fairProbability", "b": "bestOdds", "h": "hold"}
"""A v2 delta's short keys (format 2), as the server declares them in ``connected``."""


def american(decimal: float) -> int:
    """American odds of a decimal price, rounded as the server rounds (docs/protocol.md)."""
    raw = (decimal - 1.0) * 100.0 if decimal >= 2.0 else -100.0 / (decimal - 1.0)
    rounded = math.copysign(math.floor(abs(raw) + 0.5), raw)
    return int(100.0 if abs(rounded) < 100 else rounded)


def apply_markets(markets: dict[str, dict[str, Any]], msg: dict[str, Any]) -> None:
    """One ``market_update`` onto the markets held: an image replaces them, a delta merges into them."""
    if msg.get("type") != "market_update" or "id" in msg:
        return
    if msg.get("image"):
        markets.clear()
        markets.update((m["id"], m) for m in msg["markets"])
        return
    for delta in msg["markets"]:
        if delta.get("status") == "closed" and len(delta) == 2:
            markets.pop(delta["id"], None)
            continue
        market = markets.setdefault(delta["id"], {"id": delta["id"], "selections": [], "bestOdds": {}})
        if "timestamp" not in delta and "ts" in msg:
            market["timestamp"] = msg["ts"]
        for key, value in delta.items():
            if key == "s":
                _merge_selections(market["selections"], value)
            elif key == "b":
                for selection, book in value.items():
                    if book is None:
                        market["bestOdds"].pop(selection, None)
                    else:
                        market["bestOdds"][selection] = {"bookmaker": book}
            elif key != "id":
                market[KEYS.get(key, key)] = value
        for selection in market["selections"]:  # a best is the selection's price at its book
            best = market["bestOdds"].get(selection["id"])
            if best is not None:
                best["odds"] = selection["odds"][best["bookmaker"]]
                best["decimal"] = selection["decimal"][best["bookmaker"]]


def _merge_selections(held: list[dict[str, Any]], changes: list[dict[str, Any]]) -> None:
    for change in changes:
        target = next((s for s in held if s["id"] == change["id"]), None)
        if target is None:
            target = {"id": change["id"], "odds": {}, "decimal": {}}
            held.append(target)
        for key, value in change.items():
            if key == "d":
                for book, price in value.items():
                    if price is None:
                        target["odds"].pop(book, None)
                        target["decimal"].pop(book, None)
                    else:
                        target["odds"][book] = american(price)
                        target["decimal"][book] = price
            elif key != "id":
                target[KEYS.get(key, key)] = value


def item_kind(msg: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, list key) of an item push, or None for any other message."""
    kind = msg.get("type")
    if not isinstance(kind, str) or kind == "market_update" or not kind.endswith("_update") or "id" in msg:
        return None
    if kind in ITEM_KINDS:
        return ITEM_KINDS[kind]
    lists = [k for k, v in msg.items() if isinstance(v, list) and k != "closed"]
    return (kind[: -len("_update")], lists[0]) if len(lists) == 1 else None


class State:
    """Markets, every kind's live items, and the position they reached."""

    def __init__(self) -> None:
        self.markets: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, dict[str, Any]]] = {}
        self.sportsbooks: list[dict[str, Any]] = []
        self.position: tuple[str, int] | None = None
        """(epoch, seq) of the last message applied: a safe point to resume from."""

    def take(self, msg: dict[str, Any]) -> list[Event]:
        events: list[Event] = []
        kind = msg.get("type")
        if kind == "market_update" and "id" not in msg:
            events = self._markets(msg)
        elif (found := item_kind(msg)) is not None:
            events = self._items(found[0], msg, found[1])
        elif kind == "sportsbooks" and "id" not in msg:
            self.sportsbooks = list(msg.get("sportsbooks", ()))
        elif kind == "bet_settled":
            events = [BetSettled(msg["bet"])]
        elif kind == "bet_updated":
            events = [BetUpdated(msg["bet"])]
        elif kind == "alert":
            events = [AlertReceived(msg["alert"])]
        elif kind == "steam":
            events = [SteamMove(msg["steam"])]
        if isinstance(msg.get("epoch"), str) and isinstance(msg.get("seq"), int):
            self.position = (msg["epoch"], msg["seq"])
        return events

    def _markets(self, msg: dict[str, Any]) -> list[Event]:
        before = {m: copy.deepcopy(v) for m, v in self.markets.items()} if msg.get("image") else None
        touched = [d["id"] for d in msg.get("markets", ())]
        if before is not None:
            touched = sorted(set(before) | set(touched))
        elif not touched:
            return []
        else:
            before = {m: copy.deepcopy(self.markets[m]) for m in touched if m in self.markets}
        apply_markets(self.markets, msg)
        return [MarketChanged(m, self.markets.get(m)) for m in touched if before.get(m) != self.markets.get(m)]

    def _items(self, kind: str, msg: dict[str, Any], key: str) -> list[Event]:
        held = self.items.setdefault(kind, {})
        incoming = {item["id"]: item for item in msg.get(key, ())}
        closed = set(msg.get("closed", ()))
        if msg.get("image") or not msg.get("delta"):
            closed |= set(held) - set(incoming)  # an image (or a v1-style full list) replaces the list
        events: list[Event] = []
        for item_id in sorted(closed):
            if held.pop(item_id, None) is not None:
                events.append(ItemClosed(kind, item_id))
        for item_id, item in incoming.items():
            previous = held.get(item_id)
            held[item_id] = item
            if previous is None:
                events.append(ItemOpened(kind, item))
            elif previous != item:
                events.append(ItemChanged(kind, item))
        return events
