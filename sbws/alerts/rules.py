"""Which live items alert which rules, once: pure, tested without a server.

A rule matches an item of its kind when it is not muted, the item's edge
(arbitrage) or EV (value, middle) reaches the rule's minimum, its sport is
among the rule's sports and its books among the rule's bookmakers (any mover
for steam), each filter applying only when set.  A matching item alerts
once; it alerts again only after it closed and reopened, or when its edge or
EV improved by at least ``ALERT_STEP`` points over what was last alerted.
Steam moves are events: each alerts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from ..ledger.models import Rule

ALERT_STEP = 0.5
"""Percentage points of edge or EV an alerted item must gain to alert again."""
STEAM = "steam"


@frozen
class Candidate:
    kind: str
    item_id: str
    metric: float | None
    """Edge for arbitrage, EV for value and middles, None for steam (and for a middle without a model)."""
    sport: str | None
    books: tuple[str, ...]
    item: Mapping[str, Any]
    """The item as on the WebSocket."""


@frozen
class Match:
    rule: Rule
    candidate: Candidate


def matches(rule: Rule, c: Candidate, now_ms: int) -> bool:
    if rule.kind != c.kind or (rule.muted_until is not None and rule.muted_until > now_ms):
        return False
    for minimum in (rule.min_edge, rule.min_ev):
        if minimum is not None and (c.metric is None or c.metric < minimum):
            return False
    if rule.sports and c.sport not in rule.sports:
        return False
    if rule.bookmakers:
        wanted = set(rule.bookmakers)
        ok = not wanted.isdisjoint(c.books) if c.kind == STEAM else wanted.issuperset(c.books)
        if not ok:
            return False
    return True


class AlertBook:
    """What each rule was last alerted about, per live item."""

    def __init__(self) -> None:
        self.alerted: dict[tuple[str, str], float | None] = {}

    def evaluate(self, rules: Sequence[Rule], live: Mapping[str, Sequence[Candidate]], events: Iterable[Candidate],
                 now_ms: int) -> list[Match]:
        """``live``: every live item per kind (all kinds the rules use); ``events``: steam since the last call."""
        live_ids = {c.item_id for items in live.values() for c in items}
        rule_ids = {r.id for r in rules}
        self.alerted = {k: v for k, v in self.alerted.items() if k[0] in rule_ids and k[1] in live_ids}
        out: list[Match] = []
        fresh = list(events)
        for rule in rules:
            if rule.kind == STEAM:
                out.extend(Match(rule, c) for c in fresh if matches(rule, c, now_ms))
                continue
            for c in live.get(rule.kind, ()):
                if not matches(rule, c, now_ms):
                    continue
                key = (rule.id, c.item_id)
                if key in self.alerted:
                    before = self.alerted[key]
                    if before is None or c.metric is None or c.metric < before + ALERT_STEP:
                        continue
                self.alerted[key] = c.metric
                out.append(Match(rule, c))
        return out
