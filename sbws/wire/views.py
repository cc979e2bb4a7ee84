"""Wire shapes of markets, opportunities, sportsbooks, bets and subscriptions (plain dicts for orjson).

Odds go out as American integers, as in the design document, with the
decimal price alongside.  Timestamps are epoch milliseconds; money leaves the
ledger's integer cents only here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from engine.markets import outcome_line
from engine.odds import decimal_to_american

from ..clock import ms
from ..ledger.models import Bet
from ..ledger.rules import bet_price, from_cents
from ..market.state import LiveOpportunity, MarketState


def selection_name(state: MarketState, market_id: str, outcome: str) -> str:
    event = state.event_of(market_id)
    if outcome == "draw":
        return "Draw"
    if outcome in ("over", "under"):
        return outcome.capitalize()
    if event is None:
        return outcome
    return event.home if outcome == "home" else event.away


def market(state: MarketState, market_id: str) -> dict[str, Any]:
    key = state.markets[market_id]
    event = state.event_of(market_id)
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
        "eventId": key.event_id,
        "eventDescription": event.description if event else key.event_id,
        "sport": event.sport if event else None,
        "league": event.league if event else None,
        "startTime": event.start_ms if event else None,
        "marketType": key.market_type,
        "line": key.line,
        "status": "open" if board.open[idx] else "closed",
        "selections": selections,
        "bestOdds": best,
        "hold": None if (hold := state.hold(market_id)) is None else round(hold, 4),
        "timestamp": ms(state.updated_at.get(market_id, state.last_batch_at)),
    }


def opportunity(state: MarketState, live: LiveOpportunity, now: float) -> dict[str, Any]:
    opp = live.opp
    key = state.markets[opp.market_id]
    event = state.event_of(opp.market_id)
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
        "eventId": key.event_id,
        "eventDescription": event.description if event else key.event_id,
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
        "suspectReason": opp.suspect_reason,
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


def bet(b: Bet) -> dict[str, Any]:
    return {
        "id": b.id,
        "marketId": b.market_id,
        "eventId": b.event_id,
        "marketType": b.market_type,
        "line": b.line,
        "selectionId": b.selection_id,
        "bookmaker": b.bookmaker,
        "stake": float(from_cents(b.stake_cents)),
        "odds": b.odds,
        "decimal": float(bet_price(b.odds, b.price)),
        "requestedOdds": b.requested_odds,
        "requestedDecimal": None if b.requested_price is None else float(b.requested_price),
        "potentialPayout": float(from_cents(b.potential_payout_cents)),
        "status": b.status,
        "payout": None if b.payout_cents is None else float(from_cents(b.payout_cents)),
        "notes": b.notes,
        "clientRef": b.client_ref,
        "placedAt": b.placed_at,
        "settledAt": b.settled_at,
    }


def subscriptions(
    sportsbooks: set[str], markets: set[str], arbitrage: bool, market_types: set[str], sports: set[str]
) -> dict[str, Any]:
    return {
        "sportsbooks": sorted(sportsbooks),
        "markets": sorted(markets),
        "arbitrage": arbitrage,
        "marketTypes": sorted(market_types),
        "sports": sorted(sports),
    }


class MarketFragments:
    """Each market's JSON object, encoded once per change and shared by every frame that carries it.

    Entries are keyed by the market's revision in ``MarketState``, so a change
    (or a reset of the whole state) can never serve stale bytes.
    """

    def __init__(self, state: MarketState) -> None:
        self.state = state
        self._cache: dict[str, tuple[int, bytes]] = {}

    def __call__(self, market_id: str) -> bytes:
        revision = self.state.revision.get(market_id, 0)
        cached = self._cache.get(market_id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        encoded = orjson.dumps(market(self.state, market_id))
        if len(self._cache) > 2 * len(self.state.markets) + 1024:
            self._cache = {m: v for m, v in self._cache.items() if m in self.state.markets}
        self._cache[market_id] = (revision, encoded)
        return encoded
