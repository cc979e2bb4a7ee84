"""Protocol v2 without a server: image plus deltas equals the state, merged deltas equal the steps, resume fills gaps."""

from __future__ import annotations

import copy

from hypothesis import given, settings, strategies as st

from engine.arbitrage import ArbConfig
from engine.board import Quote
from engine.markets import MONEYLINE, SPREAD, MarketKey
from sbws.fanout.stream import EPOCH_CHANGED, WINDOW_EXCEEDED, MarketStream
from sbws.market.records import Batch, EventInfo, EventResult
from sbws.market.state import MarketState
from sbws.wire import deltas, views

BOOKS = ["a", "b", "c"]
EVENTS = [EventInfo(f"e{i}", "NBA", "NBA", f"H{i}", f"A{i}", 10**13) for i in range(3)]
KEYS = [MarketKey(f"e{i}", MONEYLINE) for i in range(3)] + [MarketKey(f"e{i}", SPREAD, -2.5) for i in range(3)]

quote = st.tuples(st.sampled_from(range(len(KEYS))), st.sampled_from([0, 1]), st.sampled_from(BOOKS),
                  st.sampled_from([0.0, 1.5, 1.9, 2.0, 2.1, 3.0]))
step = st.one_of(
    st.lists(quote, min_size=1, max_size=6).map(lambda qs: ("quotes", qs)),
    st.sampled_from(range(len(KEYS))).map(lambda k: ("close", k)),
    st.sampled_from(range(3)).map(lambda e: ("result", e)),
)


def batch_for(kind, arg, t):
    if kind == "quotes":
        return Batch(t, (), (), [Quote(KEYS[k].id, o, b, p, t) for k, o, b, p in arg])
    if kind == "close":
        return Batch(t, (), (), (), [KEYS[arg].id])
    return Batch(t, (), (), (), (), [EventResult(f"e{arg}", 1, 0)])


def server_view(state):
    """What get_markets would say: every open market, whole."""
    return {m: views.market(state, m) for m in state.market_ids() if state.is_open(m)}


def run(steps):
    state = MarketState(ArbConfig())
    stream = MarketStream(window_s=1e9, active=True)
    changes = state.apply(Batch(1.0, EVENTS, KEYS))
    stream.advance(state, changes.markets | changes.defined, changes.gone, 1.0)
    client = {}
    for m, d in stream.take_pending().items():
        deltas.apply(client, d)
    history = [(stream.seq, copy.deepcopy(client))]
    for t, (kind, arg) in enumerate(steps, start=2):
        changes = state.apply(batch_for(kind, arg, float(t)))
        stream.advance(state, changes.markets | changes.defined, changes.gone, float(t))
        yield state, stream, client, history
        for d in stream.take_pending().values():
            deltas.apply(client, d)
        history.append((stream.seq, copy.deepcopy(client)))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=25))
def test_image_plus_deltas_is_the_state_at_every_step(steps):
    state = stream = client = None
    for state, stream, client, _history in run(steps):
        pass
    if state is None:
        return
    for d in stream.take_pending().values():
        deltas.apply(client, d)
    assert client == server_view(state)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=25), st.integers(1, 5))
def test_merged_deltas_take_any_intermediate_state_to_the_end(steps, every):
    """A slow client (merged deltas) and one that skipped to a later image both end at the server's state."""
    state = MarketState(ArbConfig())
    stream = MarketStream(window_s=1e9, active=True)
    changes = state.apply(Batch(1.0, EVENTS, KEYS))
    stream.advance(state, changes.markets | changes.defined, changes.gone, 1.0)
    fast, slow, merged = {}, {}, {}
    for d in stream.take_pending().values():
        deltas.apply(fast, d)
        deltas.apply(slow, d)
    for t, (kind, arg) in enumerate(steps, start=2):
        changes = state.apply(batch_for(kind, arg, float(t)))
        stream.advance(state, changes.markets | changes.defined, changes.gone, float(t))
        for m, d in stream.take_pending().items():
            deltas.apply(fast, d)
            merged[m] = deltas.merge(merged.get(m), d)
        if t % every == 0:
            for d in merged.values():
                deltas.apply(slow, d)
            merged = {}
    for d in merged.values():
        deltas.apply(slow, d)
    assert fast == slow == server_view(state)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.data())
def test_resume_from_any_point_in_the_window_reaches_the_state(steps, data):
    snapshots = []
    state = stream = None
    for state, stream, _client, history in run(steps):
        snapshots = history
    if state is None:
        return
    for _ in stream.take_pending().values():
        pass
    seq, held = data.draw(st.sampled_from(snapshots))
    resumed = copy.deepcopy(held)
    assert stream.resume_problem(stream.epoch, seq) is None
    for d in stream.resume(seq, lambda m: True):
        deltas.apply(resumed, d)
    assert resumed == server_view(state)


def test_resume_refused_outside_the_window_or_across_epochs():
    state = MarketState(ArbConfig())
    stream = MarketStream(window_s=10.0, active=True)
    for t in range(1, 30):
        changes = state.apply(Batch(float(t), EVENTS if t == 1 else (), KEYS if t == 1 else (),
                                    [Quote(KEYS[0].id, 0, "a", 1.5 + t / 100, float(t))]))
        stream.advance(state, changes.markets | changes.defined, changes.gone, float(t))
    assert stream.resume_problem("ep_other", stream.seq) == EPOCH_CHANGED
    assert stream.resume_problem(stream.epoch, 5) == WINDOW_EXCEEDED  # 24 s ago, the window is 10 s
    assert stream.resume_problem(stream.epoch, stream.seq - 5) is None
    assert stream.resume_problem(stream.epoch, stream.seq + 1) == WINDOW_EXCEEDED
    small = MarketStream(window_s=1e9, max_bytes=200, active=True)
    for t in range(1, 30):
        changes = state.apply(Batch(float(t), (), (), [Quote(KEYS[1].id, 1, "b", 1.5 + t / 100, float(t))]))
        small.advance(state, changes.markets, changes.gone, float(t))
    assert small.bytes <= 200 and small.floor > 0  # the byte bound moved the window's start


def test_a_delta_carries_only_what_changed():
    old = {"id": "m", "status": "open", "hold": 4.0, "selections": [
        {"id": "home", "name": "H", "odds": {"a": -110, "b": -105}, "decimal": {"a": 1.91, "b": 1.95}}],
        "bestOdds": {"home": {"bookmaker": "b", "odds": -105, "decimal": 1.95}}}
    new = copy.deepcopy(old)
    new["hold"] = 3.5
    del new["selections"][0]["odds"]["a"], new["selections"][0]["decimal"]["a"]
    new["selections"][0]["odds"]["b"], new["selections"][0]["decimal"]["b"] = -102, 1.98
    new["bestOdds"]["home"] = {"bookmaker": "b", "odds": -102, "decimal": 1.98}
    # Format 2: short keys, no American odds, and no best (its book stayed b; its price is b's).
    assert deltas.diff(old, new) == {"id": "m", "h": 3.5, "s": [{"id": "home", "d": {"b": 1.98, "a": None}}]}
    assert deltas.diff(new, new) is None
    moved = copy.deepcopy(new)
    moved["selections"][0]["odds"]["a"], moved["selections"][0]["decimal"]["a"] = 100, 2.0
    moved["bestOdds"]["home"] = {"bookmaker": "a", "odds": 100, "decimal": 2.0}
    assert deltas.diff(new, moved) == {"id": "m", "s": [{"id": "home", "d": {"a": 2.0}}], "b": {"home": "a"}}
    held = {"m": copy.deepcopy(old)}
    deltas.apply(held, deltas.diff(old, new))
    deltas.apply(held, deltas.diff(new, moved))
    assert held == {"m": moved}


def test_an_inactive_stream_only_counts_until_a_v2_socket_needs_it():
    state = MarketState(ArbConfig())
    stream = MarketStream()
    changes = state.apply(Batch(1.0, EVENTS, KEYS, [Quote(KEYS[0].id, 0, "a", 1.9, 1.0)]))
    stream.advance(state, changes.markets | changes.defined, changes.gone, 1.0)
    assert stream.seq == 1 and stream.views == {} and stream.pending == {}
    stream.activate(state)
    assert set(stream.views) == {k.id for k in KEYS} and stream.floor == 1
    assert stream.resume_problem(stream.epoch, 0) == WINDOW_EXCEEDED  # nothing was kept before
