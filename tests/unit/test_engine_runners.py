"""Many-runner maths (issue 23, the engine part): de-vig over N outcomes and k winners, N-way arbitrage, dutching.
Known public values, and hypothesis against plain-Python references written from the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from engine.devig import METHODS, devig, devig_prices, power_exponent, shin_z
from engine.runners import dutch, sure_bets
from tests.reference import ref_devig


# -- known values -------------------------------------------------------------------------------------------
def test_published_three_way_values():
    assert devig_prices("multiplicative", [2.7, 2.3, 4.4]) == pytest.approx(
        [0.35873803615739097, 0.4211272598369373, 0.22013470400567173], abs=1e-15)
    assert devig_prices("shin", [2.7, 2.3, 4.4]) == pytest.approx(
        [0.35934391959159157, 0.42324384818283234, 0.21741223222458853], abs=1e-11)
    r = np.array([[1 / 2.7, 1 / 2.3, 1 / 4.4]])
    assert shin_z(r, np.array([3], dtype=np.int16))[0] == pytest.approx(0.0162, abs=5e-5)
    # The published power figures (0.2311414 / 0.2630644 / 0.5057942, exponent 0.9797664) are those of a coarse
    # solver: the exact root of Σ r^c = 1 is c = 1.0206559 (1/c = 0.9797622), and the probabilities agree to 1e-6.
    assert devig_prices("power", [4.20, 3.70, 1.95]) == pytest.approx([0.2311414, 0.2630644, 0.5057942], abs=1e-6)
    c, _ = power_exponent(np.array([[1 / 4.2, 1 / 3.7, 1 / 1.95]]), np.array([3], dtype=np.int16), np.ones(1))
    assert 1 / c[0] == pytest.approx(0.9797664, abs=5e-6)


def test_n_way_arbitrage_and_dutching_worked_examples():
    sure = sure_bets(np.array([[3.1, 3.5, 3.1]]), np.array([3]))
    assert sure.arbitrage[0] and round(sure.roi[0], 2) == 7.43
    assert [round(x * 100, 2) for x in sure.shares[0]] == [34.65, 30.69, 34.65]
    d = dutch([4.0, 7.0, 17.0], 50)
    assert [round(x, 2) for x in d.stakes] == [27.67, 15.81, 6.51] and round(d.returns, 2) == 110.70
    assert d.profit == pytest.approx(d.returns - 50)
    with pytest.raises(ValueError):
        dutch([1.0, 2.0], 10)


def test_an_unpriced_runner_is_never_an_arbitrage_and_k_winners_lower_the_bar():
    prices = np.array([[2.5, 2.5, 2.5, np.nan], [2.5, 2.5, 2.5, 9.0], [1.2, 1.5, 3.0, 4.0]])
    sure = sure_bets(prices, np.array([4, 4, 4]), np.array([2, 2, 2]))
    assert sure.arbitrage.tolist() == [False, True, False] and math.isnan(sure.s[0])
    assert sure.s[1] == pytest.approx(3 / 2.5 + 1 / 9) and sure.roi[1] == pytest.approx((2 / sure.s[1] - 1) * 100)


def test_shin_has_no_meaning_for_several_winners_and_worst_takes_the_others():
    prices = [2.0, 3.0, 4.0, 5.0]
    assert all(math.isnan(p) for p in devig_prices("shin", prices, winners=2))
    others = [devig_prices(m, prices, winners=2) for m in ("multiplicative", "additive", "power")]
    assert devig_prices("worst", prices, winners=2) == pytest.approx([min(col) for col in zip(*others)])
    for method in ("multiplicative", "power"):
        assert sum(devig_prices(method, prices, winners=2)) == pytest.approx(2.0)


# -- against the plain reference (tests/reference.py) ----------------------------------------------------
@st.composite
def markets(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, 40))
    k = draw(st.integers(1, max(1, min(3, n - 1))))
    fair = draw(st.lists(st.floats(0.05, 1.0), min_size=n, max_size=n))
    scale = draw(st.floats(1.0, 1.5)) * k / sum(fair)  # a book's margin of 0 to 50 % over k
    decimals = [round(max(1.01, 1 / min(0.99, f * scale)), 3) for f in fair]
    assume(sum(1 / d for d in decimals) > k * 1.001)  # a book's line is over k (rounding can take it under)
    return decimals, k


@settings(max_examples=150, deadline=None)
@given(st.lists(markets(), min_size=1, max_size=6), st.sampled_from(METHODS))
def test_devig_over_n_outcomes_and_k_winners_equals_the_reference(rows, method):
    width = max(len(d) for d, _ in rows) + 2  # rows narrower than the array, as on a board
    r = np.zeros((len(rows), width))
    for i, (decimals, _k) in enumerate(rows):
        r[i, : len(decimals)] = [1 / d for d in decimals]
    got = devig(method, r, np.array([len(d) for d, _ in rows]), np.array([k for _, k in rows]))
    for i, (decimals, k) in enumerate(rows):
        want = ref_devig(method, decimals, k)
        assert got[i, : len(decimals)] == pytest.approx(want, abs=1e-7, nan_ok=True), (method, decimals, k)
        assert np.isnan(got[i, len(decimals):]).all()


@settings(max_examples=150, deadline=None)
@given(st.lists(markets(), min_size=1, max_size=6), st.floats(0.5, 1.2))
def test_n_way_arbitrage_equals_the_reference(rows, boost):
    width = max(len(d) for d, _ in rows)
    best = np.full((len(rows), width), np.nan)
    for i, (decimals, _k) in enumerate(rows):
        best[i, : len(decimals)] = [max(1.001, d * boost * 1.3) for d in decimals]  # some become sure bets
    sure = sure_bets(best, np.array([len(d) for d, _ in rows]), np.array([k for _, k in rows]))
    for i, (decimals, k) in enumerate(rows):
        prices = [max(1.001, d * boost * 1.3) for d in decimals]
        s = sum(1 / p for p in prices)
        assert sure.s[i] == pytest.approx(s) and bool(sure.arbitrage[i]) == (s < k * (1 - 1e-9))
        assert sure.roi[i] == pytest.approx((k / s - 1) * 100) and sure.edge[i] == pytest.approx((1 - s / k) * 100)
        # Equal return whatever k runners win: each runner's stake times its price is the same.
        payouts = [share * p for share, p in zip(sure.shares[i, : len(prices)], prices)]
        assert max(payouts) - min(payouts) < 1e-9


# -- the runner board ---------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 30), st.integers(0, 9),
                          st.sampled_from([0.0, 1.5, 2.0, 3.3, 7.0, 21.0, 101.0])), min_size=1, max_size=300),
       st.integers(1, 50))
def test_the_runner_board_keeps_what_a_from_scratch_reduction_gives(quotes, batch):
    """Runners arriving late (blocks moving), books withdrawing, batches of any size: the best price per runner and
    the arbitrage of every market equal a reduction of all quotes so far."""
    from engine.runners import RunnerBoard

    board = RunnerBoard(books=2, slots=16)
    for m in range(6):
        board.add_market(f"m{m}", [f"r{i}" for i in range(2)], winners=1 + m % 2)
    held: dict[tuple[int, int], dict[int, float]] = {}
    for start in range(0, len(quotes), batch):
        chunk = quotes[start:start + batch]
        board.update((f"m{m}", f"r{r}", f"b{b}", p) for m, r, b, p in chunk)
        for m, r, b, p in chunk:
            held.setdefault((m, r), {})
            if p > 1:
                held[(m, r)][b] = p
            else:
                held[(m, r)].pop(b, None)
    for m in range(6):
        index = board.market_index[f"m{m}"]
        runners = board.runner_index[index]
        for runner, position in runners.items():
            prices = held.get((m, int(runner[1:])), {})
            got = board.best[board.start[index] + position]
            assert (math.isnan(got) and not prices) or got == max(prices.values()), (m, runner)
        sure = board.sure_bets(np.array([index]))
        row = [max(held.get((m, int(r[1:])), {}).values(), default=math.nan)
               for r, _ in sorted(runners.items(), key=lambda kv: kv[1])]
        want = sure_bets(np.array([row]), np.array([len(row)]), np.array([1 + m % 2]))
        assert bool(sure.arbitrage[0]) == bool(want.arbitrage[0])
        assert (math.isnan(sure.s[0]) and math.isnan(want.s[0])) or sure.s[0] == pytest.approx(want.s[0])
