"""Shaping stored history into answers: pure functions, tested without a store.

A point is ``(t_ms, decimal or None)``; None is a withdrawn quote.  On the
wire a point is ``[t_ms, american, decimal]`` (both null for a withdrawal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from engine.markets import MONEYLINE, outcomes_for
from engine.odds import to_american_int

Point = tuple[int, float | None]

DAY_MS = 86_400_000
DEFAULT_POINTS = 300
"""Points per series when a query does not say: about a chart's width."""
DEFAULT_SPAN_MS = DAY_MS
"""Without ``from``, a query covers the last 24 hours."""


@frozen
class SeriesKey:
    market_id: str
    outcome: int
    book: str


def outcome_names(market_id: str, highest: int) -> tuple[str, ...]:
    """A market's outcomes from its id alone (it may have left the board): a moneyline with a third
    outcome is three-way."""
    parts = market_id.split(":")
    kind = parts[1] if len(parts) > 1 else MONEYLINE
    try:
        return outcomes_for(kind, three_way=kind == MONEYLINE and highest >= 2)
    except ValueError:
        return tuple(str(i) for i in range(highest + 1))


def day_of(t_ms: int) -> int:
    return t_ms // DAY_MS


def downsample(points: Sequence[Point], lo: int, hi: int, max_points: int) -> list[Point]:
    """At most ``max_points``: [lo, hi] cut into that many equal buckets, the last point of each kept.

    Points must be in time order; the last value of a bucket is what a chart at that resolution shows.
    """
    if len(points) <= max_points:
        return list(points)
    width = max(1, hi - lo + 1)
    out: list[Point] = []
    last_bucket = -1
    for point in points:
        bucket = min(max_points - 1, (point[0] - lo) * max_points // width)
        if bucket == last_bucket:
            out[-1] = point
        else:
            out.append(point)
            last_bucket = bucket
    return out


def wire_point(point: Point) -> list[Any]:
    t, price = point
    if price is None:
        return [t, None, None]
    return [t, to_american_int(price), price]


def price_entry(point: Point | None) -> dict[str, Any] | None:
    if point is None:
        return None
    t, american, decimal = wire_point(point)
    return {"t": t, "odds": american, "decimal": decimal}


def reply(market_id: str, outcomes: Sequence[str], series: Mapping[SeriesKey, Sequence[Point]],
          opening: Mapping[SeriesKey, Point], current: Mapping[SeriesKey, Point], steam: Sequence[Any],
          lo: int, hi: int) -> dict[str, Any]:
    """``{"marketId", "from", "to", "series": [...], "open": {sel: {book: …}}, "current": {…}, "steam": [...]}``."""
    keys = sorted(set(series) | set(opening) | set(current), key=lambda k: (k.outcome, k.book))
    out_open: dict[str, dict[str, Any]] = {}
    out_current: dict[str, dict[str, Any]] = {}
    for key in keys:
        name = outcomes[key.outcome] if key.outcome < len(outcomes) else str(key.outcome)
        out_open.setdefault(name, {})[key.book] = price_entry(opening.get(key))
        out_current.setdefault(name, {})[key.book] = price_entry(current.get(key))
    return {
        "marketId": market_id,
        "from": lo,
        "to": hi,
        "series": [
            {"selection": outcomes[k.outcome] if k.outcome < len(outcomes) else str(k.outcome), "bookmaker": k.book,
             "points": [wire_point(p) for p in series.get(k, ())]}
            for k in keys
        ],
        "open": out_open,
        "current": out_current,
        "steam": list(steam),
    }
