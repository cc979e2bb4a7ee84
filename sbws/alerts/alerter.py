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
from .webhooks import Deliverer, Job

log = structlog.get_logger("sbws.alerts")

RULES_REFRESH = 2.0
ALERT_INTERVAL = 1.0
ALERT_CHUNK = 100
"""Alerts stored per background write: a bet waits at most for one chunk."""

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
        """Store the alerts (and the webhook deliveries they start) in chunks of background writes, then push
        each to its owner and hand its delivery to the webhook workers."""
        created = self.clock.ms()
        for start in range(0, len(found), ALERT_CHUNK):
            await self._send(found[start:start + ALERT_CHUNK], created)

    async def _send(self, found: list[Match], created: int) -> None:
        records: list[AlertRecord] = []
        outgoing: list[tuple[Rule, dict[str, Any], bytes]] = []
        jobs: list[Job] = []
        for match in found:
            alert: dict[str, Any] = {"id": new_id("alr"), "ruleId": match.rule.id, "kind": match.rule.kind,
                                     "item": match.candidate.item, "createdAt": created}
            records.append(AlertRecord(alert["id"], match.rule.id, match.rule.user_id, match.rule.kind,
                                       match.candidate.item_id, orjson.dumps(alert), created))
            message = orjson.dumps({"type": "alert", "alert": alert, "timestamp": created})
            outgoing.append((match.rule, alert, message))
            hook = await self._webhook(match.rule)
            job = None if hook is None else self.deliverer.admit(hook, alert["id"], message, created)
            if job is not None:
                jobs.append(job)
        try:
            await self.ledger.add_alerts(records, [job.pending() for job in jobs])
            stored = True
        except Exception as exc:  # the ledger is down or busy: still tell the user, and still deliver
            log.warning("alerts_not_stored", error=str(exc), alerts=len(records))
            stored = False
        for rule, alert, message in outgoing:
            log.info("alert", alert_id=alert["id"], rule_id=rule.id, user_id=rule.user_id, kind=rule.kind)
            await self.publish(rule.user_id, message)
        for job in jobs:
            self.deliverer.enqueue(job, stored)

    async def _webhook(self, rule: Rule) -> Webhook | None:
        if rule.webhook_id is None:
            return None
        try:
            hook = self.hooks.get(rule.webhook_id) or await self.ledger.webhook(rule.webhook_id)
        except Exception as exc:  # the ledger is down: the alert is still pushed, its delivery is not
            log.warning("webhook_unreadable", webhook_id=rule.webhook_id, error=str(exc))
            return None
        if hook is not None:
            self.hooks[hook.id] = hook
        return hook
