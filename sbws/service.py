"""The operations behind both the WebSocket and the REST API.

Handlers parse with ``wire.commands`` and call these; nothing here knows about
sockets or HTTP.  Bets go through one path whichever door they came in by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from decimal import Decimal

from engine.board import BACK, LAY
from engine.odds import exact_price, to_american_int
from engine.runners import dutch

from .clock import SYSTEM, Clock
from .errors import BAD_REQUEST, CONFLICT, NOT_FOUND, TOO_MANY, UNAUTHORIZED, ProtocolError
from . import signals
from .history import series
from .history.factory import History
from .history.series import DEFAULT_SPAN_MS, downsample, outcome_names
from .ledger.interface import Ledger
from .ledger.models import PLACED, Bet, Identity, NewBet, NewRule
from .ledger.rules import from_cents, liability_cents, same_request, to_cents
from .market.records import EventResult
from .market.state import MarketState
from .wire import views
from .wire.limits import MAX_BETS, MAX_REPLY_POINTS, Limits
from .wire.commands import (AlertRuleSpec, GetBets, GetDutch, GetExposure, GetHistory, GetMarkets, GetMatched, GetSignals,
                            PlaceBet,
                            WebhookSpec)


RECENT_ALERTS = 50
RECENT_DELIVERIES = 100


def _hold_at_most(hold: float | None, limit: float) -> bool:
    """A market with a price missing for some outcome has no hold, and passes no hold filter."""
    return hold is not None and hold <= limit


def _retried(original: Bet, cmd: PlaceBet) -> Bet:
    """The original bet when ``cmd`` repeats its request; a different request under its clientRef is refused."""
    if not same_request(original, cmd.market_id, cmd.selection_id, cmd.bookmaker, to_cents(cmd.stake), cmd.requested,
                        cmd.side):
        raise ProtocolError(
            CONFLICT, f"clientRef {cmd.client_ref!r} was already used for a different bet ({original.id})",
            "clientRef", reason="clientRef reused", betId=original.id,
        )
    return original


class Service:
    def __init__(self, state: MarketState, fragments: views.MarketFragments, ledger: Ledger, history: History,
                 feed_healthy: Callable[[], bool], live_betting: bool = False, max_bet_quote_age: float = 0.0,
                 clock: Clock = SYSTEM, max_alert_rules: int = 50, max_webhooks: int = 10,
                 limits: Limits = Limits(), discounts: Mapping[str, float] | None = None) -> None:
        self.state = state
        self.discounts = discounts or {}
        """Per exchange, the bettor's discount on its commission (``--commission-discount``)."""
        self.limits = limits
        """The stake limits, which also bound a lay's liability."""
        self.clock = clock
        self.max_alert_rules = max_alert_rules
        self.max_webhooks = max_webhooks
        self.fragments = fragments
        self.ledger = ledger
        self.history_store = history
        self.feed_healthy = feed_healthy
        """Whether the feed delivers (bets are refused while it does not; /readyz says the same)."""
        self.live_betting = live_betting
        self.max_bet_quote_age = max_bet_quote_age
        self.active_bets: dict[str, int] = {}
        """Open bets per sportsbook: the ledger's numbers, so a market reset keeps them."""

    def markets(self, q: GetMarkets) -> dict[str, Any]:
        state, f = self.state, q.filter
        chosen: list[str] = []
        total = 0
        ids = state.event_market_ids(f.event_id) if f.event_id else state.market_ids()
        for market_id in sorted(ids):
            key = state.key(market_id)
            event = state.event_of(market_id)
            if key is None or not f.admits(key.event_id, event.sport if event else None,
                                           event.league if event else None, key.market_type):
                continue
            if f.bookmaker and f.bookmaker not in state.market_books(market_id):
                continue
            if q.max_hold is not None and not _hold_at_most(state.hold(market_id), q.max_hold):
                continue
            total += 1
            if len(chosen) < q.limit:
                chosen.append(market_id)
        return {"markets": [orjson.Fragment(self.fragments(m)) for m in chosen], "total": total, "timestamp": self.clock.ms()}

    def market(self, market_id: str) -> bytes:
        if self.state.key(market_id) is None:
            raise ProtocolError(NOT_FOUND, f"unknown market {market_id!r}", "marketId")
        return self.fragments(market_id)

    def dutch(self, q: GetDutch) -> dict[str, Any]:
        """Stakes over the chosen selections at their best prices now (after commission), returning the same
        whichever wins; each stake to the cent."""
        state = self.state
        key = state.key(q.market_id)
        if key is None:
            raise ProtocolError(NOT_FOUND, f"unknown market {q.market_id!r}", "marketId")
        outcomes = state.outcomes(q.market_id)
        unknown = [s for s in q.selections if s not in outcomes]
        if unknown:
            raise ProtocolError(NOT_FOUND, f"{q.market_id!r} has no selection {unknown[0]!r}; it has "
                                f"{listed(outcomes)}", "selections")
        if not state.is_open(q.market_id):
            raise ProtocolError(CONFLICT, "market is closed", "marketId")
        view, keep = state.view(q.market_id), state.config.commission
        chosen = []
        for selection in q.selections:
            quotes = [(1.0 + (price - 1.0) * (1.0 - keep.get(book, 0.0)), book, price, american)
                      for book, price, american in view.selections[outcomes.index(selection)].prices]
            if not quotes:
                raise ProtocolError(CONFLICT, f"no book prices {selection!r} now", "selections")
            effective, book, price, american = max(quotes, key=lambda quote: quote[0])
            chosen.append((selection, book, price, american, effective))
        split = dutch([c[4] for c in chosen], float(q.stake))
        legs = []
        for (selection, book, price, american, effective), stake in zip(chosen, split.stakes):
            cents = from_cents(to_cents(Decimal(repr(stake))))
            legs.append({"selection": selection, "selectionName": view.selections[outcomes.index(selection)].name,
                         "bookmaker": book, "odds": american, "decimal": price, "effectiveDecimal": round(effective, 6),
                         "stake": float(cents), "returns": round(float(cents) * effective, 2)})
        return {"marketId": q.market_id, "stake": float(q.stake), "selections": legs,
                "returns": round(split.returns, 2), "profit": round(split.profit, 2), "timestamp": self.clock.ms()}

    def matched(self, q: GetMatched) -> dict[str, Any]:
        """Matched betting over every selection an exchange lays (``get_matched``, ``/api/matched``)."""
        state = self.state
        found = [(m, match) for m, match in state.matched(q.bet_type, float(q.stake), self.clock.time())
                 if (q.market_id is None or m == q.market_id) and (q.sport is None or state.sport_of(m) == q.sport)]
        return {"betType": q.bet_type, "stake": float(q.stake),
                "selections": [views.matched(state, m, match) for m, match in found[: q.limit]],
                "total": len(found), "timestamp": self.clock.ms()}

    def signals(self, q: GetSignals) -> dict[str, Any]:
        """One kind's live items that the request's filters keep, best first, as both doors list them."""
        kind = signals.BY_NAME[q.kind]
        now = self.clock.time()
        found = signals.selected(kind, self.state, self.state.found(kind.name, now), q)
        out = [kind.view(self.state, live, now, kind.amount(q)) for live in found]
        return {kind.key: out, "total": len(out), "timestamp": self.clock.ms()}

    async def history(self, q: GetHistory) -> dict[str, Any]:
        """A market's price history, per selection and book, downsampled to ``maxPoints`` per series."""
        hi = q.to_ms if q.to_ms is not None else self.clock.ms()
        lo = q.from_ms if q.from_ms is not None else max(0, hi - DEFAULT_SPAN_MS)
        found, opening, current, steam = await self.history_store.query(q.market_id, q.bookmaker, lo, hi,
                                                                        q.max_points, MAX_REPLY_POINTS)
        key = self.state.key(q.market_id)
        if key is None and not (found or opening or current):
            raise ProtocolError(NOT_FOUND, f"no market {q.market_id!r} and no history of it", "marketId")
        highest = max((k.outcome for k in (*found, *opening, *current)), default=0)
        names = self.state.outcomes(q.market_id) if key is not None else outcome_names(q.market_id, highest)
        if q.selection is not None:
            if q.selection not in names:
                raise ProtocolError(NOT_FOUND, f"{q.market_id!r} has no selection {q.selection!r}; it has "
                                    f"{listed(names)}", "selection")
            wanted = names.index(q.selection)
            found = {k: v for k, v in found.items() if k.outcome == wanted}
            opening = {k: v for k, v in opening.items() if k.outcome == wanted}
            current = {k: v for k, v in current.items() if k.outcome == wanted}
        per_series = max(1, min(q.max_points, MAX_REPLY_POINTS // max(1, len(found))))

        def build() -> dict[str, Any]:  # off the loop: a long history costs the event loop nothing
            sampled = {k: downsample(points, lo, hi, per_series) for k, points in found.items()}
            return series.reply(q.market_id, names, sampled, opening, current, [orjson.Fragment(b) for b in steam],
                                lo, hi)

        body = await asyncio.get_running_loop().run_in_executor(None, build)
        return {**body, "sharpBooks": list(self.state.value_config.sharp), "timestamp": self.clock.ms()}

    async def identity(self, token: str | None) -> Identity | None:
        if not token:
            return None
        return await self.ledger.verify_token(token)

    async def place_bet(self, who: Identity | None, cmd: PlaceBet) -> tuple[Bet, bool]:
        if who is None:
            raise ProtocolError(UNAUTHORIZED, "Authentication required")
        if not await self.ledger.token_active(who.token_id):
            raise ProtocolError(UNAUTHORIZED, "token revoked")
        if cmd.client_ref is not None:
            # A retry of an acknowledged bet gets the original back whatever happened to the market since.
            existing = await self.ledger.find_by_client_ref(who.user_id, cmd.client_ref)
            if existing is not None:
                return _retried(existing, cmd), True
        state = self.state
        key = state.key(cmd.market_id)
        if key is None:
            raise ProtocolError(NOT_FOUND, f"unknown market {cmd.market_id!r}", "marketId")
        outcomes = state.outcomes(cmd.market_id)
        if cmd.selection_id not in outcomes:
            raise ProtocolError(
                NOT_FOUND, f"unknown selection {cmd.selection_id!r}; expected one of {listed(outcomes)}", "selectionId",
            )
        if cmd.bookmaker not in state.known_books():
            raise ProtocolError(NOT_FOUND, f"unknown sportsbook {cmd.bookmaker!r}", "bookmaker")
        if not state.is_open(cmd.market_id):
            raise ProtocolError(CONFLICT, "market is closed", "marketId")
        if state.suspended(cmd.market_id):
            raise ProtocolError(CONFLICT, "market is suspended", "marketId", reason="suspended", retryable=True)
        event = state.event_of(cmd.market_id)
        if event is not None and not self.live_betting and event.start_ms <= self.clock.ms():
            raise ProtocolError(CONFLICT, "event has started; live betting is disabled", "marketId")
        outcome = outcomes.index(cmd.selection_id)
        lay = cmd.side == LAY
        price = state.price(cmd.market_id, outcome, cmd.bookmaker, cmd.side)
        if price is None:
            doing = "lay" if lay else "offer"
            raise ProtocolError(CONFLICT, f"{cmd.bookmaker} does not {doing} this selection now", "bookmaker")
        self._check_fresh(cmd.market_id, outcome, cmd.bookmaker, cmd.side)
        current = exact_price(price)
        # Price protection on exact prices, never on rounded ones: a back at no less than asked, a lay at no more.
        if (current.value > cmd.requested) if lay else (current.value < cmd.requested):
            detail: dict[str, object] = {"currentOdds": current.american, "currentDecimal": float(current.value)}
            if cmd.odds is not None:
                detail["requestedOdds"] = cmd.odds
            if cmd.decimal is not None:
                detail["requestedDecimal"] = float(cmd.decimal)
            raise ProtocolError(CONFLICT, "odds moved against you", "decimal" if cmd.odds is None else "odds", **detail)
        stake = to_cents(cmd.stake)
        liability = liability_cents(stake, current.american, current.decimal) if lay else None
        if liability is not None and not to_cents(self.limits.min_stake) <= liability <= to_cents(self.limits.max_stake):
            raise ProtocolError(BAD_REQUEST, f"the lay's liability {from_cents(liability)} is outside the stake limits "
                                f"({self.limits.min_stake} to {self.limits.max_stake})", "stake",
                                liability=float(from_cents(liability)))
        new = NewBet(
            user_id=who.user_id,
            client_ref=cmd.client_ref,
            market_id=cmd.market_id,
            event_id=key.event_id,
            market_type=key.market_type,
            line=key.line,
            three_way=key.three_way,
            winners=key.winners,
            selection_id=cmd.selection_id,
            bookmaker=cmd.bookmaker,
            stake_cents=stake,
            side=cmd.side,
            liability_cents=liability,
            odds=current.american,
            requested_odds=cmd.odds if cmd.odds is not None else to_american_int(float(cmd.requested)),
            notes=cmd.notes,
            price=current.decimal,
            requested_price=str(cmd.decimal) if cmd.decimal is not None else None,
            fair_probability=fair.p[outcome] if (fair := state.fair_line(cmd.market_id)) is not None else None,
        )
        bet, duplicate = await self.ledger.place_bet(new)
        if duplicate:  # a concurrent request with the same clientRef won the insert
            return _retried(bet, cmd), True
        self.active_bets[bet.bookmaker] = self.active_bets.get(bet.bookmaker, 0) + 1
        return bet, False

    def _check_fresh(self, market_id: str, outcome: int, bookmaker: str, side: str = BACK) -> None:
        """No bet at a price the feed no longer stands by: the feed is down, or the quote is too old."""
        if not self.feed_healthy():
            raise ProtocolError(CONFLICT, "the odds feed is not delivering; bets are refused until it recovers",
                                "marketId", reason="stale", retryable=True)
        confirmed = self.state.confirmed_at(market_id, outcome, bookmaker, side)
        if self.max_bet_quote_age > 0 and confirmed is not None:
            age = self.clock.time() - confirmed
            if age > self.max_bet_quote_age:
                raise ProtocolError(
                    CONFLICT, f"{bookmaker}'s price was last confirmed {age:.0f} s ago (limit {self.max_bet_quote_age:g} s)",
                    "bookmaker", reason="stale", quoteAge=round(age, 1), retryable=True,
                )

    async def exposure(self, who: Identity | None, q: GetExposure) -> dict[str, Any]:
        """The caller's profit if each selection of a market wins, from their open bets there (backs and lays,
        before any commission), and the worst case.  One winner: in a place market each line is that runner
        finishing placed while the others do not."""
        if who is None:
            raise ProtocolError(UNAUTHORIZED, "Authentication required")
        bets = await self.ledger.get_bets(who.user_id, PLACED, None, q.market_id, None, None, MAX_BETS)
        known = self.state.outcomes(q.market_id)
        if not known and not bets:
            raise ProtocolError(NOT_FOUND, f"unknown market {q.market_id!r} and no open bet on it", "marketId")
        selections = list(known) + sorted({b.selection_id for b in bets} - set(known))
        lines, outcomes = [], []
        for selection in selections:
            cents = 0
            for b in bets:
                wins = b.selection_id == selection
                if b.side == LAY:
                    cents += -b.risk_cents if wins else b.stake_cents
                else:
                    cents += b.potential_payout_cents - b.stake_cents if wins else -b.stake_cents
            name = self.state.selection_name(q.market_id, selection) if known else selection
            lines.append({"selection": selection, "selectionName": name, "ifWins": float(from_cents(cents))})
            outcomes.append(cents)
        worst = float(from_cents(min(outcomes, default=0)))
        return {"marketId": q.market_id, "selections": lines, "worstCase": worst, "bets": len(bets),
                "timestamp": self.clock.ms()}

    async def bets(self, who: Identity | None, q: GetBets) -> dict[str, Any]:
        """The user's bets as both doors answer them, with their average CLV over every bet that has one."""
        if who is None:
            raise ProtocolError(UNAUTHORIZED, "Authentication required")
        bets = await self.ledger.get_bets(who.user_id, q.status, q.bookmaker, q.market_id, q.from_ms, q.to_ms, q.limit)
        count, mean = await self.ledger.clv_summary(who.user_id)
        return {
            "bets": [views.bet(b) for b in bets], "total": len(bets),
            "clv": {"bets": count, "average": None if mean is None else round(mean, 4)}, "timestamp": self.clock.ms(),
        }

    # -- alert rules and webhooks (a token required; each user sees only their own) -----------------
    async def create_rule(self, who: Identity, spec: AlertRuleSpec) -> dict[str, Any]:
        if spec.webhook is not None:
            hook = await self.ledger.webhook(spec.webhook)
            if hook is None or hook.user_id != who.user_id:
                raise ProtocolError(NOT_FOUND, f"unknown webhook {spec.webhook!r}", "webhook")
        rule = await self.ledger.add_rule(NewRule(who.user_id, spec.kind, spec.min_edge, spec.min_ev, spec.sports,
                                                  spec.bookmakers, spec.webhook), self.max_alert_rules)
        if rule is None:
            raise ProtocolError(TOO_MANY, f"at most {self.max_alert_rules} alert rules per user; delete one first",
                                reason="limit", limit=self.max_alert_rules)
        return {"rule": views.rule(rule)}

    async def alerts(self, who: Identity) -> dict[str, Any]:
        rules = await self.ledger.rules(who.user_id)
        recent = await self.ledger.recent_alerts(who.user_id, RECENT_ALERTS)
        return {"rules": [views.rule(r) for r in rules], "recent": [orjson.Fragment(b) for b in recent],
                "timestamp": self.clock.ms()}

    async def delete_rule(self, who: Identity, rule_id: str) -> None:
        if not await self.ledger.delete_rule(who.user_id, rule_id):
            raise ProtocolError(NOT_FOUND, f"unknown alert rule {rule_id!r}", "id")

    async def mute_rule(self, who: Identity, rule_id: str, until: int | None) -> dict[str, Any]:
        rule = await self.ledger.mute_rule(who.user_id, rule_id, until)
        if rule is None:
            raise ProtocolError(NOT_FOUND, f"unknown alert rule {rule_id!r}", "id")
        return {"rule": views.rule(rule)}

    async def create_webhook(self, who: Identity, spec: WebhookSpec) -> dict[str, Any]:
        hook = await self.ledger.add_webhook(who.user_id, spec.url, spec.secret, self.max_webhooks)
        if hook is None:
            raise ProtocolError(TOO_MANY, f"at most {self.max_webhooks} webhooks per user", reason="limit",
                                limit=self.max_webhooks)
        return {"webhook": views.webhook(hook)}

    async def webhooks(self, who: Identity) -> dict[str, Any]:
        return {"webhooks": [views.webhook(w) for w in await self.ledger.webhooks(who.user_id)]}

    async def deliveries(self, who: Identity, webhook_id: str) -> dict[str, Any]:
        hook = await self.ledger.webhook(webhook_id)
        if hook is None or hook.user_id != who.user_id:
            raise ProtocolError(NOT_FOUND, f"unknown webhook {webhook_id!r}", "id")
        found = await self.ledger.deliveries(who.user_id, webhook_id, RECENT_DELIVERIES)
        return {"deliveries": [views.delivery(d) for d in found], "total": len(found)}

    async def settle(self, result: EventResult) -> list[Bet]:
        """Settle an event's bets; the exchanges' commission (``--commission``) on each bettor's net winnings per
        market is taken off the winners."""
        rates = {book: Decimal(repr(rate)) for book, rate in self.state.config.commission.items()}  # discounted
        rates.update((book, Decimal(repr(rate)) * (1 - Decimal(repr(self.discounts.get(book, 0.0)))))
                     for book, rate in result.commission)  # the source's own rate, with the bettor's discount
        settled = await self.ledger.settle_event(result.event_id, result.home_score, result.away_score, result.placing,
                                                 rates)
        if settled:
            await self.refresh_active_bets()
        return settled

    async def refresh_active_bets(self) -> None:
        """Open bets per sportsbook, as the ledger counts them (the dict is shared with the sportsbooks push)."""
        counts = await self.ledger.active_bets_by_book()
        self.active_bets.clear()
        self.active_bets.update(counts)


def listed(selections: tuple[str, ...], most: int = 10) -> str:
    """Selection ids for an error message: an outright's 150 runners end in "… (150 in all)"."""
    shown = ", ".join(selections[:most])
    return shown if len(selections) <= most else f"{shown}, … ({len(selections)} in all)"
