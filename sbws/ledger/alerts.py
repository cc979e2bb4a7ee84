"""Rows of the alert tables to models and back, for both stores."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import orjson

from ..clock import now_ms
from .models import Delivery, NewRule, PendingDelivery, Rule, Webhook


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def rule_row(new: NewRule) -> tuple[Any, ...]:
    return (new_id("rule"), new.user_id, new.kind, new.min_edge, new.min_ev, orjson.dumps(list(new.sports)).decode(),
            orjson.dumps(list(new.bookmakers)).decode(), new.webhook_id, None, now_ms())


def rule(row: Sequence[Any]) -> Rule:
    rid, user, kind, min_edge, min_ev, sports, books, hook, muted, created = row
    return Rule(rid, user, kind, min_edge, min_ev, tuple(orjson.loads(sports)), tuple(orjson.loads(books)), hook,
                muted, created)


def webhook(row: Sequence[Any]) -> Webhook:
    return Webhook(*row)


def delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(*row)


def pending(row: Sequence[Any]) -> PendingDelivery:
    delivery_id, webhook_id, user_id, alert_id, body, attempts, created_at = row
    return PendingDelivery(delivery_id, webhook_id, user_id, alert_id, bytes(body), attempts, created_at)
