"""The ledger: every operation of ``plans`` behind typed methods, over whichever driver ``--db`` chose.

The logic lives once, in ``plans``; a driver (``sqlite.AsyncSqliteDriver`` or
``postgres.PgDriver``) only runs plans, so the two stores cannot drift.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from . import plans
from .models import AlertRecord, Bet, Delivery, Identity, NewBet, NewRule, PendingDelivery, Rule, Webhook
from .plans import Plan

T = TypeVar("T")


class Driver(Protocol):
    async def run(self, plan: Plan[T]) -> T: ...

    async def writable(self) -> bool:
        """A real committed write passes (a full disk or a read-only file fails it, where a read would pass)."""
        ...

    async def close(self) -> None: ...


class Ledger:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    async def add_user(self, username: str) -> str:
        return await self.driver.run(plans.add_user(username))

    async def list_users(self) -> list[dict[str, Any]]:
        return await self.driver.run(plans.list_users())

    async def issue_token(self, username: str, expires_at: int | None = None) -> tuple[str, str]:
        return await self.driver.run(plans.issue_token(username, expires_at))

    async def revoke_token(self, token_id: str) -> bool:
        return await self.driver.run(plans.revoke_token(token_id))

    async def verify_token(self, token: str) -> Identity | None:
        return await self.driver.run(plans.verify_token(token))

    async def trusted_identity(self, user_id: str | None, username: str) -> Identity | None:
        return await self.driver.run(plans.trusted_identity(user_id, username))

    async def token_active(self, token_id: str) -> bool:
        return token_id not in await self.inactive_tokens([token_id])

    async def inactive_tokens(self, token_ids: Collection[str]) -> dict[str, str]:
        return await self.driver.run(plans.inactive_tokens(token_ids))

    async def place_bet(self, new: NewBet) -> tuple[Bet, bool]:
        return await self.driver.run(plans.place_bet(new))

    async def find_by_client_ref(self, user_id: str, client_ref: str) -> Bet | None:
        return await self.driver.run(plans.find_by_client_ref(user_id, client_ref))

    async def get_bets(self, user_id: str, status: str | None, bookmaker: str | None, market_id: str | None,
                       from_ms: int | None, to_ms: int | None, limit: int) -> list[Bet]:
        return await self.driver.run(plans.get_bets(user_id, status, bookmaker, market_id, from_ms, to_ms, limit))

    async def settle_event(self, event_id: str, home: int, away: int, placing: tuple[str, ...] = (),
                           commission: Mapping[str, Decimal] | None = None) -> list[Bet]:
        return await self.driver.run(plans.settle_event(event_id, home, away, placing, commission))

    async def record_closing(self, event_id: str, closing: Mapping[tuple[str, str], float]) -> list[Bet]:
        return await self.driver.run(plans.record_closing(event_id, closing))

    async def clv_summary(self, user_id: str) -> tuple[int, float | None]:
        return await self.driver.run(plans.clv_summary(user_id))

    async def add_webhook(self, user_id: str, url: str, secret: str, limit: int) -> Webhook | None:
        return await self.driver.run(plans.add_webhook(user_id, url, secret, limit))

    async def webhook(self, webhook_id: str) -> Webhook | None:
        return await self.driver.run(plans.webhook(webhook_id))

    async def webhooks(self, user_id: str) -> list[Webhook]:
        return await self.driver.run(plans.webhooks(user_id))

    async def add_rule(self, new: NewRule, limit: int) -> Rule | None:
        return await self.driver.run(plans.add_rule(new, limit))

    async def prune_alerts(self, before_ms: int) -> int:
        return await self.driver.run(plans.prune_alerts(before_ms))

    async def rules(self, user_id: str | None) -> list[Rule]:
        return await self.driver.run(plans.rules(user_id))

    async def delete_rule(self, user_id: str, rule_id: str) -> bool:
        return await self.driver.run(plans.delete_rule(user_id, rule_id))

    async def mute_rule(self, user_id: str, rule_id: str, until: int | None) -> Rule | None:
        return await self.driver.run(plans.mute_rule(user_id, rule_id, until))

    async def add_alerts(self, records: Sequence[AlertRecord], outbox: Sequence[PendingDelivery] = ()) -> None:
        await self.driver.run(plans.add_alerts(records, outbox))

    async def recent_alerts(self, user_id: str, limit: int) -> list[bytes]:
        return await self.driver.run(plans.recent_alerts(user_id, limit))

    async def add_delivery(self, d: Delivery, final: bool) -> None:
        await self.driver.run(plans.add_delivery(d, final))

    async def pending_deliveries(self, limit: int) -> list[PendingDelivery]:
        return await self.driver.run(plans.pending_deliveries(limit))

    async def deliveries(self, user_id: str, webhook_id: str, limit: int) -> list[Delivery]:
        return await self.driver.run(plans.deliveries(user_id, webhook_id, limit))

    async def active_bets_by_book(self) -> dict[str, int]:
        return await self.driver.run(plans.active_bets_by_book())

    async def writable(self) -> bool:
        return await self.driver.writable()

    async def close(self) -> None:
        await self.driver.close()
