"""The signal-kind table: every kind of live item the server finds, pushes, serves and alerts on.

One entry per kind names its finder (``market.finders``: the engine call and
the item's markets, books and score), how it travels (push type, list key,
the request that lists it, the subscribe flag), its view, which push cadence
it follows and its alert rule kind.  The market state, the fan-out, the
service and the alerter iterate this table; none of them names a kind.
Adding a kind: its engine function, its finder, one entry here, the docs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from attrs import frozen

from .market.finders import FINDERS
from .market.signals import Finder, Live, LiveSet
from .market.state import MarketState
from .wire import views
from .wire.commands import GetSignals, Subscription

ItemView = Callable[[MarketState, Live[Any], float, float | None], dict[str, Any]]
"""(state, live item, now, the request's amount) → the item as both doors show it; the amount is a value bet's
bankroll or an arbitrage's stake (``Kind.amount`` says which)."""

ARBITRAGE_CADENCE, VALUE_CADENCE = "arbitrage", "value"
"""Push timers: ``--arbitrage-interval`` and ``--value-interval``."""


@frozen
class Kind:
    finder: Finder
    push: str
    """The push and reply type (``arbitrage_update``)."""
    key: str
    """The list field of those messages (``opportunities``)."""
    query: str
    """The request that lists it (``get_arbitrage``; REST: ``/api/<name>``)."""
    alert: str
    """The alert rule kind that watches it."""
    cadence: str
    view: ItemView
    wanted: Callable[[Subscription], bool | None]
    threshold: Callable[[Subscription], float | None] = lambda sub: None
    """A subscription's minimum score for this kind's pushes (None: every item)."""
    amount: Callable[[GetSignals], float | None] = lambda q: None
    """The money figure of a listing request its view shows items for."""

    @property
    def name(self) -> str:
        """The market state's collection, and the ``subscribe`` flag that asks for its pushes."""
        return self.finder.name

    def rank(self, item: Any) -> float:
        score = self.finder.score(item)
        return -1e9 if score is None else score


_FINDER = {f.name: f for f in FINDERS}

KINDS: tuple[Kind, ...] = (
    Kind(finder=_FINDER["arbitrage"], push="arbitrage_update", key="opportunities", query="get_arbitrage",
         alert="arbitrage", cadence=ARBITRAGE_CADENCE,
         view=views.opportunity, wanted=lambda sub: sub.arbitrage, amount=lambda q: q.stake),
    Kind(finder=_FINDER["value"], push="value_update", key="value", query="get_value", alert="value",
         cadence=VALUE_CADENCE, view=views.value_bet, wanted=lambda sub: sub.value, threshold=lambda sub: sub.min_ev,
         amount=lambda q: q.bankroll),
    Kind(finder=_FINDER["middles"], push="middles_update", key="middles", query="get_middles", alert="middle",
         cadence=VALUE_CADENCE, view=lambda state, live, now, bankroll: views.middle(state, live, now),
         wanted=lambda sub: sub.middles),
)
"""In the order pushes and snapshots list them; one entry per finder of ``market.finders.FINDERS``."""
ARBITRAGE = KINDS[0]
BY_NAME: Mapping[str, Kind] = {k.name: k for k in KINDS}


def of_cadence(cadence: str) -> tuple[Kind, ...]:
    return tuple(k for k in KINDS if k.cadence == cadence)


def event_fields(state: MarketState, kind: Kind, item: Any) -> tuple[str, str | None, str]:
    """(event id, sport, market type) of an item, from its first market."""
    key = state.key(kind.finder.markets(item)[0])
    assert key is not None, "a live item's markets are on the board"
    return key.event_id, state.sport_of(key.id), key.market_type


def matches(kind: Kind, sub: Subscription, state: MarketState, item: Any) -> bool:
    """Whether a socket with this subscription gets the item pushed (docs/protocol.md, matching rules)."""
    if not kind.wanted(sub):
        return False
    threshold = kind.threshold(sub)
    if threshold is not None:
        score = kind.finder.score(item)
        if score is None or score < threshold:
            return False
    _event, sport, market_type = event_fields(state, kind, item)
    return item_matches(sub, kind.finder.markets(item), sport, market_type, kind.finder.books(item))


def item_matches(sub: Subscription, market_ids: Iterable[str], sport: str | None, market_type: str,
                 leg_books: Iterable[str]) -> bool:
    leg_books = list(leg_books)
    if sub.sportsbooks and not sub.sportsbooks.issuperset(leg_books):
        return False
    if not sub.markets.isdisjoint(market_ids):
        return True
    if not (sub.sports or sub.market_types) and sub.markets and not sub.sportsbooks:
        return False
    if sub.sports and sport not in sub.sports:
        return False
    return not sub.market_types or market_type in sub.market_types


def ranked(kind: Kind, live: LiveSet[Any]) -> list[tuple[str, Live[Any]]]:
    """Best first (highest edge or EV; items without a score last)."""
    return sorted(live.items.items(), key=lambda kv: -kind.rank(kv[1].item))


def encoded(kind: Kind, state: MarketState, live: LiveSet[Any], now: float) -> dict[str, bytes]:
    """Every live item's JSON, encoded once for all the frames that carry it."""
    return {i: orjson.dumps(kind.view(state, item, now, None)) for i, item in live.items.items()}


def selected(kind: Kind, state: MarketState, live: LiveSet[Any], request: GetSignals) -> list[Live[Any]]:
    """The live items a request's filters keep, best first."""
    out = []
    q = request.filter
    for _i, item in ranked(kind, live):
        score = kind.finder.score(item.item)
        if request.min_score is not None and (score is None or score < request.min_score):
            continue
        if q.bookmaker and q.bookmaker not in kind.finder.books(item.item):
            continue
        event_id, sport, market_type = event_fields(state, kind, item.item)
        if q.admits(event_id, sport, None, market_type):
            out.append(item)
    return out
