"""De-vig methods, the value scan and middles: known answers, and hypothesis against plain loops."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.board import Quote, QuoteBoard
from engine.devig import METHODS, devig, devig_prices, shin_z
from engine.markets import MONEYLINE, SPREAD, TOTAL, MarketKey
from engine.middles import MiddleConfig, evaluate, find_middles, integer_distribution
from engine.odds import american_to_decimal
from engine.value import EV_CAP, ValueConfig, ValueScanner, kelly_stake, value_id
from tests.reference import ref_devig, reference_value

from .test_engine_arbitrage import BOOKS, boards, build


def _american(*odds):
    return [float(american_to_decimal(o)) for o in odds]


@pytest.mark.parametrize(("method", "want"), [
    ("multiplicative", (0.7183, 0.2817)),
    ("additive", (0.7279, 0.2721)),
    ("shin", (0.7279, 0.2721)),
    ("power", (0.7331, 0.2669)),
    ("worst", (0.7183, 0.2669)),
])
def test_known_two_way_answers(method, want):
    """The public worked example: sharp -300/+240."""
    assert devig_prices(method, _american(-300, 240)) == pytest.approx(want, abs=5e-5)


def test_shin_three_way_known_answer():
    assert devig_prices("shin", [2.6, 2.4, 4.3]) == pytest.approx([0.3730, 0.4048, 0.2222], abs=5e-5)
    r = np.array([[1 / 2.6, 1 / 2.4, 1 / 4.3]])
    assert shin_z(r, np.array([3], dtype=np.int8))[0] == pytest.approx(0.01694, abs=5e-6)


def test_value_known_answer():
    """Sharp 1.93/1.99 multiplicative gives p = 0.5077; a soft 2.10 on that side: EV +6.61 %, Kelly 6.01 %."""
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 210.5))
    m = "ev:total:+210.5"
    board.update([Quote(m, 0, "pinnacle", 1.93, 0), Quote(m, 1, "pinnacle", 1.99, 0), Quote(m, 0, "soft", 2.10, 0)])
    [v] = ValueScanner(board, ValueConfig(method="multiplicative")).scan(now=0)
    assert (v.market_id, v.outcome, v.book, v.sharp_books) == (m, 0, "soft", ("pinnacle",))
    assert v.fair_probability == pytest.approx(0.5077, abs=5e-5)
    assert v.ev == pytest.approx(6.61, abs=5e-3)
    assert v.kelly == pytest.approx(0.0601, abs=5e-5)
    assert kelly_stake(v.kelly, 1000, 0.25, 5.0) == pytest.approx(15.02, abs=0.01)  # quarter Kelly: 1.50 %
    assert kelly_stake(v.kelly, 1000, 1.0, 5.0) == 50.0  # capped at 5 % of the bankroll
    assert v.id == value_id(m, 0, "soft") and v.suspect_reason is None
    high = ValueScanner(board, ValueConfig(method="multiplicative", max_ev=5.0)).scan(now=0)
    assert high[0].suspect_reason == EV_CAP


def test_sharp_preference_staleness_and_consensus():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", MONEYLINE))
    m = "ev:moneyline"
    board.update([
        Quote(m, 0, "betfair", 2.0, 0), Quote(m, 1, "betfair", 2.0, 0),   # old: stale at now=100 with max_age 50
        Quote(m, 0, "matchbook", 1.8, 90), Quote(m, 1, "matchbook", 2.2, 90),
        Quote(m, 0, "soft", 2.2, 90), Quote(m, 1, "soft", 1.7, 90),
    ])
    fresh = ValueScanner(board, ValueConfig(method="multiplicative", max_age=50)).scan(now=100)
    assert {v.sharp_books for v in fresh} == {("matchbook",)}  # betfair skipped: its quotes are stale
    assert {(v.book, v.outcome) for v in fresh} == {("soft", 0)}
    anyage = ValueScanner(board, ValueConfig(method="multiplicative")).scan(now=100)
    assert {v.sharp_books for v in anyage} == {("betfair",)}
    assert {(v.book, v.outcome) for v in anyage} == {("soft", 0), ("matchbook", 1)}
    line = ValueScanner(board, ValueConfig(sharp=("consensus",), method="multiplicative")).fair(now=100)
    want = np.mean([devig_prices("multiplicative", p) for p in ([2.0, 2.0], [1.8, 2.2], [2.2, 1.7])], axis=0)
    assert line.p[0, :2] == pytest.approx(want)
    assert line.sharp_names(0, board.books) == ("betfair", "matchbook", "soft")


def _prices(n):
    return st.lists(st.floats(1.05, 30.0), min_size=n, max_size=n)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([2, 3]).flatmap(_prices), st.sampled_from(METHODS))
def test_devig_matches_plain_python(prices, method):
    r = 1 / np.array(prices)
    if r.sum() < 1.0:  # a book never prices itself below 100 %
        return
    got = devig_prices(method, prices)
    want = ref_devig(method, prices)
    assert got == pytest.approx(want, abs=1e-7)
    if method != "worst":
        assert sum(got) == pytest.approx(1.0, abs=1e-7) or method == "additive"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([2, 3]).flatmap(_prices), min_size=1, max_size=30), st.sampled_from(METHODS))
def test_devig_rows_are_independent(markets, method):
    """Many markets at once give what each gives alone (the vectorized iterations stop per row)."""
    r = np.zeros((len(markets), 3))
    n = np.array([len(p) for p in markets], dtype=np.int8)
    for i, p in enumerate(markets):
        r[i, : len(p)] = 1 / np.array(p)
    together = devig(method, r, n)
    for i, p in enumerate(markets):
        assert together[i, : len(p)] == pytest.approx(devig_prices(method, p), abs=1e-12, nan_ok=True)


@settings(max_examples=200, deadline=None)
@given(boards(), st.sampled_from(METHODS), st.sampled_from([0.0, 1.0, 3.0]))
def test_value_scan_matches_reference(case, method, min_ev):
    markets, commission, max_age, _unit = case
    board = build(markets)
    sharp = ("b0", "b1")
    cfg = ValueConfig(sharp=sharp, method=method, commission=commission, max_age=max_age, min_ev=min_ev)
    got = {(v.market_id, v.outcome, v.book): v for v in ValueScanner(board, cfg).scan(now=100.0)}
    want = reference_value(markets, BOOKS, sharp, method, commission, min_ev, now=100.0, max_age=max_age)
    near = {k for k, (_, ev, _) in want.items() if abs(ev - min_ev) < 1e-6}
    assert set(got) - near == set(want) - near
    for k in set(want) - near:
        p, ev, kelly = want[k]
        assert got[k].fair_probability == pytest.approx(p, abs=1e-7)
        assert got[k].ev == pytest.approx(ev, abs=1e-5)
        assert got[k].kelly == pytest.approx(kelly, abs=1e-6)
    partial = ValueScanner(board, cfg).scan(now=100.0, markets=np.arange(board.n_markets)[::-1])
    assert {v.id for v in partial} == {v.id for v in got.values()}
    scanner = ValueScanner(board, cfg)  # as the server scans: with the fair line it already computed
    assert scanner.scan(100.0, None, scanner.fair(100.0)) == list(got.values())


# -- middles ---------------------------------------------------------------------------
def _totals_board():
    board = QuoteBoard()
    keys = [MarketKey("ev", TOTAL, x) for x in (215.5, 216.5, 217.5)]
    for k in keys:
        board.add_market(k)
    board.update([
        Quote("ev:total:+215.5", 0, "a", 1.95, 0), Quote("ev:total:+215.5", 1, "a", 1.87, 0),
        Quote("ev:total:+217.5", 0, "b", 1.80, 0), Quote("ev:total:+217.5", 1, "b", 2.02, 0),
        Quote("ev:total:+216.5", 0, "a", 1.90, 0), Quote("ev:total:+216.5", 1, "b", 1.92, 0),
    ])
    return board, keys


def test_totals_middle_stakes_and_window():
    board, keys = _totals_board()
    found = {(m.legs[0].market_id, m.legs[1].market_id): m for m in find_middles(board, keys, MiddleConfig(), 0, {}, "NBA")}
    # Over at a lower line with Under at a higher one, at two different books; the same line is no middle.
    assert set(found) == {("ev:total:+215.5", "ev:total:+217.5"), ("ev:total:+215.5", "ev:total:+216.5"),
                          ("ev:total:+216.5", "ev:total:+217.5")}
    m = found[("ev:total:+215.5", "ev:total:+217.5")]
    assert (m.legs[0].book, m.legs[1].book) == ("a", "b") and m.window == (215.5, 217.5) and m.width == 2
    s = 1 / 1.95 + 1 / 2.02
    assert m.s == pytest.approx(s)
    assert m.legs[0].stake * 1.95 == pytest.approx(m.legs[1].stake * 2.02)  # the same outcome either way outside
    assert m.legs[0].stake + m.legs[1].stake == pytest.approx(100)
    assert m.miss == pytest.approx(100 / s - 100) and m.hit == pytest.approx(200 / s - 100)
    assert m.hit_probability is None  # no sharp line: no model
    same_book = {(m.legs[0].book, m.legs[1].book) for m in found.values()}
    assert all(a != b for a, b in same_book)


def test_spread_middle_with_pushes_against_brute_force():
    """Favourite −3 at one book and underdog +4 at another; margins 3 and 4 push one leg each."""
    mu, sd = 3.4, 12.0
    hit, ev = evaluate(SPREAD, -3.0, 1.91, -4.0, 1.91, 100.0, mu, sd)
    assert hit == 0.0  # no whole-number margin strictly between 3 and 4
    k, p = integer_distribution(mu, sd, nonnegative=False)
    stake = 50.0
    want = 0.0
    for margin, prob in zip(k, p):
        home = margin - 3.0
        away = -(margin - 4.0)
        pay = sum(stake * 1.91 if x > 0 else stake if x == 0 else 0.0 for x in (home, away))
        want += prob * (pay - 100.0)
    assert ev == pytest.approx(want)
    assert ev > (100 / (2 / 1.91) - 100)  # the pushes make it better than a plain miss
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    hit35, _ = evaluate(SPREAD, -3.5, 1.91, -4.5, 1.91, 100.0, mu, sd)
    assert hit35 == pytest.approx(phi((4.5 - mu) / sd) - phi((3.5 - mu) / sd), abs=1e-9)


def test_middle_model_centres_on_the_sharp_line():
    board, keys = _totals_board()
    # A sharp saying 50 % over 216.5 puts the centre at 216.5: the 215.5/217.5 window holds 216 and 217.
    [m] = [m for m in find_middles(board, keys, MiddleConfig(), 0, {"ev:total:+216.5": 0.5}, "NBA")
           if m.window == (215.5, 217.5)]
    assert m.center == pytest.approx(216.5) and m.sd == 14.0
    k, p = integer_distribution(216.5, 14.0, nonnegative=True)
    assert m.hit_probability == pytest.approx(float(p[(k == 216) | (k == 217)].sum()))
    s = 1 / 1.95 + 1 / 2.02
    hit, miss = 200 / s - 100, 100 / s - 100
    assert m.ev == pytest.approx(m.hit_probability * hit + (1 - m.hit_probability) * miss)  # no whole-number line
