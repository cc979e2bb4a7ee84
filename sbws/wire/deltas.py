"""Protocol v2 market deltas (format 2): what changed in a market object, and deltas merged over time.

A market object (``views.market``: images, v1, ``get_markets``) is long-form;
a delta is compact, with the short keys of ``KEYS`` (declared to each v2
socket in ``connected``):

* ``id`` plus the changed top-level fields (``h``: hold);
* ``s``: the selections that changed, ``{"id", "d": {book: decimal or None}}``
  with only the books whose price changed (``None``: the book withdrew) and
  any other changed field (``f``: fairProbability).  No American odds: the
  client derives them from ``d`` (``american``, the server's own rounding);
* ``b``: ``{selection: book or None}`` only where a selection's best *book*
  changed; the best's price is that selection's price at that book;
* a market the client does not hold arrives as the delta from nothing, the
  same shape whole;
* ``{"id", "status": "closed"}`` closes a market.

Merging two deltas gives the delta of both steps, so a client holding the
state before the first (or any state in between) reaches the state after the
second: later values win, changes of either step are kept.  Pure.
"""

from __future__ import annotations

from typing import Any

from engine.odds import to_american_int as american

Delta = dict[str, Any]
View = dict[str, Any]

KEYS = {"s": "selections", "d": "decimal", "f": "fairProbability", "b": "bestOdds", "h": "hold"}
"""Short key → the market object's name for it."""
SHORT = {long: short for short, long in KEYS.items()}
FORMAT = 2
"""The delta format's number, in ``connected`` (1: long keys, American odds and whole bests; before 2026-12)."""


def closed(market_id: str) -> Delta:
    return {"id": market_id, "status": "closed"}


def is_closed(delta: Delta) -> bool:
    return delta.get("status") == "closed" and len(delta) == 2


def _books(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = {book: value for book, value in new.items() if old.get(book) != value}
    out.update((book, None) for book in old if book not in new)
    return out


def _best_books(view: View | None) -> dict[str, str]:
    return {} if view is None else {sel: best["bookmaker"] for sel, best in view["bestOdds"].items()}


def _selection(sel: dict[str, Any], prev: dict[str, Any] | None) -> dict[str, Any]:
    """One selection's entry (whole when ``prev`` is None); American odds never travel."""
    entry: dict[str, Any] = {"id": sel["id"]}
    for key, value in sel.items():
        if key == "decimal":
            changed = value if prev is None else _books(prev["decimal"], value)
            if changed or prev is None:
                entry["d"] = dict(changed)
        elif key not in ("id", "odds") and (prev is None or prev.get(key) != value):
            entry[SHORT.get(key, key)] = value
    return entry


def whole(view: View) -> Delta:
    """A market as a delta from nothing: what a client that does not hold it needs."""
    return _changes(None, view)


def diff(old: View | None, new: View) -> Delta | None:
    """The delta from ``old`` to ``new`` (the whole of ``new`` when there was nothing); None when equal."""
    if old is None:
        return whole(new)
    out = _changes(old, new)
    return out if len(out) > 1 else None


def _changes(old: View | None, new: View) -> Delta:
    out: Delta = {"id": new["id"]}
    for key, value in new.items():
        if key not in ("id", "selections", "bestOdds") and (old is None or old.get(key) != value):
            out[SHORT.get(key, key)] = value
    before = {s["id"]: s for s in old["selections"]} if old is not None else {}
    selections = []
    for sel in new["selections"]:
        prev = before.get(sel["id"])
        entry = _selection(sel, prev)
        if prev is None or len(entry) > 1:
            selections.append(entry)
    if selections:
        out["s"] = selections
    best = _books(_best_books(old), _best_books(new))
    if best:
        out["b"] = best
    return out


def merge(first: Delta | None, second: Delta) -> Delta:
    """One delta with the effect of ``first`` then ``second``."""
    if first is None or is_closed(second) or is_closed(first):
        return _copy(second)
    out = _copy(first)
    for key, value in second.items():
        if key == "s":
            mine = {s["id"]: s for s in out.get("s", [])}
            for sel in value:
                target = mine.get(sel["id"])
                if target is None:
                    target = mine[sel["id"]] = {"id": sel["id"]}
                for k, v in sel.items():
                    if k == "d":
                        target["d"] = {**target.get("d", {}), **v}
                    elif k != "id":
                        target[k] = v
            out["s"] = list(mine.values())
        elif key == "b":
            out["b"] = {**out.get("b", {}), **value}
        else:
            out[key] = value
    return out


def _copy(delta: Delta) -> Delta:
    out = dict(delta)
    if "s" in out:
        out["s"] = [{k: (dict(v) if k == "d" else v) for k, v in s.items()} for s in out["s"]]
    if "b" in out:
        out["b"] = dict(out["b"])
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
        market = markets[delta["id"]] = {"id": delta["id"], "selections": [], "bestOdds": {}}
    if ts is not None and "timestamp" not in delta:
        market["timestamp"] = ts
    for key, value in delta.items():
        if key == "s":
            by_id = {s["id"]: s for s in market["selections"]}
            for sel in value:
                target = by_id.get(sel["id"])
                if target is None:
                    target = by_id[sel["id"]] = {"id": sel["id"], "odds": {}, "decimal": {}}
                    market["selections"].append(target)
                for k, v in sel.items():
                    if k == "d":
                        for book, price in v.items():
                            if price is None:
                                target["odds"].pop(book, None)
                                target["decimal"].pop(book, None)
                            else:
                                target["odds"][book] = american(price)
                                target["decimal"][book] = price
                    elif k != "id":
                        target[KEYS.get(k, k)] = v
        elif key == "b":
            for sel, book in value.items():
                if book is None:
                    market["bestOdds"].pop(sel, None)
                else:
                    market["bestOdds"][sel] = {"bookmaker": book}
        elif key != "id":
            market[KEYS.get(key, key)] = value
    for sel in market["selections"]:  # a best is its selection's price at the best book
        best = market["bestOdds"].get(sel["id"])
        if best is not None:
            best["odds"], best["decimal"] = sel["odds"][best["bookmaker"]], sel["decimal"][best["bookmaker"]]
