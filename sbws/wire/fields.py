"""Every bounded request field's rule, once: read by the parsers (``commands``) and the API documents.

A rule is looked up by field name and request type; a request-specific rule
(``limit`` of ``get_bets``) wins over the field's general one.  The request
types are the WebSocket message types; REST operations map onto them
(``OPERATIONS``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from engine.board import BACK, SIDES
from engine.markets import MARKET_TYPES, SPREAD, TOTAL
from engine.matched import BET_TYPES, QUALIFYING

from ..history.series import DEFAULT_POINTS
from ..ledger.models import ALERT_KINDS, BET_STATUSES
from .limits import MAX_BANKROLL, MAX_BETS, MAX_EV, MAX_HISTORY_POINTS, MAX_MARKETS, MAX_MATCHED

MAX_EPOCH_MS = 2**53
"""Epoch milliseconds a JSON number holds exactly."""
MAX_AMERICAN = 1_000_000
"""American odds beyond ±1,000,000 are a typo."""
MIN_AMERICAN = 100
MIDDLE_TYPES = (SPREAD, TOTAL)
"""Middles exist on spreads and totals only."""


@frozen
class Rule:
    lo: float | None = None
    hi: float | None = None
    default: Any = None
    enum: tuple[str, ...] | None = None


_RULES: Mapping[tuple[str, str | None], Rule] = {
    ("limit", "get_markets"): Rule(1, MAX_MARKETS, 100),
    ("limit", "get_bets"): Rule(1, MAX_BETS, 50),
    ("limit", "get_matched"): Rule(1, MAX_MATCHED, 50),
    ("type", "get_matched"): Rule(enum=BET_TYPES, default=QUALIFYING),
    ("maxPoints", None): Rule(1, MAX_HISTORY_POINTS, DEFAULT_POINTS),
    ("from", None): Rule(0, MAX_EPOCH_MS),
    ("to", None): Rule(0, MAX_EPOCH_MS),
    ("mutedUntil", None): Rule(0, MAX_EPOCH_MS),
    ("minEv", None): Rule(-100.0, MAX_EV),
    ("bankroll", None): Rule(0.01, MAX_BANKROLL),
    ("odds", None): Rule(MIN_AMERICAN, MAX_AMERICAN),
    ("marketType", None): Rule(enum=MARKET_TYPES),
    ("marketType", "get_middles"): Rule(enum=MIDDLE_TYPES),
    ("marketTypes", None): Rule(enum=MARKET_TYPES),
    ("status", None): Rule(enum=BET_STATUSES),
    ("kind", None): Rule(enum=ALERT_KINDS),
    ("side", None): Rule(enum=SIDES, default=BACK),
}

OPERATIONS: Mapping[str, str] = {
    "listMarkets": "get_markets", "listArbitrage": "get_arbitrage", "listValue": "get_value",
    "listMiddles": "get_middles", "getHistory": "get_history", "getDutch": "get_dutch", "listMatched": "get_matched", "placeBet": "place_bet", "listBets": "get_bets",
    "createAlertRule": "create_alert_rule", "muteAlertRule": "mute_alert_rule", "createWebhook": "create_webhook",
}
"""REST operation ids and the request type whose rules they follow."""


def rule(name: str, request: str | None = None) -> Rule:
    """The rule of one field in one request (its general rule when the request has none of its own)."""
    found = _RULES.get((name, request)) or _RULES.get((name, None))
    if found is None:
        raise KeyError(f"no rule for {name!r}")
    return found

