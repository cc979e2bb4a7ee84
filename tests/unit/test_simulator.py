"""The embedded simulator: deterministic, realistic enough to exercise everything."""

from __future__ import annotations

import itertools

from engine.arbitrage import ArbConfig
from engine.markets import MONEYLINE, OUTRIGHT, SPREAD, TOTAL
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
    matches = [e for e in first.events if not e.title]
    assert len(matches) == 40
    assert {e.sport for e in matches} == {"NBA", "NFL", "MLB", "NHL", "Soccer"}
    outrights = [e for e in first.events if e.title]
    assert sorted(e.sport for e in outrights) == ["Golf", "Horse Racing", "Horse Racing"]
    assert len({s.id for s in first.statuses}) == 12
    kinds = {(s.market_type, s.three_way, s.winners) for s in first.markets}
    assert {(MONEYLINE, False, 1), (MONEYLINE, True, 1), (SPREAD, False, 1), (TOTAL, False, 1), (OUTRIGHT, False, 1)} <= kinds
    assert {(OUTRIGHT, False, 2), (OUTRIGHT, False, 3)} & kinds  # a race's place market pays 2 or 3
    declared = {r.market_id for r in first.runners}
    assert declared == {s.id for s in first.markets if s.market_type == OUTRIGHT}
    assert {q.market_id for q in first.runner_quotes} == declared
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


def test_races_settle_from_the_truth_by_placing_and_are_replaced():
    """Every outright event ends with a finishing order of its own runners, its markets closed first; a new field
    takes its place, so three outright events are always on."""
    sim = Simulator(seed=2, realtime=False, clock=fixed_clock(), events=2, speed=20)
    runners: dict[str, set[str]] = {}
    closed: set[str] = set()
    settled = []
    for _ in range(400):
        batch = sim.step()
        for r in batch.runners:
            runners.setdefault(r.market_id.split(":")[0], set()).add(r.id)
        closed.update(batch.closed)
        for result in batch.results:
            if result.placing:
                settled.append(result)
                assert f"{result.event_id}:outright" in closed
                assert set(result.placing) <= runners[result.event_id] and len(set(result.placing)) == 5
        assert sum(1 for f in sim.fields if f is not None) == 3
    assert len({r.event_id for r in settled}) >= 3
