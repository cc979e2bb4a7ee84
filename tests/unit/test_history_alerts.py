"""Pure parts of issue 16: downsampling, steam detection, alert matching and dedupe, webhook rules."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from hypothesis import given, settings, strategies as st

from engine.board import Quote
from sbws.alerts.rules import ALERT_STEP, AlertBook, Candidate, matches
from sbws.alerts.webhooks import BASE_DELAY, backoff, retryable, signature
from sbws.errors import ProtocolError
from sbws.history.series import downsample, outcome_names
from sbws.ledger.models import Rule
from sbws.market.steam import DRIFTING, SHORTENING, SteamConfig, SteamDetector
from sbws.wire.commands import address_allowed, check_webhook_url


# -- downsampling ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=300, unique=True), st.integers(1, 50))
def test_downsample_keeps_the_last_point_of_each_bucket(times, max_points):
    times.sort()
    points = [(t, float(i)) for i, t in enumerate(times)]
    out = downsample(points, 0, 10_000, max_points)
    assert len(out) <= max(max_points, 0) or len(points) <= max_points
    if len(points) <= max_points:
        assert out == points
        return
    width = 10_001

    def bucket(t):
        return min(max_points - 1, t * max_points // width)

    want = {}
    for p in points:
        want[bucket(p[0])] = p  # the last one wins
    assert out == [want[b] for b in sorted(want)]


def test_outcome_names_from_a_market_id():
    assert outcome_names("ev:moneyline", 1) == ("home", "away")
    assert outcome_names("ev:moneyline", 2) == ("home", "draw", "away")
    assert outcome_names("ev:total:+2.5", 1) == ("over", "under")
    assert outcome_names("ev:spread:-3.5", 1) == ("home", "away")


# -- steam -------------------------------------------------------------------------------------
def q(book, price, t, market="m:moneyline", outcome=0):
    return Quote(market, outcome, book, price, t)


def test_steam_needs_enough_books_moving_the_same_way_within_the_window():
    det = SteamDetector(SteamConfig(move=2.0, books=3, window=60.0, sharp=("pinnacle",)))
    opening = [q(b, 2.00, 0.0) for b in ("pinnacle", "a", "b", "c")]
    assert det.feed(opening) == []
    # pinnacle shortens first (50 % -> 52.6 %), then a and b: the third mover completes the steam.
    assert det.feed([q("pinnacle", 1.90, 10.0)]) == []
    assert det.feed([q("a", 1.91, 20.0)]) == []
    assert det.feed([q("c", 2.05, 25.0)]) == []  # c drifts: the other way
    [steam] = det.feed([q("b", 1.92, 30.0)])
    assert steam.direction == SHORTENING and steam.sharp_first
    assert [m.book for m in steam.moves] == ["pinnacle", "a", "b"]
    assert steam.moves[0].before == pytest.approx(0.5) and steam.moves[0].after == pytest.approx(1 / 1.90)
    assert steam.move == pytest.approx(sum(abs(1 / p - 0.5) for p in (1.90, 1.91, 1.92)) / 3 * 100)
    # The same steam is not reported twice while its movers are in the window.
    assert det.feed([q("c", 1.90, 31.0)]) == []


def test_moves_outside_the_window_do_not_add_up():
    det = SteamDetector(SteamConfig(move=2.0, books=3, window=60.0))
    det.feed([q(b, 2.00, 0.0) for b in ("a", "b", "c")])
    assert det.feed([q("a", 2.20, 10.0)]) == []  # drifting
    assert det.feed([q("b", 2.20, 50.0)]) == []
    # c moves at 120 s: a's move (10 s) and b's (50 s) have left the window.
    assert det.feed([q("c", 2.20, 120.0)]) == []
    assert det.feed([q("b", 2.40, 121.0)]) == []  # b again, from its 2.20 of 50 s: two movers
    [steam] = det.feed([q("a", 2.40, 122.0)])  # a again, from its 2.20 of 10 s: three
    assert steam.direction == DRIFTING and not steam.sharp_first
    assert {m.book for m in steam.moves} == {"a", "b", "c"}


def test_small_moves_and_withdrawals_are_no_steam():
    det = SteamDetector(SteamConfig(move=2.0, books=2, window=60.0))
    det.feed([q(b, 2.00, 0.0) for b in ("a", "b")])
    assert det.feed([q("a", 1.97, 1.0), q("b", 1.97, 1.0)]) == []  # 0.76 points
    assert det.feed([q("a", 0.0, 2.0), q("b", float("nan"), 2.0)]) == []


# -- alert rules ---------------------------------------------------------------------------------
def rule(kind="arbitrage", **over):
    base = dict(id="r1", user_id="u", kind=kind, min_edge=None, min_ev=None, sports=(), bookmakers=(), webhook_id=None,
                muted_until=None, created_at=0)
    base.update(over)
    return Rule(**base)


def cand(item_id="x", metric=1.0, kind="arbitrage", sport="NBA", books=("a", "b")):
    return Candidate(kind, item_id, metric, sport, books, {"id": item_id})


def test_rule_filters():
    assert matches(rule(min_edge=0.5), cand(metric=1.0), 0)
    assert not matches(rule(min_edge=2.0), cand(metric=1.0), 0)
    assert not matches(rule(sports=("NFL",)), cand(), 0)
    assert matches(rule(bookmakers=("a", "b", "c")), cand(), 0)
    assert not matches(rule(bookmakers=("a",)), cand(), 0)  # every leg at one of the trader's books
    assert matches(rule("steam", bookmakers=("a",)), cand(kind="steam", metric=None), 0)  # any mover
    assert not matches(rule(muted_until=100), cand(), 99) and matches(rule(muted_until=100), cand(), 100)
    assert not matches(rule("value", min_ev=1.0), cand(kind="value", metric=None), 0)
    assert not matches(rule("value"), cand(), 0)  # another kind


def test_alert_once_again_on_reopen_or_a_real_improvement():
    book = AlertBook()
    r = rule()
    assert len(book.evaluate([r], {"arbitrage": [cand(metric=1.0)]}, [], 0)) == 1
    assert book.evaluate([r], {"arbitrage": [cand(metric=1.0 + ALERT_STEP / 2)]}, [], 1) == []
    assert len(book.evaluate([r], {"arbitrage": [cand(metric=1.0 + ALERT_STEP)]}, [], 2)) == 1
    assert book.evaluate([r], {"arbitrage": [cand(metric=1.2)]}, [], 3) == []  # worse: nothing
    assert book.evaluate([r], {"arbitrage": []}, [], 4) == []  # closed
    assert len(book.evaluate([r], {"arbitrage": [cand(metric=1.2)]}, [], 5)) == 1  # reopened
    steam = cand("s1", None, "steam")
    assert len(book.evaluate([rule("steam")], {}, [steam], 6)) == 1
    assert book.evaluate([rule("steam")], {}, [], 7) == []


# -- webhooks ----------------------------------------------------------------------------------------
def test_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"type":"alert"}'
    assert signature("s3cret-s3cret-s3cret", body) == "sha256=" + hmac.new(
        b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()


def test_backoff_grows_with_jitter_and_what_is_retried():
    rng = random.Random(1)
    for attempt in range(1, 5):
        delay = backoff(attempt, rng)
        assert BASE_DELAY * 2 ** (attempt - 1) * 0.5 <= delay < BASE_DELAY * 2 ** (attempt - 1) * 1.5
    assert retryable(500) and retryable(503) and retryable(429) and retryable(408)
    assert not retryable(400) and not retryable(404) and not retryable(410)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "https://10.1.2.3/", "http://[::1]/",
                                 "http://169.254.169.254/latest", "http://192.168.1.1/", "http://0.0.0.0/",
                                 "http://api.localhost/"])
def test_private_targets_refused_unless_allowed(url):
    with pytest.raises(ProtocolError) as caught:
        check_webhook_url(url, allow_private=False)
    assert caught.value.field == "url" and "--allow-private-webhooks" in caught.value.message
    assert check_webhook_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["ftp://example.com/", "example.com/hook", "http:///x", "http://u:p@example.com/",
                                 "http://example.com:99999/"])
def test_malformed_webhook_urls(url):
    with pytest.raises(ProtocolError):
        check_webhook_url(url, allow_private=True)


def test_public_addresses():
    assert check_webhook_url("https://hooks.example.com/sbws", False) == "https://hooks.example.com/sbws"
    assert address_allowed("93.184.216.34", False) and not address_allowed("10.0.0.1", False)
    assert not address_allowed("fe80::1%eth0", False) and address_allowed("fe80::1%eth0", True)
