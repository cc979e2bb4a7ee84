"""Back-lay arbitrage (issue 24): the worked example, the rules of the scan, against a plain reference."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from engine.arbitrage import ArbConfig
from engine.backlay import hedge, scan
from engine.board import LAY, Quote, QuoteBoard
from engine.markets import MONEYLINE, MarketKey


def board_with(quotes):  # type: ignore[no-untyped-def]
    board = QuoteBoard(market_capacity=4, book_capacity=2)
    board.add_market(MarketKey("e", MONEYLINE))
    board.update(quotes)
    return board


def test_the_worked_example():
    h = hedge(10.0, 2.25, 2.22, 0.02)
    assert round(h.lay_stake, 4) == 10.2273 and round(h.profit, 4) == 0.0227
    assert h.liability == pytest.approx(h.lay_stake * 1.22)
    # Either way the same: the selection wins (back pays, the lay pays its liability) or loses.
    assert 10 * 1.25 - h.liability == pytest.approx(h.lay_stake * 0.98 - 10)
    board = board_with([Quote("e:moneyline", 0, "book", 2.25, 1.0), Quote("e:moneyline", 0, "exchange", 2.22, 1.0, LAY)])
    [opp] = scan(board, ArbConfig(commission={"exchange": 0.02}, total_stake=10.0), 1.0)
    back, lay = opp.legs
    assert (back.side, back.book, back.stake, lay.side, lay.book) == ("back", "book", 10.0, "lay", "exchange")
    assert round(lay.stake, 4) == 10.2273 and round(opp.profit, 4) == 0.0227 and round(opp.edge, 3) == 0.227
    assert opp.roi == pytest.approx(opp.profit / (10 + lay.liability) * 100)


def test_no_opportunity_at_the_exchange_itself_without_a_lay_or_when_stale():
    market = "e:moneyline"
    assert scan(board_with([Quote(market, 0, "exchange", 2.5, 1.0), Quote(market, 0, "exchange", 2.2, 1.0, LAY)]),
                ArbConfig(), 1.0) == []  # backing and laying at one exchange is no arbitrage
    assert scan(board_with([Quote(market, 0, "book", 2.5, 1.0)]), ArbConfig(), 1.0) == []
    stale = board_with([Quote(market, 0, "book", 2.5, 1.0), Quote(market, 0, "exchange", 2.2, 100.0, LAY)])
    assert scan(stale, ArbConfig(max_age=10.0), 105.0) == []  # the back quote is 104 s old
    assert len(scan(stale, ArbConfig(max_age=10.0), 5.0)) == 1


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from(["b1", "b2", "x1", "x2"]), st.sampled_from(["back", "lay"]),
                          st.floats(1.2, 6.0)), max_size=16),
       st.sampled_from([{}, {"x1": 0.05, "b2": 0.02}]), st.sampled_from([0.0, 1.0]))
def test_the_scan_finds_what_a_plain_search_over_every_back_and_lay_finds(quotes, commission, unit):
    board = board_with([Quote("e:moneyline", o, book, round(p, 2), 1.0, side) for o, book, side, p in quotes])
    config = ArbConfig(commission=commission, stake_rounding=unit)
    got = {(o.outcome, o.legs[0].book, o.legs[1].book): o.profit for o in scan(board, config, 1.0)}
    backs: dict[tuple[int, str], float] = {}
    lays: dict[tuple[int, str], float] = {}
    for o, book, side, p in quotes:
        (lays if side == "lay" else backs)[(o, book)] = round(p, 2)
    want: dict[int, tuple[float, tuple[int, str, str]]] = {}
    for (o, back_book), back in backs.items():
        for (lo, exchange), lay in lays.items():
            if lo != o or exchange == back_book:
                continue
            effective = 1 + (back - 1) * (1 - commission.get(back_book, 0.0))
            c = commission.get(exchange, 0.0)
            lay_stake = 100 * effective / (lay - c)
            if unit:
                lay_stake = math.floor(lay_stake + 0.5)
                profit = min(100 * (effective - 1) - lay_stake * (lay - 1), lay_stake * (1 - c) - 100)
            else:
                profit = lay_stake * (1 - c) - 100
            if profit > 1e-9 and (o not in want or profit > want[o][0]):
                want[o] = (profit, (o, back_book, exchange))
    assert got == pytest.approx({key: profit for profit, key in want.values()})


def test_matched_betting_worked_examples():
    from engine.matched import FREE_SNR, FREE_SR, QUALIFYING, lay_off

    q = lay_off(QUALIFYING, 100, 2.5, 2.6, 0.05)
    assert (round(q.lay_stake, 2), round(q.liability, 2)) == (98.04, 156.86)
    assert round(q.if_back_wins, 2) == round(q.if_lay_wins, 2) == -6.86 and round(q.rating, 2) == 93.14
    f = lay_off(FREE_SNR, 50, 3.0, 3.05, 0.05)
    assert (round(f.lay_stake, 2), round(f.liability, 2)) == (33.33, 68.33)
    assert round(f.if_back_wins, 2) == round(f.if_lay_wins, 2) == 31.67 and round(f.rating, 2) == 63.33
    s = lay_off(FREE_SR, 50, 3.0, 3.05, 0.05)
    assert s.lay_stake == pytest.approx(3.0 * 50 / 3.0) and s.if_back_wins == pytest.approx(s.if_lay_wins)
    assert s.if_back_wins == pytest.approx(50 * 3.0 - s.lay_stake * 2.05)


def test_an_exchange_as_the_sharp_gives_its_back_lay_midpoints_scaled_to_the_winners():
    from engine.value import ValueConfig, ValueScanner

    market = "e:moneyline"
    board = board_with([Quote(market, 0, "betfair", 2.0, 1.0), Quote(market, 0, "betfair", 2.04, 1.0, LAY),
                        Quote(market, 1, "betfair", 2.04, 1.0, LAY),  # only a lay on the away side
                        Quote(market, 0, "soft", 2.2, 1.0), Quote(market, 1, "soft", 1.9, 1.0)])
    scanner = ValueScanner(board, ValueConfig(sharp=("betfair",), method="shin", min_ev=1.0))
    line = scanner.fair(1.0)
    home, away = (1 / 2.0 + 1 / 2.04) / 2, 1 / 2.04
    assert line.p[0, :2] == pytest.approx([home / (home + away), away / (home + away)])  # whatever --devig says
    assert line.hold[0] == pytest.approx((home + away - 1) * 100)
    [bet] = scanner.scan(1.0)
    assert (bet.book, bet.outcome) == ("soft", 0) and bet.ev == pytest.approx((line.p[0, 0] * 2.2 - 1) * 100)
    # A bookmaker as the sharp is read as before: its 2.2 / 1.9 is a line under 100 %, a data error, no fair line.
    assert ValueScanner(board, ValueConfig(sharp=("soft",), method="multiplicative")).fair(1.0).rows.size == 0


def test_commission_on_net_winnings_per_market_shares_to_the_cent():
    from decimal import Decimal

    from sbws.ledger.rules import commission_shares, lay_outcome, liability_cents

    # The example: net winnings 400 at a 5 % base rate with a 40 % discount (3 %) → 12.
    assert commission_shares([("a", 10000, 50000)], Decimal("0.03")) == {"a": 1200}
    # Netted over the market: a 300 win and a 200 loss are 100 of winnings; the loser pays nothing.
    assert commission_shares([("w", 10000, 40000), ("l", 20000, 0)], Decimal("0.05")) == {"w": 500}
    assert commission_shares([("w", 10000, 15000), ("l", 20000, 0)], Decimal("0.05")) == {}  # a net loss
    shares = commission_shares([("a", 1000, 1333), ("b", 1000, 1333), ("c", 1000, 1334)], Decimal("0.05"))
    assert sum(shares.values()) == 50 and max(shares, key=shares.get) == "c"  # 1000 cents of winnings: 50, exactly
    assert liability_cents(1000, 122, "2.22") == 1220 and liability_cents(333, 0, "1.5") == 167  # half up
    assert (lay_outcome("won"), lay_outcome("lost"), lay_outcome("push")) == ("lost", "won", "push")


def test_a_lay_walks_the_ladder_at_its_volume_weighted_price():
    from engine.backlay import walk

    one = walk(10.0, 2.25, ((2.22, 1000.0),), 0.02)
    assert round(one.lay_stake, 4) == 10.2273 and one.filled and one.levels == ((2.22, one.lay_stake),)
    deep = walk(100.0, 2.25, ((2.22, 40.0), (2.24, 50.0), (2.30, 500.0)), 0.02)
    volume = sum(t for _p, t in deep.levels)
    assert [p for p, _t in deep.levels] == [2.22, 2.24, 2.30] and deep.levels[0][1] == 40.0
    assert volume == pytest.approx(deep.lay_stake) and deep.price == pytest.approx(
        sum(p * t for p, t in deep.levels) / volume)
    assert deep.lay_stake == pytest.approx(100 * 2.25 / (deep.price - 0.02))  # the hedge at the walked price
    assert deep.profit == pytest.approx(100 * 1.25 - deep.liability)  # the same whatever the result
    short = walk(100.0, 2.25, ((2.22, 40.0),), 0.02)
    assert not short.filled and short.levels == ((2.22, 40.0),)
