"""Wire shapes of markets, opportunities, sportsbooks, bets and subscriptions (plain dicts for orjson).

Odds go out as American integers, as in the design document, with the
decimal price alongside.  Timestamps are epoch milliseconds; money leaves the
ledger's integer cents only here.
"""

from __future__ import annotations

import math
from typing import Any

from collections.abc import Mapping

import orjson

from engine.arbitrage import Opportunity
from engine import backlay
from engine.backlay import BackLay, Side
from engine.matched import Match
from engine.board import BACK, LAY
from engine.markets import MarketKey, outcome_line
from engine.middles import Middle
from engine.odds import decimal_to_american
from engine.value import ValueBet

from ..clock import ms
from ..ledger.models import Bet, Delivery, Rule, Webhook
from ..ledger.rules import bet_price, from_cents
from ..history.series import outcome_names
from ..market.records import SUSPENDED_STATUS, Depth
from ..market.signals import Live
from ..market.state import MarketState
from ..market.steam import Steam
from .commands import Subscription


def selection_name(state: MarketState, market_id: str, outcome: str) -> str:
    return state.selection_name(market_id, outcome)


def market(state: MarketState, market_id: str) -> dict[str, Any]:
    """The market object of both protocol versions: the domain view with its wire names."""
    v = state.view(market_id)
    event = v.event
    selections = []
    best: dict[str, Any] = {}
    for sel in v.selections:
        selections.append({
            "id": sel.id,
            "name": sel.name,
            "line": sel.line,
            "odds": {book: american for book, _decimal, american in sel.prices},
            "decimal": {book: decimal for book, decimal, _american in sel.prices},
            "fairProbability": None if sel.fair is None else round(sel.fair, 6),
            **({} if sel.lays is None else {"lay": dict(sel.lays)}),
            **({} if sel.depth is None else _ladders(sel.depth)),
        })
        if sel.best is not None:
            book, decimal, american = sel.best
            best[sel.id] = {"bookmaker": book, "odds": american, "decimal": decimal}
    return {
        "id": v.id,
        "eventId": v.event_id,
        "eventDescription": event.description if event else v.event_id,
        "sport": event.sport if event else None,
        "league": event.league if event else None,
        "startTime": event.start_ms if event else None,
        "marketType": v.market_type,
        "line": v.line,
        "numberOfWinners": v.winners,
        "status": ("suspended" if v.exchange and v.exchange.status == SUSPENDED_STATUS else "open") if v.open else "closed",
        **({} if v.exchange is None else {"inPlay": v.exchange.in_play, "betDelay": v.exchange.bet_delay}),
        "selections": selections,
        "bestOdds": best,
        "hold": None if v.hold is None else round(v.hold, 4),
        "timestamp": ms(v.updated_at),
    }


def for_stake(state: MarketState, live: Live[Opportunity | BackLay], now: float, stake: float) -> dict[str, Any]:
    """An arbitrage for a stake of the caller's: an all-back one scales (its stakes are proportional); a
    back-lay's lay walks the exchange's ladder, level by level, at the volume-weighted price."""
    out = opportunity(state, live, now)
    opp = live.item
    ratio = stake / opp.total_stake
    out["totalStake"] = stake
    if isinstance(opp, Opportunity):
        for leg in out["legs"]:
            leg["stake"] = round(leg["stake"] * ratio, 2)
        out["guaranteedProfit"] = round(opp.profit * ratio, 2)
        return out
    back, lay = opp.legs
    ladder = state.ladder(opp.market_id, lay.outcome, lay.book, LAY) or ((lay.price, math.inf),)
    commission = state.config.commission.get(lay.book, 0.0)
    walked = backlay.walk(stake, back.effective, ladder, commission)
    out["legs"][0]["stake"] = out["legs"][0]["liability"] = round(stake, 2)
    lay_leg = out["legs"][1]
    lay_leg.update(decimal=round(walked.price, 4), effectiveDecimal=round(walked.price, 4),
                   stake=round(walked.lay_stake, 2), liability=round(walked.liability, 2),
                   levels=[[p, round(t, 2)] for p, t in walked.levels])
    out.update(guaranteedProfit=round(walked.profit, 2), edge=round(walked.profit / stake * 100, 4),
               roi=round(walked.profit / (stake + walked.liability) * 100, 4), filled=walked.filled)
    return out


def _ladders(depth: tuple[Depth, ...]) -> dict[str, Any]:
    """``depth`` {exchange: {"back": [[price, size], …], "lay": …}} best first, ``lastTraded`` and ``traded``."""
    return {
        "depth": {d.book: {"back": [list(level) for level in d.back], "lay": [list(level) for level in d.lay]}
                  for d in depth},
        "lastTraded": {d.book: d.last_traded for d in depth if d.last_traded is not None},
        "traded": {d.book: d.traded for d in depth if d.traded is not None},
    }


def _key(state: MarketState, market_id: str) -> MarketKey:
    key = state.key(market_id)
    assert key is not None, "a live item's markets are on the board"
    return key


def opportunity(state: MarketState, live: Live[Opportunity | BackLay], now: float,
                stake: float | None = None) -> dict[str, Any]:
    """An arbitrage of either kind: ``back`` (every outcome backed) or ``back_lay`` (one backed, laid at an
    exchange), legs with their side; with a ``stake``, its figures for that stake (``for_stake``)."""
    opp = live.item
    if stake is not None:
        return for_stake(state, live, now, stake)
    key = _key(state, opp.market_id)
    event = state.event_of(opp.market_id)
    legs = []
    outcomes = state.outcomes(opp.market_id)
    for leg in opp.legs:
        outcome = outcomes[leg.outcome]
        entry: dict[str, Any] = {
            "side": leg.side if isinstance(leg, Side) else BACK,
            "bookmaker": leg.book,
            "selection": outcome,
            "selectionName": selection_name(state, opp.market_id, outcome),
            "line": outcome_line(key.market_type, key.line, outcome),
            "odds": int(decimal_to_american(leg.price)),
            "decimal": leg.price,
            "effectiveDecimal": leg.effective,
            "stake": round(leg.stake, 2),
        }
        if isinstance(leg, Side):
            entry["liability"] = round(leg.liability, 2)
        legs.append(entry)
    out: dict[str, Any] = {
        "id": opp.id,
        "kind": "back_lay" if isinstance(opp, BackLay) else "back",
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
    if isinstance(opp, BackLay):
        out["maxStake"] = None if opp.max_stake is None else round(opp.max_stake, 2)
    if len(legs) == 2:
        out["bookA"], out["bookB"] = legs
    return out


def _event_fields(state: MarketState, market_id: str) -> dict[str, Any]:
    key = _key(state, market_id)
    event = state.event_of(market_id)
    return {
        "eventId": key.event_id,
        "eventDescription": event.description if event else key.event_id,
        "sport": event.sport if event else None,
        "league": event.league if event else None,
        "marketType": key.market_type,
    }


def _american(decimal: float) -> int | None:
    value = float(decimal_to_american(decimal))
    return None if value != value else int(value)


def value_bet(state: MarketState, live: Live[ValueBet], now: float, bankroll: float | None = None) -> dict[str, Any]:
    v = live.item
    key = _key(state, v.market_id)
    outcome = state.outcomes(v.market_id)[v.outcome]
    fair = v.fair_probability
    out: dict[str, Any] = {
        "id": v.id,
        "marketId": v.market_id,
        **_event_fields(state, v.market_id),
        "line": outcome_line(key.market_type, key.line, outcome),
        "selection": outcome,
        "selectionName": selection_name(state, v.market_id, outcome),
        "bookmaker": v.book,
        "odds": _american(v.price),
        "decimal": v.price,
        "effectiveDecimal": round(v.effective, 6),
        "fairProbability": round(fair, 6),
        "fairOdds": {"american": _american(1.0 / fair) if fair > 0 else None,
                     "decimal": round(1.0 / fair, 4) if fair > 0 else None},
        "ev": round(v.ev, 4),
        "kelly": round(v.kelly, 6),
        "stakeFraction": round(v.stake(1.0, state.value_config), 6),
        "sharp": {
            "bookmakers": list(v.sharp_books),
            "method": state.value_config.method,
            "hold": round(v.sharp_hold, 4),
            "age": round(max(0.0, now - v.sharp_quoted_at), 3),
        },
        "suspect": v.suspect,
        "suspectReason": v.suspect_reason,
        "detectedAt": ms(live.detected_at),
        "updatedAt": ms(live.updated_at),
    }
    if bankroll is not None:
        out["stake"] = round(v.stake(bankroll, state.value_config), 2)
    return out


def matched(state: MarketState, market_id: str, m: Match) -> dict[str, Any]:
    """One matched-betting line: the back, the lay and what the lay makes of it."""
    key = _key(state, market_id)
    outcome = state.outcomes(market_id)[m.outcome]
    r = m.result
    return {
        "marketId": market_id,
        **_event_fields(state, market_id),
        "line": outcome_line(key.market_type, key.line, outcome),
        "selection": outcome,
        "selectionName": selection_name(state, market_id, outcome),
        "back": {"bookmaker": m.back_book, "decimal": m.back, "odds": _american(m.back)},
        "lay": {"exchange": m.exchange, "decimal": m.lay, "commission": round(m.commission * 100, 4)},
        "layStake": round(r.lay_stake, 2),
        "liability": round(r.liability, 2),
        "ifBackWins": round(r.if_back_wins, 2),
        "ifLayWins": round(r.if_lay_wins, 2),
        "rating": round(r.rating, 2),
    }


def middle(state: MarketState, live: Live[Middle], now: float) -> dict[str, Any]:
    m = live.item
    legs = []
    for leg in m.legs:
        outcome = state.outcomes(leg.market_id)[leg.outcome]
        legs.append({
            "marketId": leg.market_id,
            "bookmaker": leg.book,
            "selection": outcome,
            "selectionName": selection_name(state, leg.market_id, outcome),
            "line": leg.line,
            "odds": _american(leg.price),
            "decimal": leg.price,
            "effectiveDecimal": round(leg.effective, 6),
            "stake": round(leg.stake, 2),
        })
    return {
        "id": m.id,
        **_event_fields(state, m.legs[0].market_id),
        "legs": legs,
        "window": {"low": m.window[0], "high": m.window[1]},
        "width": m.width,
        "totalStake": m.total_stake,
        "missProfit": round(m.miss, 2),
        "hitProfit": round(m.hit, 2),
        "hitProbability": None if m.hit_probability is None else round(m.hit_probability, 6),
        "ev": None if m.ev is None else round(m.ev, 4),
        "model": {"center": None if m.center is None else round(m.center, 3), "sd": m.sd},
        "age": round(max(0.0, now - min(leg.quoted_at for leg in m.legs)), 3),
        "detectedAt": ms(live.detected_at),
        "updatedAt": ms(live.updated_at),
    }


def steam(state: MarketState, event: Steam) -> dict[str, Any]:
    """A steam move as pushed and as kept in the history (the market may be gone when it is read back)."""
    key = state.key(event.market_id)
    outcomes = state.outcomes(event.market_id) if key else outcome_names(event.market_id, event.outcome)
    selection = outcomes[event.outcome] if event.outcome < len(outcomes) else str(event.outcome)
    fields = _event_fields(state, event.market_id) if key else {"eventId": event.market_id.split(":")[0]}
    return {
        "id": event.id,
        "marketId": event.market_id,
        **fields,
        "line": outcome_line(key.market_type, key.line, selection) if key else None,
        "selection": selection,
        "selectionName": selection_name(state, event.market_id, selection) if key else selection,
        "direction": event.direction,
        "move": round(event.move, 3),
        "books": [
            {"bookmaker": m.book, "fromProbability": round(m.before, 6), "toProbability": round(m.after, 6),
             "from": _american(1.0 / m.before), "to": _american(1.0 / m.after), "at": ms(m.at)}
            for m in event.moves
        ],
        "sharpFirst": event.sharp_first,
        "firstBook": event.moves[0].book,
        "detectedAt": ms(event.detected_at),
    }


def sportsbooks(state: MarketState, active_bets: Mapping[str, int]) -> list[dict[str, Any]]:
    """``active_bets``: open bets per book, the ledger's count (the service keeps it)."""
    available = state.available_markets()
    out = []
    for book in sorted(state.known_books()):
        status = state.book_status(book)
        item: dict[str, Any] = {
            "id": book,
            "name": status.name if status else book,
            "status": status.status if status else "online",
            "responseTime": status.response_time_ms if status else 0,
            "lastUpdate": status.last_update_ms if status else 0,
            "availableMarkets": available.get(book, 0),
            "activeBets": active_bets.get(book, 0),
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
        "fairProbability": None if b.fair_probability is None else round(b.fair_probability, 6),
        "closingFairProbability": None if b.closing_fair_probability is None else round(b.closing_fair_probability, 6),
        "clv": None if b.clv is None else round(b.clv, 4),
        "side": b.side,
        "liability": float(from_cents(b.risk_cents)),
        "commission": float(from_cents(b.commission_cents)),
        "profit": None if b.payout_cents is None else float(from_cents(b.payout_cents - b.risk_cents)),
    }


def rule(r: Rule) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "minEdge": r.min_edge, "minEv": r.min_ev, "sports": list(r.sports),
            "bookmakers": list(r.bookmakers), "webhook": r.webhook_id, "mutedUntil": r.muted_until,
            "createdAt": r.created_at}


def webhook(w: Webhook) -> dict[str, Any]:
    """Never the secret: it was the caller's to keep."""
    return {"id": w.id, "url": w.url, "createdAt": w.created_at}


def delivery(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "deliveryId": d.delivery_id, "alertId": d.alert_id, "attempt": d.attempt,
            "status": d.status, "error": d.error, "at": d.at}


def subscriptions(sub: Subscription) -> dict[str, Any]:
    """The design document's five fields; the value and steam fields only once the socket used them, so seed
    clients see no change."""
    out: dict[str, Any] = {
        "sportsbooks": sorted(sub.sportsbooks),
        "markets": sorted(sub.markets),
        "arbitrage": bool(sub.arbitrage),
        "marketTypes": sorted(sub.market_types),
        "sports": sorted(sub.sports),
    }
    if sub.value or sub.middles or sub.min_ev is not None:
        out.update(value=bool(sub.value), middles=bool(sub.middles), minEv=sub.min_ev)
    if sub.steam:
        out["steam"] = True
    return out


class MarketFragments:
    """Each market's wire object and its JSON, built once per revision and shared by every frame and protocol.

    Entries are keyed by the market's revision in ``MarketState``, so a change
    (or a reset of the whole state) can never serve stale objects.  Nobody may
    mutate a returned object: the v2 stream keeps it as the market's last view.
    """

    def __init__(self, state: MarketState) -> None:
        self.state = state
        self._cache: dict[str, tuple[int, dict[str, Any], bytes | None]] = {}

    def view(self, market_id: str) -> dict[str, Any]:
        return self._entry(market_id)[1]

    def __call__(self, market_id: str) -> bytes:
        revision, view, encoded = self._entry(market_id)
        if encoded is None:
            encoded = orjson.dumps(view)
            self._cache[market_id] = (revision, view, encoded)
        return encoded

    def _entry(self, market_id: str) -> tuple[int, dict[str, Any], bytes | None]:
        revision = self.state.revision(market_id)
        cached = self._cache.get(market_id)
        if cached is not None and cached[0] == revision:
            return cached
        if len(self._cache) > 2 * self.state.market_count() + 1024:
            self._cache = {m: v for m, v in self._cache.items() if self.state.key(m) is not None}
        entry = self._cache[market_id] = (revision, market(self.state, market_id), None)
        return entry
