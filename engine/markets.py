"""Market identity: which quotes belong together.

A market is one event, one market type and one line.  Spreads are keyed by
the home side's handicap, so home -3.5 and away +3.5 are the two outcomes of
the same market and home -3.5 never pairs with away +4.  Totals pair Over x
with Under x.  Moneylines have no line; soccer moneylines have a Draw.
"""

from __future__ import annotations

import functools

from attrs import frozen

MONEYLINE = "moneyline"
SPREAD = "spread"
TOTAL = "total"
MARKET_TYPES = (MONEYLINE, SPREAD, TOTAL)

HOME, AWAY, DRAW, OVER, UNDER = "home", "away", "draw", "over", "under"

MAX_OUTCOMES = 3


def outcomes_for(market_type: str, three_way: bool = False) -> tuple[str, ...]:
    if market_type == MONEYLINE:
        return (HOME, DRAW, AWAY) if three_way else (HOME, AWAY)
    if market_type == SPREAD:
        return (HOME, AWAY)
    if market_type == TOTAL:
        return (OVER, UNDER)
    raise ValueError(f"unknown market type {market_type!r}")


def format_line(line: float | None) -> str:
    if line is None:
        return ""
    return f"{line:+g}" if line else "0"


def outcome_line(market_type: str, line: float | None, outcome: str) -> float | None:
    """The line as the bettor on one outcome sees it (away takes the opposite handicap)."""
    if line is None:
        return None
    if market_type == SPREAD and outcome == AWAY:
        return -line if line else 0.0
    return line


@frozen
class MarketKey:
    event_id: str
    market_type: str
    line: float | None = None
    three_way: bool = False

    @functools.cached_property
    def id(self) -> str:
        """Computed once per key (it is read on every scan and push)."""
        if self.line is None:
            return f"{self.event_id}:{self.market_type}"
        return f"{self.event_id}:{self.market_type}:{format_line(self.line)}"

    @property
    def outcomes(self) -> tuple[str, ...]:
        return outcomes_for(self.market_type, self.three_way)

