"""The embedded simulator: deterministic, realistic enough to exercise everything."""

from __future__ import annotations

import itertools

from engine.arbitrage import ArbConfig
from engine.markets import MONEYLINE, SPREAD, TOTAL
from sbws.feeds.simulator import Simulator
from sbws.market.state import MarketState


def fixed_clock():
    counter = itertools.count()
    return lambda: 1_700_000_000.0 + next(counter) * 0.5


def run(seed, ticks, **kw):
    sim = Simulator(seed=seed, realtime=False, clock=fixed_clock(), **kw)
    return sim, [sim.step() for _ in range(ticks)]


def test_same_seed_same_market():
    _, a = run(5, 200)
    _, b = run(5, 200)
    assert [x.to_json() for x in a] == [x.to_json() for x in b]
    _, c = run(6, 200)
    assert [x.to_json() for x in a] != [x.to_json() for x in c]


def test_sports_markets_and_books():
    sim, batches = run(1, 1, events=40, books=12)
    first = batches[0]
    assert len(first.events) == 40
    assert {e.sport for e in first.events} == {"NBA", "NFL", "MLB", "NHL", "Soccer"}
    assert len({s.id for s in first.statuses}) == 12
    kinds = {(s.market_type, s.three_way) for s in first.markets}
    assert {(MONEYLINE, False), (MONEYLINE, True), (SPREAD, False), (TOTAL, False)} <= kinds
    spreads = {}
    for s in first.markets:
        if s.market_type == SPREAD:
            spreads.setdefault(s.event_id, set()).add(s.line)
    assert any(len(lines) >= 2 for lines in spreads.values())  # several lines per event
    soccer = next(e for e in first.events if e.three_way)
    assert soccer.description == f"{soccer.home} vs {soccer.away}"


def test_arbitrage_appears_and_vanishes_on_its_own():
    sim = Simulator(seed=3, realtime=False, clock=fixed_clock())
    state = MarketState(ArbConfig(max_age=0))
    seen, closed = set(), set()
    for _ in range(1200):
        state.apply(sim.step())
        seen |= set(state.live("arbitrage"))
        closed |= state.live("arbitrage").take()
    assert len(seen) > 20 and len(closed) > 10
    edges = [live.item.edge for live in state.live("arbitrage").values()]
    assert all(0 < e < 30 for e in edges)


def test_events_start_finish_settle_and_are_replaced():
    sim, batches = run(2, 400, events=10, speed=100.0)
    closed = [m for b in batches for m in b.closed]
    results = [r for b in batches for r in b.results]
    new_events = [e for b in batches for e in b.events]
    assert closed and results
    assert len(new_events) > 10  # finished events were replaced
    assert all(r.home_score >= 0 and r.away_score >= 0 for r in results)
    assert sum(1 for e in sim.events.values() if not e.closed) == 10


def test_books_go_offline_and_come_back():
    _, batches = run(4, 800, events=4, books=10, speed=20.0)
    statuses = [s for b in batches[1:] for s in b.statuses]
    assert {"offline", "online"} <= {s.status for s in statuses}
    assert all(s.response_time_ms > 0 for s in statuses)
