import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.arbitrage import ArbConfig, Scanner, opportunity_id
from engine.board import Quote, QuoteBoard
from engine.markets import MONEYLINE, SPREAD, TOTAL, MarketKey
from tests.reference import reference_scan

BOOKS = ["b0", "b1", "b2", "b3", "b4"]
PRICES = st.sampled_from([1.01, 1.5, 1.9, 1.95, 2.0, 2.05, 2.1, 2.5, 3.0, 3.4, 4.0, 8.0, 500.0]) | st.floats(1.01, 20.0)


@st.composite
def boards(draw):
    n_markets = draw(st.integers(1, 12))
    markets = []
    for m in range(n_markets):
        n_out = draw(st.sampled_from([2, 3]))
        quotes = []
        for _ in range(n_out):
            row = {}
            for book in BOOKS:
                if draw(st.booleans()):
                    row[book] = (draw(PRICES), draw(st.sampled_from([0.0, 50.0, 95.0, 100.0])))
            quotes.append(row)
        markets.append((f"e{m}:moneyline", n_out, quotes))
    commission = {b: draw(st.sampled_from([0.0, 0.02, 0.05])) for b in BOOKS[:2]}
    max_age = draw(st.sampled_from([0.0, 10.0, 60.0]))
    unit = draw(st.sampled_from([0.0, 0.0, 1.0, 5.0]))
    return markets, commission, max_age, unit


def build(markets):
    board = QuoteBoard(market_capacity=2, book_capacity=2)
    for b in BOOKS:
        board.book(b)
    quotes = []
    for market_id, n_out, rows in markets:
        event = market_id.split(":")[0]
        board.add_market(MarketKey(event, MONEYLINE, None, three_way=n_out == 3))
        for o, row in enumerate(rows):
            for book, (price, ts) in row.items():
                quotes.append(Quote(market_id, o, book, price, ts))
    board.update(quotes)
    return board


@settings(max_examples=300, deadline=None)
@given(boards())
def test_engine_matches_reference(case):
    markets, commission, max_age, unit = case
    board = build(markets)
    cfg = ArbConfig(commission=commission, max_age=max_age, stake_rounding=unit, total_stake=100.0)
    got = {o.market_id: o for o in Scanner(board, cfg).scan(now=100.0)}
    want = reference_scan(markets, BOOKS, commission, 100.0, max_age, 100.0, unit)
    assert set(got) == set(want)
    for market_id, (books, s, profit, stakes) in want.items():
        opp = got[market_id]
        assert tuple(leg.book for leg in opp.legs) == books
        assert opp.s == pytest.approx(s, abs=1e-9)
        assert opp.profit == pytest.approx(profit, abs=1e-9)
        assert [leg.stake for leg in opp.legs] == pytest.approx(stakes, abs=1e-9)
    # Incremental scan of every market agrees with the full scan.
    partial = Scanner(board, cfg).scan(now=100.0, markets=np.arange(board.n_markets)[::-1])
    assert {o.id for o in partial} == {o.id for o in got.values()}


def test_two_way_known_answer():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", SPREAD, -3.5))
    board.update([Quote("ev:spread:-3.5", 0, "pinnacle", 2.10, 0), Quote("ev:spread:-3.5", 1, "draftkings", 2.05, 0),
                  Quote("ev:spread:-3.5", 1, "pinnacle", 1.80, 0)])
    [opp] = Scanner(board, ArbConfig()).scan(now=0)
    s = 1 / 2.10 + 1 / 2.05
    assert opp.edge == pytest.approx((1 - s) * 100)
    assert opp.roi == pytest.approx((1 / s - 1) * 100)
    assert opp.profit == pytest.approx(100 / s - 100)
    payouts = [leg.stake * leg.price for leg in opp.legs]
    assert payouts[0] == pytest.approx(payouts[1])
    assert sum(leg.stake for leg in opp.legs) == pytest.approx(100)
    assert opp.id == opportunity_id("ev:spread:-3.5", ("pinnacle", "draftkings"))


def test_different_spread_lines_never_pair():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", SPREAD, -3.5))
    board.add_market(MarketKey("ev", SPREAD, -4.0))
    board.update([Quote("ev:spread:-3.5", 0, "a", 2.2, 0), Quote("ev:spread:-4", 1, "b", 2.2, 0)])
    assert Scanner(board, ArbConfig()).scan(now=0) == []


def test_three_way_needs_all_outcomes():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", MONEYLINE, None, three_way=True))
    mid = "ev:moneyline"
    board.update([Quote(mid, 0, "a", 3.0, 0), Quote(mid, 2, "b", 3.0, 0)])
    assert Scanner(board, ArbConfig()).scan(now=0) == []
    board.update([Quote(mid, 1, "c", 3.5, 0)])
    [opp] = Scanner(board, ArbConfig()).scan(now=0)
    assert [leg.book for leg in opp.legs] == ["a", "c", "b"]


def test_commission_can_kill_an_arbitrage():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 2.5))
    mid = "ev:total:+2.5"
    board.update([Quote(mid, 0, "betfair", 2.04, 0), Quote(mid, 1, "pinnacle", 2.0, 0)])
    assert len(Scanner(board, ArbConfig()).scan(now=0)) == 1
    assert Scanner(board, ArbConfig(commission={"betfair": 0.05})).scan(now=0) == []


def test_stale_quotes_are_ignored_and_age_reported():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 2.5))
    mid = "ev:total:+2.5"
    board.update([Quote(mid, 0, "a", 2.1, 10.0), Quote(mid, 1, "b", 2.1, 50.0)])
    [opp] = Scanner(board, ArbConfig(max_age=60)).scan(now=60.0)
    assert opp.age(60.0) == 50.0
    assert Scanner(board, ArbConfig(max_age=30)).scan(now=60.0) == []


def test_suspect_edge_flagged():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 2.5))
    mid = "ev:total:+2.5"
    board.update([Quote(mid, 0, "a", 3.0, 0), Quote(mid, 1, "b", 3.0, 0)])
    [opp] = Scanner(board, ArbConfig(max_edge=10)).scan(now=0)
    assert opp.suspect and opp.edge == pytest.approx(100 / 3)
    assert opp.suspect_reason == "edge above max"


def test_every_leg_at_one_book_is_suspect_single_book():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", MONEYLINE, None, True))
    mid = "ev:moneyline"
    # Seen in a real season: one bookmaker at 2.9 / 3.6 / 2.65 (S = 0.9994).
    board.update([Quote(mid, 0, "bwin", 2.9, 0), Quote(mid, 1, "bwin", 3.6, 0), Quote(mid, 2, "bwin", 2.65, 0),
                  Quote(mid, 0, "other", 2.0, 0)])
    [opp] = Scanner(board, ArbConfig(max_age=0)).scan(now=0)
    assert {leg.book for leg in opp.legs} == {"bwin"} and opp.edge < 1
    assert opp.suspect and opp.suspect_reason == "single book"
    board.update([Quote(mid, 1, "other", 3.7, 0)])
    [opp] = Scanner(board, ArbConfig(max_age=0)).scan(now=0)
    assert not opp.suspect and opp.suspect_reason is None


def test_rounding_that_kills_the_profit_drops_the_opportunity():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 2.5))
    mid = "ev:total:+2.5"
    board.update([Quote(mid, 0, "a", 2.01, 0), Quote(mid, 1, "b", 2.0, 0)])
    assert len(Scanner(board, ArbConfig()).scan(now=0)) == 1
    assert Scanner(board, ArbConfig(stake_rounding=25)).scan(now=0) == []


def test_withdrawn_quote_and_closed_market():
    board = QuoteBoard()
    board.add_market(MarketKey("ev", TOTAL, 2.5))
    mid = "ev:total:+2.5"
    changed = board.update([Quote(mid, 0, "a", 2.1, 0), Quote(mid, 1, "b", 2.1, 0)])
    assert changed.tolist() == [0]
    assert board.update([Quote(mid, 0, "a", 2.1, 5)]).tolist() == []
    board.update([Quote(mid, 0, "a", math.nan, 1)])
    assert Scanner(board, ArbConfig()).scan(now=0) == []
    board.close_market(mid)
    assert board.update([Quote(mid, 0, "a", 2.1, 0)]).tolist() == []
