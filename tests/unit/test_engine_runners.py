"""Many-runner maths (issue 23, the engine part): de-vig over N outcomes and k winners, N-way arbitrage on a wide
board, dutching.  Known public values, and hypothesis against plain-Python references written from the formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from engine.arbitrage import ArbConfig, Scanner
from engine.board import Quote, QuoteBoard
from engine.devig import METHODS, devig, devig_prices, power_exponent, shin_z
from engine.markets import OUTRIGHT, MarketKey
from engine.runners import dutch
from tests.reference import ref_devig, reference_scan


def outright_board(rows, books=("a",), width=4):  # type: ignore[no-untyped-def]
    """A wide board of outrights: rows of (per-runner {book: price}, k winners); runners added one by one, as
    sources price them."""
    board = QuoteBoard(market_capacity=2, book_capacity=1, width=width)
    quotes = []
    for m, (runners, k) in enumerate(rows):
        idx = board.add_market(MarketKey(f"e{m}", OUTRIGHT, winners=k))
        for prices in runners:
            column = board.add_outcome(idx)
            quotes += [Quote(board.markets[idx].id, column, book, price, 100.0) for book, price in prices.items()]
    board.update(quotes)
    return board


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
    board = outright_board([([{"a": 3.1}, {"b": 3.5}, {"c": 3.1}], 1)])
    [opp] = Scanner(board, ArbConfig(total_stake=100.0)).scan(100.0)
    assert round(opp.roi, 2) == 7.43 and [round(leg.stake, 2) for leg in opp.legs] == [34.65, 30.69, 34.65]
    assert [leg.book for leg in opp.legs] == ["a", "b", "c"]
    d = dutch([4.0, 7.0, 17.0], 50)
    assert [round(x, 2) for x in d.stakes] == [27.67, 15.81, 6.51] and round(d.returns, 2) == 110.70
    assert d.profit == pytest.approx(d.returns - 50)
    with pytest.raises(ValueError):
        dutch([1.0, 2.0], 10)


def test_an_unpriced_runner_is_never_an_arbitrage_and_k_winners_lower_the_bar():
    two = {"a": 2.5}
    rows = [([two, two, two, {}], 2), ([two, two, two, {"b": 9.0}], 2), ([{"a": 1.2}, {"a": 1.5}, {"a": 3.0}, {"b": 4.0}], 2)]
    found = {o.market_id: o for o in Scanner(outright_board(rows, width=2), ArbConfig()).scan(100.0)}
    assert set(found) == {"e1:outright:top2"}
    s = 3 / 2.5 + 1 / 9
    opp = found["e1:outright:top2"]
    assert opp.s == pytest.approx(s) and opp.roi == pytest.approx((2 / s - 1) * 100)
    assert opp.edge == pytest.approx((1 - s / 2) * 100) and opp.profit == pytest.approx(100 * 2 / s - 100)


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


@settings(max_examples=100, deadline=None)
@given(st.lists(markets(), min_size=1, max_size=5), st.floats(0.5, 1.2), st.sampled_from([0.0, 0.5]),
       st.sampled_from([{}, {"b1": 0.05}]))
def test_n_way_arbitrage_on_a_wide_board_equals_the_reference(rows, boost, unit, commission):
    """Books spread over the runners (each runner's best at one of three books), commission and stake rounding:
    the scanner's opportunities of 2..40 runners and k winners are the plain reference's, and stakes ∝ 1/d pay the
    same whichever k runners win."""
    books = ("b0", "b1", "b2")
    board_rows, ref_rows, winners = [], [], {}
    for m, (decimals, k) in enumerate(rows):
        runners = [{books[i % 3]: max(1.001, d * boost * 1.3), books[(i + 1) % 3]: max(1.001, d * boost)}
                   for i, d in enumerate(decimals)]
        board_rows.append((runners, k))
        market_id = MarketKey(f"e{m}", OUTRIGHT, winners=k).id
        ref_rows.append((market_id, len(runners), [{b: (p, 100.0) for b, p in r.items()} for r in runners]))
        winners[market_id] = k
    board = outright_board(board_rows, books)
    got = {o.market_id: o for o in Scanner(board, ArbConfig(commission=commission, stake_rounding=unit)).scan(100.0)}
    want = reference_scan(ref_rows, list(board.books), commission, 100.0, 0.0, 100.0, unit, winners)
    assert set(got) == set(want)
    for market_id, (legs, s, profit, stakes) in want.items():
        opp = got[market_id]
        k = winners[market_id]
        assert tuple(leg.book for leg in opp.legs) == legs and opp.s == pytest.approx(s)
        assert opp.profit == pytest.approx(profit) and [leg.stake for leg in opp.legs] == pytest.approx(stakes)
        assert opp.roi == pytest.approx((k / s - 1) * 100) and opp.edge == pytest.approx((1 - s / k) * 100)
        if unit == 0:
            payouts = [leg.stake * leg.effective for leg in opp.legs]
            assert max(payouts) - min(payouts) < 1e-9


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(
    st.tuples(st.just("quote"), st.integers(0, 3), st.integers(0, 2), st.integers(0, 3),
              st.sampled_from([0.0, 1.5, 2.0, 3.3, 7.0])),
    st.tuples(st.just("withdraw"), st.integers(0, 3)),
    st.tuples(st.just("close"), st.integers(0, 3)),
    st.tuples(st.just("runner"), st.integers(0, 3)),
    st.tuples(st.just("remove"), st.integers(0, 3)),
), max_size=60))
def test_the_best_price_the_board_keeps_is_the_best_over_its_books(ops):
    """However quotes, withdrawals, closures, late runners (the axis growing) and recycled rows come, the board's
    kept best per cell is the maximum over its books."""
    board = QuoteBoard(market_capacity=1, book_capacity=1, width=2)
    for m in range(4):
        board.add_market(MarketKey(f"e{m}", OUTRIGHT))
        board.add_outcome(m)
        board.add_outcome(m)
    for op in ops:
        market_id = f"e{op[1]}:outright"
        if op[0] == "quote":
            _, m, o, b, price = op
            idx = board.market_index.get(market_id)
            if idx is not None and o < board.n_outcomes[idx]:
                board.update([Quote(market_id, o, f"b{b}", price, 1.0)])
        elif op[0] == "withdraw":
            board.withdraw_book(f"b{op[1]}")
        elif op[0] == "close":
            board.close_market(market_id)
        elif op[0] == "runner" and market_id in board.market_index:
            board.add_outcome(board.market_index[market_id])
        elif op[0] == "remove":
            board.remove_market(market_id)
            board.add_outcome(board.add_market(MarketKey(f"e{op[1]}", OUTRIGHT)))  # back on a recycled row
        nb, n = len(board.books), board.n_markets
        want = np.fmax.reduce(board.prices[:nb, :n], axis=0) if nb else np.full((n, board.width), np.nan)
        np.testing.assert_array_equal(board.best[:n], want)
