"""Outrights without a server (issue 23): runner identity, the market state's runner board, snapshots, value and
closing lines on k winners, settlement by placing, the simulator's fields and the recorded Odds API outrights."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.arbitrage import ArbConfig
from engine.board import Quote
from engine.markets import MONEYLINE, OUTRIGHT, MarketKey, runner_id
from engine.value import ValueConfig
from sbws.feeds import sim_outrights
from sbws.feeds.odds_api import OddsMapper, sports_with_outrights
from sbws.ledger.models import LOST, VOID, WON
from sbws.ledger.rules import placed_outcome
from sbws.market.records import Batch, BookStatus, EventInfo, EventResult, Runner, RunnerQuote
from sbws.market.state import MarketState
from tests.helpers import SHARED

ODDS_API = SHARED / "data" / "odds-api"


def test_runner_ids_fold_case_accents_punctuation_and_spacing():
    same = ["Ludvig Åberg", "LUDVIG ABERG", "Ludvig  Aberg.", " ludvig-aberg ", "Ludvig Aberg"]
    assert {runner_id(n) for n in same} == {"ludvig-aberg"}
    assert runner_id("Thorbjørn Olesen") == runner_id("Thorbjorn Olesen") == "thorbjorn-olesen"
    assert runner_id("Nicolai Højgaard") == "nicolai-hojgaard" and runner_id("Straße") == "strasse"
    assert runner_id("St. Louis Cardinals") == "st-louis-cardinals" and runner_id("A&M") == "a-and-m"
    assert runner_id("J.J. Spaun") == "j-j-spaun" and runner_id("Æro Œuvre") == "aero-oeuvre"
    assert len(runner_id("x" * 300)) == 48 and not runner_id("a " * 40).endswith("-")
    with pytest.raises(ValueError):
        runner_id("???")


def test_a_market_of_several_winners_has_its_own_id_and_needs_one_winner():
    assert MarketKey("race", OUTRIGHT).id == "race:outright"
    assert MarketKey("race", OUTRIGHT, winners=3).id == "race:outright:top3"
    with pytest.raises(ValueError):
        MarketKey("race", OUTRIGHT, winners=0)


def outright_state(sharp=("pin",)):  # type: ignore[no-untyped-def]
    state = MarketState(ArbConfig(), ValueConfig(sharp=sharp, method="multiplicative", min_ev=1.0))
    event = EventInfo("race", "Horse Racing", "Sim Downs", "", "", 10**13, title="Race 1")
    state.apply(Batch(1.0, [event], [MarketKey("race", OUTRIGHT), MarketKey("race", OUTRIGHT, winners=2)],
                      runners=[Runner("race:outright", "silver-arrow", "Silver Arrow")]))
    return state


def test_runners_join_when_any_book_prices_them_and_keep_their_first_name():
    state = outright_state()
    win = "race:outright"
    state.apply(Batch(2.0, runner_quotes=[RunnerQuote(win, "silver-arrow", "pin", 2.2, 2.0),
                                          RunnerQuote(win, "golden-echo", "pin", 3.0, 2.0),
                                          RunnerQuote(win, "wild-rover", "soft", 5.0, 2.0)]))
    assert state.outcomes(win) == ("silver-arrow", "golden-echo", "wild-rover")
    view = state.view(win)
    assert [s.name for s in view.selections] == ["Silver Arrow", "golden-echo", "wild-rover"]
    state.apply(Batch(3.0, runners=[Runner(win, "golden-echo", "Golden Echo")]))  # a name arriving late
    assert state.view(win).selections[1].name == "Golden Echo"
    # The soft book never priced two runners: the pin alone is complete... it omits wild-rover, so no fair line.
    assert state.fair_line(win) is None
    assert state.view(win).hold == pytest.approx((1 / 2.2 + 1 / 3 + 1 / 5 - 1) * 100)
    assert state.view(win).winners == 1


def test_a_place_market_of_k_winners_de_vigs_to_k_and_finds_value_and_arbitrage():
    state = outright_state()
    place = "race:outright:top2"
    sharp = [1.25, 1.6, 2.5, 4.0]  # Σ 1/d = 2.075 over k = 2: a 3.75 % margin
    names = ["a", "b", "c", "d"]
    quotes = [RunnerQuote(place, n, "pin", d, 2.0) for n, d in zip(names, sharp)]
    quotes += [RunnerQuote(place, "d", "soft", 4.6, 2.0)]
    state.apply(Batch(2.0, runner_quotes=quotes))
    fair = state.fair_line(place)
    s = sum(1 / d for d in sharp)
    assert fair is not None and fair.p == pytest.approx([2 / d / s for d in sharp]) and sum(fair.p) == pytest.approx(2)
    assert fair.hold == pytest.approx((s - 2) / 2 * 100)
    assert state.view(place).hold == pytest.approx(((s - 1 / 4 + 1 / 4.6) - 2) / 2 * 100)
    [value] = state.live("value").items.values()
    assert value.item.book == "soft" and value.item.outcome == 3
    assert value.item.ev == pytest.approx((2 / 4 / s * 4.6 - 1) * 100)
    assert not state.live("arbitrage").items
    soft = (1.6, 2.0, 3.0, 4.6)
    state.apply(Batch(3.0, runner_quotes=[RunnerQuote(place, n, "soft", d, 3.0) for n, d in zip(names, soft)]))
    [arb] = state.live("arbitrage").items.values()
    total = sum(1 / d for d in soft)  # the soft book is best on every runner now, and Σ 1/best < 2
    assert arb.item.market_id == place and arb.item.roi == pytest.approx((2 / total - 1) * 100)


def test_a_snapshot_rebuilds_runners_in_their_order_with_their_names():
    state = outright_state()
    win = "race:outright"
    state.apply(Batch(2.0, runners=[Runner(win, "b", "Bee"), Runner(win, "a", "Ay")],
                      runner_quotes=[RunnerQuote(win, "a", "pin", 4.0, 2.0)]))  # b has no price at all
    rebuilt = MarketState(ArbConfig())
    rebuilt.apply(Batch.from_json(state.snapshot().to_json()))
    assert rebuilt.outcomes(win) == state.outcomes(win) == ("silver-arrow", "b", "a")
    assert [s.name for s in rebuilt.view(win).selections] == ["Silver Arrow", "Bee", "Ay"]
    assert rebuilt.price(win, 2, "pin") == 4.0 and rebuilt.view(win).hold is None


def test_outright_markets_leave_with_their_event_and_settle_by_placing():
    state = outright_state()
    changes = state.apply(Batch(2.0, results=[EventResult("race", placing=["b", "a"])]))
    assert changes.gone == {"race:outright", "race:outright:top2"} and state.outcomes("race:outright") == ()
    assert changes.results[0].placing == ("b", "a")
    assert placed_outcome("b", ("b", "a"), 1) == WON and placed_outcome("a", ("b", "a"), 1) == LOST
    assert placed_outcome("a", ("b", "a", "c"), 2) == WON and placed_outcome("c", ("b", "a", "c"), 2) == LOST
    assert placed_outcome("a", (), 1) == VOID


def test_harville_place_probabilities_equal_an_enumeration_of_every_finishing_order():
    p = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
    for places in (1, 2, 3):
        exact = np.zeros(p.size)
        for order in itertools.permutations(range(p.size)):
            prob, left = 1.0, 1.0
            for runner in order:
                prob *= p[runner] / left
                left -= p[runner]
            for runner in order[:places]:
                exact[runner] += prob
        got = sim_outrights.place_probabilities(p, places)
        assert got == pytest.approx(exact, abs=1e-12) and got.sum() == pytest.approx(places)


def test_the_simulated_finishing_order_wins_as_often_as_the_truth_says():
    rng = np.random.default_rng(5)
    field = sim_outrights.race("r", rng)
    wins = {r: 0 for r in field.ids}
    draws = 20000
    for _ in range(draws):
        wins[sim_outrights.finishing_order(field, rng)[0]] += 1
    for runner, p in zip(field.ids, field.win()):
        assert wins[runner] / draws == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / draws) + 1e-3)


def test_simulated_fields_are_the_sizes_asked_with_distinct_runners():
    rng = np.random.default_rng(1)
    for _ in range(5):
        golf, race = sim_outrights.golf("g", rng), sim_outrights.race("r", rng)
        assert 60 <= len(golf.ids) <= 150 and len(set(golf.ids)) == len(golf.ids)
        assert 8 <= len(race.ids) <= 14 and [k.winners for k in race.markets] == [1, 2 if len(race.ids) < 12 else 3]


def test_the_recorded_world_series_outrights_map_to_one_market_of_every_books_runners():
    body = json.loads((ODDS_API / "baseball-outrights.json").read_text())
    mapper = OddsMapper()
    parsed = mapper.parse(body, 0)
    [event] = body
    market_id = f"{event['id']}:outright"
    assert [m.id for m in parsed.markets] == [market_id] and parsed.events[0].description == event["sport_title"]
    backs = {b["key"]: {o["name"]: o["price"] for m in b["markets"] if m["key"] == "outrights" for o in m["outcomes"]}
             for b in event["bookmakers"]}
    every = {runner_id(name) for runners in backs.values() for name in runners}
    assert len(backs["unibet"]) == len(backs["betfair"]) == 30 and len(every) == 30  # the same teams, one id each
    assert {r.id for r in parsed.runners} == every  # a runner any book prices is a runner
    assert {(q.runner, q.book, q.price) for q in parsed.runner_quotes if q.side == "back"} == {
        (runner_id(name), book, price) for book, runners in backs.items() for name, price in runners.items()}
    lays = {o["name"]: o["price"] for b in event["bookmakers"] for m in b["markets"] if m["key"] == "outrights_lay"
            for o in m["outcomes"]}
    assert len(lays) == 20 and {(q.runner, q.book, q.price) for q in parsed.runner_quotes if q.side == "lay"} == {
        (runner_id(name), "betfair", price) for name, price in lays.items()}  # Betfair's lays: lay quotes, never backs
    assert sports_with_outrights([{"key": "baseball_mlb_world_series_winner", "has_outrights": True},
                                  {"key": "basketball_nba", "has_outrights": False}]) == {
        "baseball_mlb_world_series_winner"}


def test_an_outrights_closing_line_is_its_last_fair_line_before_the_start_for_every_runner():
    state = MarketState(ArbConfig(), ValueConfig(sharp=("pin",), method="multiplicative"))
    start_ms = 10_000
    state.apply(Batch(1.0, [EventInfo("golf", "Golf", "PGA Tour", "", "", start_ms, title="Open")],
                      [MarketKey("golf", OUTRIGHT)]))
    market = "golf:outright"
    state.apply(Batch(2.0, runner_quotes=[RunnerQuote(market, r, "pin", d, 2.0) for r, d in (("a", 2.0), ("b", 3.0),
                                                                                           ("c", 4.0))]))
    state.apply(Batch(3.0, runner_quotes=[RunnerQuote(market, "a", "pin", 2.2, 3.0)]))
    [(event, closing)] = state.closing_lines_due(start_ms + 1)
    s = 1 / 2.2 + 1 / 3 + 1 / 4
    assert event == "golf" and closing == pytest.approx({(market, "a"): 1 / 2.2 / s, (market, "b"): 1 / 3 / s,
                                                         (market, "c"): 1 / 4 / s})
    assert state.closing_lines_due(start_ms + 2) == []


BOOKS = ("pin", "bf", "soft1", "soft2")
OPS = st.lists(st.one_of(
    st.tuples(st.just("quote"), st.integers(0, 3), st.integers(0, 3), st.sampled_from(BOOKS + ("pin", "pin", "bf")),
              st.sampled_from([0.0, 1.25, 1.5, 2.0, 2.6, 3.4, 5.0, 9.0])),
    st.tuples(st.just("offline"), st.sampled_from(BOOKS)),
    st.tuples(st.just("online"), st.sampled_from(BOOKS)),
    st.tuples(st.just("close"), st.integers(0, 3)),
), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(OPS, st.integers(1, 6))
def test_fair_lines_kept_between_sharp_moves_equal_lines_computed_from_scratch(ops, batch):
    """The market state de-vigs a market again only when its sharp quotes moved (or a runner joined, or it
    closed): after every batch of random quotes, withdrawals, books going off and on and closures, over fixed
    markets and outrights of 1 and 2 winners, every fair line and value bet equals those of a state built afresh
    from a snapshot."""
    config = ValueConfig(sharp=("pin", "bf"), method="multiplicative", min_ev=-100.0)
    state = MarketState(ArbConfig(), config)
    keys = [MarketKey("m0", MONEYLINE, three_way=True), MarketKey("m1", MONEYLINE), MarketKey("o", OUTRIGHT),
            MarketKey("o", OUTRIGHT, winners=2)]
    event = [EventInfo(e, "X", "X", "a", "b", 10**13) for e in ("m0", "m1", "o")]
    opening = [RunnerQuote(k.id, f"r{o}", b, 1 / (p * 1.1), 0.5) for k, ps in zip(keys[2:], ((0.5, 0.25, 0.25),
                                                                                             (0.8, 0.6, 0.6)))
               for b in ("pin", "bf") for o, p in enumerate(ps)]  # the outrights open with three runners, complete
    state.apply(Batch(0.0, event, keys, runner_quotes=opening))
    assert all(state.fair_line(k.id) is not None for k in keys[2:])  # lines to keep, compared from the first batch
    offline: set[str] = set()  # a book reported offline quotes again only once it is back
    for start in range(0, len(ops), batch):
        quotes, runner_quotes, statuses, closed = [], [], [], []
        for op in ops[start:start + batch]:
            if op[0] == "quote" and op[3] not in offline:
                _, m, o, book, price = op
                key = keys[m]
                if key.outright:
                    runner_quotes.append(RunnerQuote(key.id, f"r{o}", book, price, 1.0))
                elif o < len(key.outcomes):
                    quotes.append(Quote(key.id, o, book, price, 1.0))
            elif op[0] in ("offline", "online"):
                statuses.append(BookStatus(op[1], op[1], op[0]))
                (offline.add if op[0] == "offline" else offline.discard)(op[1])
            elif op[0] == "close":
                closed.append(keys[op[1]].id)
        state.apply(Batch(1.0, quotes=quotes, runner_quotes=runner_quotes, statuses=statuses, closed=closed))
        fresh = MarketState(ArbConfig(), config)
        fresh.apply(state.snapshot())
        for key in keys:
            mine, theirs = state.fair_line(key.id), fresh.fair_line(key.id)
            assert (mine is None) == (theirs is None), key.id
            if mine is not None and theirs is not None:
                assert mine.p == pytest.approx(theirs.p) and mine.books == theirs.books
                assert mine.hold == pytest.approx(theirs.hold)
        got = {i: live.item.ev for i, live in state.live("value").items.items()}
        want = {i: live.item.ev for i, live in fresh.live("value").items.items()}
        assert got.keys() == want.keys() and all(got[i] == pytest.approx(want[i]) for i in got)


def test_a_runner_joining_unpriced_changes_its_market_and_ends_its_line_and_arbitrage():
    state = MarketState(ArbConfig(), ValueConfig(sharp=("pin",), method="multiplicative"))
    state.apply(Batch(1.0, [EventInfo("o", "Golf", "PGA Tour", "", "", 10**13, title="Open")], [MarketKey("o", OUTRIGHT)]))
    market = "o:outright"
    state.apply(Batch(2.0, runner_quotes=[RunnerQuote(market, "a", "pin", 1.8, 2.0), RunnerQuote(market, "b", "pin", 2.2, 2.0),
                                          RunnerQuote(market, "a", "soft", 2.5, 2.0), RunnerQuote(market, "b", "soft", 2.5, 2.0)]))
    assert state.fair_line(market) is not None and state.live("arbitrage").items  # 1/2.5 + 1/2.5 < 1
    changes = state.apply(Batch(3.0, runners=[Runner(market, "c", "Late Entry")]))
    assert changes.markets == {market} and state.outcomes(market) == ("a", "b", "c")
    assert state.fair_line(market) is None and not state.live("arbitrage").items
    assert state.view(market).hold is None and state.view(market).selections[2].name == "Late Entry"


def test_a_field_of_500_runners_is_one_market_with_its_hold_arbitrage_and_value():
    state = MarketState(ArbConfig(total_stake=1000.0), ValueConfig(sharp=("pin",), method="multiplicative"))
    state.apply(Batch(1.0, [EventInfo("big", "Golf", "Tour", "", "", 10**13, title="Big field")], [MarketKey("big", OUTRIGHT)]))
    market, n = "big:outright", 500
    sharp = [RunnerQuote(market, f"r{i}", "pin", n / 1.05, 2.0) for i in range(n)]  # Σ 1/d = 1.05
    state.apply(Batch(2.0, runner_quotes=sharp))
    view = state.view(market)
    assert len(view.selections) == n and view.hold == pytest.approx(5.0)
    assert state.fair_line(market).p == pytest.approx([1 / n] * n)
    assert not state.live("arbitrage").items and not state.live("value").items
    soft = [RunnerQuote(market, f"r{i}", "soft", n * 1.02, 3.0) for i in range(n)]  # every runner 2 % over fair
    state.apply(Batch(3.0, runner_quotes=soft))
    [arb] = state.live("arbitrage").items.values()
    assert len(arb.item.legs) == n and arb.item.roi == pytest.approx(2.0) and arb.item.profit == pytest.approx(20.0)
    assert len(state.live("value").items) == n  # EV 2 % at the soft book on every runner
