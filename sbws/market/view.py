"""A market as one reads it: every book's price per selection, the best of each, and the hold.

Built from the board once per market revision (``MarketState.view`` caches
it) and read by both protocol versions' encoders, so a change is computed
once however many frames carry it.  Prices come in the board's book order.
"""

from __future__ import annotations

import math

import numpy as np
from attrs import frozen

from engine.markets import MarketKey, outcome_line
from engine.odds import hold_percent, to_american_int

from .records import Depth, EventInfo, ExchangeState

Price = tuple[str, float, int]
"""(book, decimal, American)."""


@frozen
class SelectionView:
    id: str
    name: str
    line: float | None
    prices: tuple[Price, ...]
    best: Price | None
    """The highest decimal price (the first book listing it, on a tie)."""
    fair: float | None = None
    """The fair probability of the market's sharp line (None without one)."""
    lays: tuple[tuple[str, float], ...] | None = None
    """(exchange, decimal) lay prices, in a market some exchange lays (None in any other)."""
    depth: tuple[Depth, ...] | None = None
    """Each exchange's ladder for the selection, in a market some exchange sends ladders for."""


@frozen
class MarketView:
    id: str
    event_id: str
    event: EventInfo | None
    market_type: str
    line: float | None
    open: bool
    selections: tuple[SelectionView, ...]
    hold: float | None
    """100·(Σ 1/best − k)/k over every selection's best price (k winners); None while any selection has none."""
    updated_at: float
    winners: int = 1
    exchange: ExchangeState | None = None
    """An exchange's status of the market (suspended, in play, bet delay), when an exchange sends one."""


def selection_name(event: EventInfo | None, outcome: str) -> str:
    if outcome == "draw":
        return "Draw"
    if outcome in ("over", "under"):
        return outcome.capitalize()
    if event is None:
        return outcome
    return event.home if outcome == "home" else event.away


def build(market_id: str, key: MarketKey, event: EventInfo | None, outcomes: tuple[str, ...], names: tuple[str, ...],
          prices: np.ndarray, books: list[str], is_open: bool, updated_at: float,
          fair: tuple[float, ...] | None = None, lays: np.ndarray | None = None,
          exchanges: list[str] | None = None, exchange: ExchangeState | None = None,
          depth: dict[tuple[str, str], Depth] | None = None) -> MarketView:
    """``prices``: (outcome, book) decimal prices, NaN where a book has none; ``lays`` likewise (outcome,
    exchange) with ``exchanges`` their names, for a market an exchange lays.  Plain lists, not numpy: a market is
    a few dozen prices, and numpy's cost per call was most of a view's time."""
    selections = []
    market_type, line = key.market_type, key.line
    lay_rows = lays.tolist() if lays is not None else None
    for i, (outcome, name, row) in enumerate(zip(outcomes, names, prices.tolist())):
        quotes = tuple((books[b], d, to_american_int(d)) for b, d in enumerate(row) if d == d)
        best = max(quotes, key=lambda q: q[1]) if quotes else None
        p = fair[i] if fair is not None and i < len(fair) and fair[i] == fair[i] else None
        laid = None if lay_rows is None or exchanges is None else tuple(
            (exchanges[e], d) for e, d in enumerate(lay_rows[i]) if d == d)
        ladders = None if depth is None else tuple(d for (sel, _book), d in sorted(depth.items()) if sel == outcome)
        selections.append(SelectionView(outcome, name, outcome_line(market_type, line, outcome), quotes, best, p,
                                        laid, ladders))
    hold = hold_percent([s.best[1] if s.best else math.nan for s in selections], key.winners)
    return MarketView(market_id, key.event_id, event, market_type, line, is_open, tuple(selections), hold, updated_at,
                      key.winners, exchange)
