"""Protocol v2 market deltas: what changed in a market object, and deltas merged over time.

A delta holds ``id`` plus only what changed: top-level fields, and
``selections`` entries with only the books whose price changed (``None``: the
book withdrew) and ``bestOdds`` entries only for selections whose best changed
(``None``: no best any more).  A market the client does not have yet arrives
whole (a delta from nothing).  ``{"id", "status": "closed"}`` closes a market.
Merging two deltas gives the delta of both steps, so a client holding the
state before the first (or any state in between) reaches the state after the
second: later values win, changes of either step are kept.  Pure.
"""

from __future__ import annotations

from typing import Any

Delta = dict[str, Any]
View = dict[str, Any]

NESTED = ("selections", "bestOdds")


def closed(market_id: str) -> Delta:
    return {"id": market_id, "status": "closed"}


def is_closed(delta: Delta) -> bool:
    return delta.get("status") == "closed" and len(delta) == 2


def _books(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = {book: value for book, value in new.items() if old.get(book) != value}
    out.update((book, None) for book in old if book not in new)
    return out


def diff(old: View | None, new: View) -> Delta | None:
    """The delta from ``old`` to ``new`` (the whole of ``new`` when there was nothing); None when equal."""
    if old is None:
        return dict(new)
    out: Delta = {"id": new["id"]}
    for key, value in new.items():
        if key not in NESTED and old.get(key) != value:
            out[key] = value
    before = {s["id"]: s for s in old.get("selections", ())}
    selections = []
    for sel in new.get("selections", ()):
        prev = before.get(sel["id"])
        if prev is None:
            selections.append(dict(sel))
            continue
        entry: dict[str, Any] = {"id": sel["id"]}
        for key, value in sel.items():
            if key in ("odds", "decimal"):
                changed = _books(prev.get(key, {}), value)
                if changed:
                    entry[key] = changed
            elif key != "id" and prev.get(key) != value:
                entry[key] = value
        if len(entry) > 1:
            selections.append(entry)
    if selections:
        out["selections"] = selections
    best = _books(old.get("bestOdds", {}), new.get("bestOdds", {}))
    if best:
        out["bestOdds"] = best
    return out if len(out) > 1 else None


def merge(first: Delta | None, second: Delta) -> Delta:
    """One delta with the effect of ``first`` then ``second``."""
    if first is None or is_closed(second) or is_closed(first):
        return _copy(second)
    out = _copy(first)
    for key, value in second.items():
        if key == "selections":
            mine = {s["id"]: s for s in out.get("selections", [])}
            for sel in value:
                target = mine.get(sel["id"])
                if target is None:
                    target = mine[sel["id"]] = {"id": sel["id"]}
                for k, v in sel.items():
                    if k in ("odds", "decimal"):
                        target[k] = {**target.get(k, {}), **v}
                    elif k != "id":
                        target[k] = v
            out["selections"] = list(mine.values())
        elif key == "bestOdds":
            out["bestOdds"] = {**out.get("bestOdds", {}), **value}
        else:
            out[key] = value
    return out


def _copy(delta: Delta) -> Delta:
    out = dict(delta)
    if "selections" in out:
        out["selections"] = [{k: (dict(v) if isinstance(v, dict) else v) for k, v in s.items()} for s in out["selections"]]
    if "bestOdds" in out:
        out["bestOdds"] = dict(out["bestOdds"])
    return out


def without_time(delta: Delta, ts: int) -> Delta:
    """The delta as a frame carrying ``ts`` sends it: its "timestamp" left out when it is ``ts``."""
    if delta.get("timestamp") != ts:
        return delta
    return {k: v for k, v in delta.items() if k != "timestamp"}


def apply(markets: dict[str, View], delta: Delta, ts: int | None = None) -> None:
    """The client's side, as docs/protocol.md describes it (the tests' reference reducer uses it too).

    ``ts``: the frame's "ts"; a delta without a "timestamp" of its own was made at that time.
    """
    if is_closed(delta):
        markets.pop(delta["id"], None)
        return
    market = markets.get(delta["id"])
    if market is None:
        market = markets[delta["id"]] = {"id": delta["id"]}
    if ts is not None and "timestamp" not in delta:
        market["timestamp"] = ts
    for key, value in delta.items():
        if key == "selections":
            by_id = {s["id"]: s for s in market.setdefault("selections", [])}
            for sel in value:
                target = by_id.get(sel["id"])
                if target is None:
                    target = {"id": sel["id"], "odds": {}, "decimal": {}}
                    market["selections"].append(target)
                    by_id[sel["id"]] = target
                for k, v in sel.items():
                    if k in ("odds", "decimal"):
                        books = target.setdefault(k, {})
                        for book, price in v.items():
                            if price is None:
                                books.pop(book, None)
                            else:
                                books[book] = price
                    elif k != "id":
                        target[k] = v
        elif key == "bestOdds":
            best = market.setdefault("bestOdds", {})
            for sel, entry in value.items():
                if entry is None:
                    best.pop(sel, None)
                else:
                    best[sel] = entry
        else:
            market[key] = value
