"""Wire shapes of markets, opportunities and sportsbooks (plain dicts for orjson).

Odds go out as American integers, as in the design document, with the
decimal price alongside.  Timestamps are epoch milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.markets import outcome_line
from engine.odds import decimal_to_american

if TYPE_CHECKING:
    from .state import LiveOpportunity, MarketState


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def selection_name(state: MarketState, market_id: str, outcome: str) -> str:
    spec = state.specs[market_id]
    event = state.events.get(spec.event_id)
    if outcome == "draw":
        return "Draw"
    if outcome in ("over", "under"):
        return outcome.capitalize()
    if event is None:
        return outcome
    return event.home if outcome == "home" else event.away


def market(state: MarketState, market_id: str) -> dict[str, Any]:
    spec = state.specs[market_id]
    key = spec.key
    event = state.events.get(spec.event_id)
    board = state.board
    idx = board.market_index[market_id]
    prices = board.market_prices(idx)[: len(key.outcomes)]
    american = decimal_to_american(prices)
    selections = []
    best: dict[str, Any] = {}
    for o, outcome in enumerate(key.outcomes):
        row = prices[o]
        quoted = np.flatnonzero(~np.isnan(row))
        selections.append(
            {
                "id": outcome,
                "name": selection_name(state, market_id, outcome),
                "line": outcome_line(key.market_type, key.line, outcome),
                "odds": {board.books[b]: int(american[o, b]) for b in quoted},
                "decimal": {board.books[b]: float(row[b]) for b in quoted},
            }
        )
        if quoted.size:
            b = int(quoted[np.argmax(row[quoted])])
            best[outcome] = {"bookmaker": board.books[b], "odds": int(american[o, b]), "decimal": float(row[b])}
    return {
        "id": market_id,
        "eventId": spec.event_id,
        "eventDescription": event.description if event else spec.event_id,
        "sport": event.sport if event else None,
        "league": event.league if event else None,
        "startTime": event.start_ms if event else None,
        "marketType": key.market_type,
        "line": key.line,
        "status": "open" if board.open[idx] else "closed",
        "selections": selections,
        "bestOdds": best,
        "timestamp": ms(state.updated_at.get(market_id, state.last_batch_at)),
    }


def opportunity(state: MarketState, live: LiveOpportunity, now: float) -> dict[str, Any]:
    opp = live.opp
    spec = state.specs[opp.market_id]
    key = spec.key
    event = state.events.get(spec.event_id)
    legs = []
    for leg in opp.legs:
        outcome = key.outcomes[leg.outcome]
        legs.append(
            {
                "bookmaker": leg.book,
                "selection": outcome,
                "selectionName": selection_name(state, opp.market_id, outcome),
                "line": outcome_line(key.market_type, key.line, outcome),
                "odds": int(decimal_to_american(leg.price)),
                "decimal": leg.price,
                "effectiveDecimal": leg.effective,
                "stake": round(leg.stake, 2),
            }
        )
    out: dict[str, Any] = {
        "id": opp.id,
        "marketId": opp.market_id,
        "eventId": spec.event_id,
        "eventDescription": event.description if event else spec.event_id,
        "sport": event.sport if event else None,
        "league": event.league if event else None,
        "marketType": key.market_type,
        "line": key.line,
        "edge": round(opp.edge, 4),
        "roi": round(opp.roi, 4),
        "totalStake": opp.total_stake,
        "guaranteedProfit": round(opp.profit, 2),
        "legs": legs,
        "age": round(opp.age(now), 3),
        "suspect": opp.suspect,
        "detectedAt": ms(live.detected_at),
        "updatedAt": ms(live.updated_at),
    }
    if len(legs) == 2:
        out["bookA"], out["bookB"] = legs
    return out


def sportsbooks(state: MarketState) -> list[dict[str, Any]]:
    available = state.available_markets()
    out = []
    for book in sorted(state.known_books()):
        status = state.book_status.get(book)
        item: dict[str, Any] = {
            "id": book,
            "name": status.name if status else book,
            "status": status.status if status else "online",
            "responseTime": status.response_time_ms if status else 0,
            "lastUpdate": status.last_update_ms if status else 0,
            "availableMarkets": available.get(book, 0),
            "activeBets": state.active_bets.get(book, 0),
        }
        if status is not None and status.quota_remaining is not None:
            item["quotaRemaining"] = status.quota_remaining
        out.append(item)
    return out
