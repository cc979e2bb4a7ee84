"""The alerting loop: live items against every user's rules, once a second, on the node that runs the feed.

Rules are read from the ledger every ``RULES_REFRESH`` seconds (and at once
after a change through this node's API), so a rule made on any node reaches
the leader.  Each alert is stored, pushed as ``alert`` to the owner's sockets
on every node, and handed to the rule's webhook, if any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog

from ..clock import SYSTEM, Clock
from ..ledger.alerts import new_id
from ..ledger.interface import Ledger
from ..ledger.models import AlertRecord, Rule, Webhook
from ..market.state import MarketState
from ..signals import KINDS
from .rules import STEAM, AlertBook, Candidate, Match
from .webhooks import Deliverer

log = structlog.get_logger("sbws.alerts")

RULES_REFRESH = 2.0
ALERT_INTERVAL = 1.0

Publish = Callable[[str, bytes], Awaitable[None]]
"""Send one frame to every socket of a user, on every node."""


def steam_candidate(item: dict[str, Any]) -> Candidate:
    return Candidate(STEAM, item["id"], None, item.get("sport"), tuple(b["bookmaker"] for b in item["books"]), item)


class Alerter:
    def __init__(self, state: MarketState, ledger: Ledger, deliverer: Deliverer, publish: Publish,
                 clock: Clock = SYSTEM) -> None:
        self.state = state
        self.clock = clock
        self.evaluations = 0
        """How many times the rules were evaluated (each ``tick`` with rules counts one)."""
        self.ledger = ledger
        self.deliverer = deliverer
        self.publish = publish
        self.rules: list[Rule] = []
        self.book = AlertBook()
        self.steam: list[Candidate] = []
        self.hooks: dict[str, Webhook] = {}

    async def reload(self) -> None:
        self.rules = await self.ledger.rules(None)

    def saw_steam(self, items: list[dict[str, Any]]) -> None:
        if any(r.kind == STEAM for r in self.rules):
            self.steam.extend(steam_candidate(i) for i in items)

    def candidates(self, kinds: set[str]) -> dict[str, list[Candidate]]:
        """Every live item of the signal kinds the rules watch, as candidates of their rule kind."""
        state, now = self.state, self.clock.time()
        live: dict[str, list[Candidate]] = {}
        for kind in KINDS:
            if kind.alert not in kinds:
                continue
            out = live[kind.alert] = []
            for item in state.found(kind.name, now).values():
                score = kind.finder.score(item.item)
                view = kind.view(state, item, now, None)
                out.append(Candidate(kind.alert, view["id"], None if score is None else round(score, 4),
                                     state.sport_of(kind.finder.markets(item.item)[0]), kind.finder.books(item.item),
                                     view))
        return live

    def tick(self) -> list[Match]:
        """Evaluate the rules now; the alerts are sent in the background by ``send``."""
        events, self.steam = self.steam, []
        if not self.rules:
            return []
        found = self.book.evaluate(self.rules, self.candidates({r.kind for r in self.rules}), events, self.clock.ms())
        self.evaluations += 1
        return found

    async def send(self, found: list[Match]) -> None:
        created = self.clock.ms()
        records: list[AlertRecord] = []
        outgoing: list[tuple[Rule, dict[str, Any]]] = []
        for match in found:
            alert: dict[str, Any] = {"id": new_id("alr"), "ruleId": match.rule.id, "kind": match.rule.kind,
                     "item": match.candidate.item, "createdAt": created}
            body = orjson.dumps(alert)
            records.append(AlertRecord(alert["id"], match.rule.id, match.rule.user_id, match.rule.kind,
                                       match.candidate.item_id, body, created))
            outgoing.append((match.rule, alert))
        try:
            await self.ledger.add_alerts(records)
        except Exception as exc:  # the ledger is down: still tell the user
            log.warning("alerts_not_stored", error=str(exc), alerts=len(records))
        for rule, alert in outgoing:
            log.info("alert", alert_id=alert["id"], rule_id=rule.id, user_id=rule.user_id, kind=rule.kind)
            message = orjson.dumps({"type": "alert", "alert": alert, "timestamp": self.clock.ms()})
            await self.publish(rule.user_id, message)
            if rule.webhook_id is not None:
                hook = self.hooks.get(rule.webhook_id) or await self.ledger.webhook(rule.webhook_id)
                if hook is not None:
                    self.hooks[hook.id] = hook
                    self.deliverer.enqueue(hook, alert["id"], message)
