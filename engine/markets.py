"""Market identity: which quotes belong together.

A market is one event, one market type and one line.  Spreads are keyed by
the home side's handicap, so home -3.5 and away +3.5 are the two outcomes of
the same market and home -3.5 never pairs with away +4.  Totals pair Over x
with Under x.  Moneylines have no line; soccer moneylines have a Draw.

An outright ("who wins": a golf tournament, a league, a race's WIN market)
has no fixed outcomes: its runners are whoever any source prices, each known
by ``runner_id`` of its name, and ``winners`` of them win (a PLACE market
paying the first three has 3).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from attrs import field, frozen

MONEYLINE = "moneyline"
SPREAD = "spread"
TOTAL = "total"
OUTRIGHT = "outright"
MARKET_TYPES = (MONEYLINE, SPREAD, TOTAL, OUTRIGHT)

HOME, AWAY, DRAW, OVER, UNDER = "home", "away", "draw", "over", "under"

MAX_OUTCOMES = 3


MAX_RUNNER_ID = 48
"""The longest runner id (a selection id on the wire)."""

_FOLDED = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
                         "ı": "i", "&": " and "})
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def runner_id(name: str) -> str:
    """One id for a runner however a book spells it: "Ludvig Åberg", "LUDVIG ABERG" and "Ludvig  Aberg." are
    ``ludvig-aberg``.

    The rule: case-folded; letters with marks lose them (NFKD, combining marks dropped), and the letters that
    carry no decomposition are spelt out (ø o, ł l, ß ss, æ ae, œ oe, þ th, đ/ð d, & and); every run of anything
    but a-z and 0-9 becomes one hyphen, none at either end; at most ``MAX_RUNNER_ID`` characters.  A name with
    nothing left ("???") has no id: ``ValueError``.
    """
    folded = unicodedata.normalize("NFKD", name.casefold().translate(_FOLDED))
    plain = "".join(c for c in folded if not unicodedata.combining(c)).translate(_FOLDED)
    slug = _SEPARATORS.sub("-", plain).strip("-")[:MAX_RUNNER_ID].rstrip("-")
    if not slug:
        raise ValueError(f"runner name {name!r} has no letters or digits")
    return slug


def outcomes_for(market_type: str, three_way: bool = False) -> tuple[str, ...]:
    """The fixed outcomes of a market type; an outright has none (its runners come with its quotes)."""
    if market_type == OUTRIGHT:
        return ()
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


def _at_least_one(_: object, __: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"a market needs at least one winner, not {value!r}")


@frozen
class MarketKey:
    event_id: str
    market_type: str
    line: float | None = None
    three_way: bool = False
    winners: int = field(default=1, validator=_at_least_one)
    """How many outcomes win (more than one only in an outright: a place market)."""
    own_id: bool = False
    """The event id is the source's own market id (an exchange market, ``1.197931750``) and the market's id."""

    @functools.cached_property
    def id(self) -> str:
        """Computed once per key (it is read on every scan and push).  An outright paying k > 1 places ends in
        ``:top<k>``, so a race's WIN and PLACE markets are two markets."""
        if self.own_id:
            return self.event_id
        if self.market_type == OUTRIGHT:
            base = f"{self.event_id}:{OUTRIGHT}"
            return base if self.winners == 1 else f"{base}:top{self.winners}"
        if self.line is None:
            return f"{self.event_id}:{self.market_type}"
        return f"{self.event_id}:{self.market_type}:{format_line(self.line)}"

    @property
    def outright(self) -> bool:
        return self.market_type == OUTRIGHT

    @property
    def outcomes(self) -> tuple[str, ...]:
        return outcomes_for(self.market_type, self.three_way)

