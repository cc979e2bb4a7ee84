"""The same ledger rules on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import time

import pytest

from sbws.errors import LedgerError
from sbws.ledger.models import NewBet
from sbws.ledger.factory import open_ledger
from tests.services import POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
async def ledger(request, tmp_path):
    if request.param == "sqlite":
        store = await open_ledger(str(tmp_path / "l.db"))
        yield store
        await store.close()
        return
    dsn = await POSTGRES.new_database()
    store = await open_ledger(dsn)
    yield store
    await store.close()
    await POSTGRES.drop(dsn)


def new_bet(user_id, ref=None, **over):
    base = dict(user_id=user_id, client_ref=ref, market_id="ev:spread:-3.5", event_id="ev", market_type="spread",
                line=-3.5, three_way=False, selection_id="home", bookmaker="pinnacle", stake_cents=10000, odds=-110,
                requested_odds=-110, notes="")
    base.update(over)
    return NewBet(**base)


async def test_users_and_tokens(ledger):
    user_id = await ledger.add_user("alice")
    with pytest.raises(LedgerError):
        await ledger.add_user("alice")
    token_id, token = await ledger.issue_token("alice")
    who = await ledger.verify_token(token)
    assert who is not None and who.user_id == user_id and who.username == "alice"
    assert await ledger.verify_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert await ledger.verify_token("garbage") is None
    assert await ledger.revoke_token(token_id) and not await ledger.revoke_token(token_id)
    assert await ledger.verify_token(token) is None and not await ledger.token_active(token_id)
    assert [u["username"] for u in await ledger.list_users()] == ["alice"]


async def test_token_expiry_and_inactive_tokens(ledger):
    await ledger.add_user("carol")
    now = int(time.time() * 1000)
    live_id, live = await ledger.issue_token("carol", now + 60_000)
    old_id, old = await ledger.issue_token("carol", now - 1)
    gone_id, _ = await ledger.issue_token("carol")
    await ledger.revoke_token(gone_id)
    assert await ledger.verify_token(live) is not None and await ledger.token_active(live_id)
    assert await ledger.verify_token(old) is None and not await ledger.token_active(old_id)
    assert await ledger.inactive_tokens({live_id, old_id, gone_id, "tok_unknown", ""}) == {
        old_id: "token expired", gone_id: "token revoked", "tok_unknown": "token revoked",
    }
    assert await ledger.token_active("")  # --trust-user-id identities have no token


async def test_bets_exactly_once_under_concurrency(ledger):
    user_id = await ledger.add_user("bob")
    results = await asyncio.gather(*(ledger.place_bet(new_bet(user_id, "same")) for _ in range(20)))
    assert len({bet.id for bet, _ in results}) == 1
    assert sorted(dup for _, dup in results) == [False] + [True] * 19
    bet, _ = results[0]
    assert bet.potential_payout_cents == 19091 and bet.status == "placed"
    other, dup = await ledger.place_bet(new_bet(user_id, None))
    assert not dup and other.id != bet.id
    assert await ledger.active_bets_by_book() == {"pinnacle": 2}


async def test_settlement_and_filters(ledger):
    user_id = await ledger.add_user("carol")
    home, _ = await ledger.place_bet(new_bet(user_id, "h"))
    away, _ = await ledger.place_bet(new_bet(user_id, "a", selection_id="away", bookmaker="draftkings", odds=150))
    settled = {b.id: b for b in await ledger.settle_event("ev", 100, 98)}  # home wins by 2, does not cover -3.5
    assert settled[home.id].status == "lost" and settled[home.id].payout_cents == 0
    assert settled[away.id].status == "won" and settled[away.id].payout_cents == 25000
    assert await ledger.settle_event("ev", 100, 98) == []  # settles once
    assert [b.id for b in await ledger.get_bets(user_id, "won", None, None, None, None, 50)] == [away.id]
    assert [b.id for b in await ledger.get_bets(user_id, None, "pinnacle", None, None, None, 50)] == [home.id]
    [latest] = await ledger.get_bets(user_id, None, None, None, None, None, 1)
    assert latest.id == away.id, "the newest bet first, on both stores"
    assert await ledger.active_bets_by_book() == {}
    assert await ledger.writable()


async def test_bets_in_the_same_millisecond_list_newest_insert_first(ledger, monkeypatch):
    """Ties on placed_at break by insertion order on both stores (SQLite's rowid, PostgreSQL's sequence)."""
    from sbws.ledger import plans

    monkeypatch.setattr(plans, "now_ms", lambda: 1_700_000_000_000)
    user_id = await ledger.add_user("erin")
    placed = [(await ledger.place_bet(new_bet(user_id, f"r{i}")))[0] for i in range(8)]
    assert {b.placed_at for b in placed} == {1_700_000_000_000}
    listed = await ledger.get_bets(user_id, None, None, None, None, None, 50)
    assert [b.id for b in listed] == [b.id for b in reversed(placed)]
    assert [b.id for b in await ledger.get_bets(user_id, None, None, None, None, None, 3)] == [b.id for b in placed[:-4:-1]]


async def test_a_postgres_outage_is_ledger_unavailable_and_passes():
    import asyncpg

    from sbws.errors import LedgerUnavailable

    dsn = await POSTGRES.new_database()
    name = dsn.rsplit("/", 1)[1]
    ledger = await open_ledger(dsn)
    admin = await asyncpg.connect(await POSTGRES.ensure())
    try:
        user_id = await ledger.add_user("pat")
        _, token = await ledger.issue_token("pat")
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        with pytest.raises(LedgerUnavailable):
            await ledger.place_bet(new_bet(user_id, "during-outage"))
        with pytest.raises(LedgerUnavailable):
            await ledger.verify_token(token)
        assert not await ledger.writable()
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        bet, duplicate = await ledger.place_bet(new_bet(user_id, "after-outage"))
        assert not duplicate and await ledger.find_by_client_ref(user_id, "during-outage") is None
    finally:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        await admin.close()
        await ledger.close()
        await POSTGRES.drop(dsn)


async def test_closing_line_value(ledger):
    """Closing fair probabilities reach the event's bets once each; CLV from the bet's exact price."""
    user_id = await ledger.add_user("dora")
    home, _ = await ledger.place_bet(new_bet(user_id, "a", odds=110, requested_odds=110, fair_probability=0.5))
    away, _ = await ledger.place_bet(new_bet(user_id, "b", selection_id="away", odds=-110, price="1.91"))
    other, _ = await ledger.place_bet(new_bet(user_id, "c", event_id="other", market_id="other:moneyline"))
    assert home.fair_probability == 0.5 and away.fair_probability is None and home.clv is None
    assert await ledger.clv_summary(user_id) == (0, None)
    closing = {("ev:spread:-3.5", "home"): 0.52, ("ev:spread:-3.5", "away"): 0.48}
    changed = {b.id: b for b in await ledger.record_closing("ev", closing)}
    assert set(changed) == {home.id, away.id}
    assert changed[home.id].closing_fair_probability == 0.52
    assert changed[home.id].clv == pytest.approx((0.52 * 2.10 - 1) * 100)
    assert changed[away.id].clv == pytest.approx((0.48 * 1.91 - 1) * 100)  # the book's decimal quote, not -110
    assert await ledger.record_closing("ev", {k: 0.9 for k in closing}) == []  # recorded once
    count, mean = await ledger.clv_summary(user_id)
    assert count == 2 and mean == pytest.approx(((0.52 * 2.10 - 1) + (0.48 * 1.91 - 1)) * 50)
    [unchanged] = await ledger.get_bets(user_id, None, None, "other:moneyline", None, None, 10)
    assert unchanged.id == other.id and unchanged.clv is None


async def test_alert_rules_webhooks_and_deliveries(ledger):
    from sbws.ledger.models import AlertRecord, Delivery, NewRule

    alice, bob = await ledger.add_user("alice"), await ledger.add_user("bob")
    hook = await ledger.add_webhook(alice, "https://hooks.example.com/x", "a-long-enough-secret", 10)
    assert await ledger.webhook(hook.id) == hook and await ledger.webhooks(bob) == []
    rule = await ledger.add_rule(NewRule(alice, "arbitrage", 1.5, None, ("NBA",), ("a", "b"), hook.id), 10)
    other = await ledger.add_rule(NewRule(bob, "steam"), 10)
    assert (rule.kind, rule.min_edge, rule.sports, rule.bookmakers, rule.webhook_id, rule.muted_until) == (
        "arbitrage", 1.5, ("NBA",), ("a", "b"), hook.id, None)
    assert await ledger.rules(alice) == [rule] and {r.id for r in await ledger.rules(None)} == {rule.id, other.id}
    assert await ledger.mute_rule(bob, rule.id, 99) is None  # not bob's
    muted = await ledger.mute_rule(alice, rule.id, 99)
    assert muted is not None and muted.muted_until == 99
    assert (await ledger.mute_rule(alice, rule.id, None)).muted_until is None
    await ledger.add_alerts([AlertRecord("alr_1", rule.id, alice, "arbitrage", "arb_1", b'{"id":"alr_1"}', 5),
                             AlertRecord("alr_2", rule.id, alice, "arbitrage", "arb_2", b'{"id":"alr_2"}', 6)])
    assert await ledger.recent_alerts(alice, 10) == [b'{"id":"alr_2"}', b'{"id":"alr_1"}']
    assert await ledger.recent_alerts(bob, 10) == []
    for attempt, status in ((1, 500), (2, 200)):
        await ledger.add_delivery(Delivery(f"att_{attempt}", hook.id, "dlv_1", "alr_1", attempt, status, None, attempt),
                                  final=status == 200)
    assert [(d.attempt, d.status) for d in await ledger.deliveries(alice, hook.id, 10)] == [(2, 200), (1, 500)]
    assert await ledger.deliveries(bob, hook.id, 10) == []
    assert not await ledger.delete_rule(bob, rule.id)
    assert await ledger.delete_rule(alice, rule.id) and await ledger.rules(alice) == []


async def test_per_user_caps_and_alert_retention(ledger):
    """Issue 22, item 4: a user past the rule or webhook cap writes nothing; old alerts and attempts are pruned."""
    from sbws.ledger.models import AlertRecord, Delivery, NewRule

    alice, bob = await ledger.add_user("alice"), await ledger.add_user("bob")
    assert [await ledger.add_rule(NewRule(alice, "steam"), 2) is not None for _ in range(3)] == [True, True, False]
    assert len(await ledger.rules(alice)) == 2 and await ledger.add_rule(NewRule(bob, "steam"), 2) is not None
    hooks = [await ledger.add_webhook(alice, f"https://h.example.com/{i}", "a-long-enough-secret", 1) for i in range(2)]
    assert hooks[0] is not None and hooks[1] is None and len(await ledger.webhooks(alice)) == 1
    [rule] = await ledger.rules(bob)
    await ledger.add_alerts([AlertRecord("alr_old", rule.id, bob, "steam", "s1", b'{"id":"alr_old"}', 1_000),
                             AlertRecord("alr_new", rule.id, bob, "steam", "s2", b'{"id":"alr_new"}', 9_000)])
    await ledger.add_delivery(Delivery("att_old", hooks[0].id, "dlv", "alr_old", 1, 200, None, 1_000), final=True)
    await ledger.add_delivery(Delivery("att_new", hooks[0].id, "dlv", "alr_new", 1, 200, None, 9_000), final=True)
    assert await ledger.prune_alerts(5_000) == 2
    assert await ledger.recent_alerts(bob, 10) == [b'{"id":"alr_new"}']
    assert [d.id for d in await ledger.deliveries(alice, hooks[0].id, 10)] == ["att_new"]


async def test_the_webhook_outbox_keeps_a_delivery_until_its_last_attempt(ledger):
    """Issue 22, item 13: a delivery is pending from the transaction that stores its alert until its final attempt;
    attempts in between are counted, so a restart goes on from the next one."""
    from sbws.ledger.models import AlertRecord, Delivery, NewRule, PendingDelivery

    alice = await ledger.add_user("alice")
    hook = await ledger.add_webhook(alice, "https://hooks.example.com/x", "a-long-enough-secret", 10)
    rule = await ledger.add_rule(NewRule(alice, "steam", webhook_id=hook.id), 10)
    pending = [PendingDelivery(f"dlv_{i}", hook.id, alice, f"alr_{i}", b'{"n":%d}' % i, 0, 10 + i) for i in range(2)]
    await ledger.add_alerts([AlertRecord(f"alr_{i}", rule.id, alice, "steam", "s", b"{}", 10 + i) for i in range(2)],
                            pending)
    assert await ledger.pending_deliveries(10) == pending
    await ledger.add_delivery(Delivery("att_1", hook.id, "dlv_0", "alr_0", 1, 503, None, 20), final=False)
    await ledger.add_delivery(Delivery("att_2", hook.id, "dlv_1", "alr_1", 1, 200, None, 21), final=True)
    [left] = await ledger.pending_deliveries(10)
    assert (left.delivery_id, left.attempts, left.body) == ("dlv_0", 1, b'{"n":0}')
    assert await ledger.prune_alerts(11) == 2  # alert alr_0 and its pending delivery
    assert await ledger.pending_deliveries(10) == []


async def test_bets_go_before_background_writes_waiting_ahead_of_them(ledger):
    """Issue 22, item 4: a flood of alert writes queued before a bet does not hold the bet back: it commits
    while most of them still wait (before, it waited for every one)."""
    from sbws.ledger.models import AlertRecord, NewRule

    alice = await ledger.add_user("alice")
    rule = await ledger.add_rule(NewRule(alice, "steam"), 10)
    done: list[str] = []

    async def alerts(n: int) -> None:
        await ledger.add_alerts([AlertRecord(f"alr_{n}_{i}", rule.id, alice, "steam", "s", b"x" * 2000, i)
                                 for i in range(300)])
        done.append(f"alerts{n}")

    async def bet() -> None:
        await ledger.place_bet(new_bet(alice, "ref-1"))
        done.append("bet")

    flood = [asyncio.create_task(alerts(n)) for n in range(40)]
    await asyncio.sleep(0)  # the alert writes are queued first
    await asyncio.gather(bet(), *flood)
    assert done.index("bet") <= 2, f"the bet committed after {done.index('bet')} of 40 alert writes"
