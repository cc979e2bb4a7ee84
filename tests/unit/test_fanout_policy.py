"""The fan-out policy without sockets or sleeps: outbox decisions, group frames, conflation, limits, 1013."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.arbitrage import ArbConfig
from sbws.fanout.broadcaster import Broadcaster
from sbws.fanout.context import SocketContext
from sbws.fanout.audience import Audience
from sbws.fanout.delivery import Delivery
from sbws.fanout.outbox import Budget, Decision, Outbox
from sbws.fanout.stream import MarketStream
from sbws.fanout.transport import CloseCode
from sbws.fanout.versions import Fanout
from sbws.signals import ARBITRAGE_CADENCE
from sbws.tasks import TaskSet
from sbws.market.state import MarketState
from sbws.observability.metrics import Metrics
from sbws.wire.commands import Subscription
from sbws.wire.framing import text_frame
from sbws.wire.views import MarketFragments
from tests.helpers import opening_batch

BUDGET = Budget(soft_bytes=1000, hard_bytes=10_000, slow_timeout=10.0)


class MemoryTransport:
    """Records what fan-out writes; ``buffered`` and ``direct`` are set by the test."""

    def __init__(self, direct: bool = True) -> None:
        self.direct = direct
        self.pending = 0
        self.written: list[bytes] = []
        """Payloads written at once (``framed``: the frames as written)."""
        self.framed: list[bytes] = []
        self.sent: list[bytes] = []
        self.closed: tuple[int, bytes] | None = None
        self.sent_event = asyncio.Event()

    def buffered(self) -> int:
        return self.pending

    def write_now(self, framed: bytes, limit: int | None = None) -> bool:
        if not self.direct or (limit is not None and self.pending > limit):
            return False
        payload = framed[2 + {126: 2, 127: 8}.get(framed[1], 0):]
        assert framed == text_frame(payload)
        self.written.append(payload)
        self.framed.append(framed)
        return True

    async def send(self, frame: bytes) -> None:
        self.sent.append(frame)
        self.sent_event.set()

    async def close(self, code: int, reason: bytes) -> None:
        self.closed = (code, reason)


def context(name: str, transport: MemoryTransport, **subscription: object) -> SocketContext:
    ctx = SocketContext(name, None, None, None, None, 0, 0, 0, transport=transport)
    ctx.apply(Subscription(**subscription), add=True)  # type: ignore[arg-type]
    return ctx


def broadcaster() -> tuple[Broadcaster, Metrics]:
    state = MarketState(ArbConfig(max_age=0))
    metrics = Metrics()
    fragments = MarketFragments(state)
    stream = MarketStream(fragments=fragments)
    background = TaskSet()
    b = Broadcaster(Fanout(state, fragments, stream, Audience(), Delivery(metrics, BUDGET, background.spawn,
                                                                           lambda: stream.seq), {}), {})
    b.background = background  # type: ignore[attr-defined]
    b.ingest(state.apply(opening_batch()))
    return b, metrics


# -- the outbox's decisions ----------------------------------------------------------------
def test_an_empty_outbox_writes_and_a_busy_one_queues():
    box = Outbox()
    assert box.offer(BUDGET, buffered=0, now=0.0, conflatable=True) is Decision.WRITE
    box.put(b"x" * 10)
    assert box.offer(BUDGET, buffered=0, now=0.0, conflatable=True) is Decision.QUEUE
    assert box.queued_bytes == 10


def test_over_the_soft_limit_market_updates_conflate_and_others_still_queue():
    box = Outbox()
    assert box.offer(BUDGET, buffered=1500, now=5.0, conflatable=True) is Decision.CONFLATE
    assert box.over_soft_since == 5.0
    assert box.offer(BUDGET, buffered=1500, now=6.0, conflatable=False) is Decision.WRITE
    assert box.over_soft_since == 5.0, "the first time over the limit is kept"
    assert box.offer(BUDGET, buffered=10, now=7.0, conflatable=True) is Decision.WRITE
    assert box.over_soft_since is None, "back under the soft limit resets the clock"


def test_under_the_soft_limit_a_market_update_joins_the_conflated_ones_waiting():
    box = Outbox()
    assert box.offer(BUDGET, buffered=1500, now=5.0, conflatable=True) is Decision.CONFLATE
    box.conflate({"m": b"1"})
    assert box.offer(BUDGET, buffered=0, now=6.0, conflatable=True) is Decision.CONFLATE, "it must not overtake them"
    assert box.offer(BUDGET, buffered=0, now=6.0, conflatable=False) is Decision.QUEUE


def test_queued_bytes_count_towards_the_limits():
    box = Outbox()
    box.put(b"x" * 900)
    assert box.offer(BUDGET, buffered=200, now=0.0, conflatable=True) is Decision.CONFLATE


def test_the_hard_limit_closes():
    assert Outbox().offer(BUDGET, buffered=10_001, now=0.0, conflatable=False) is Decision.CLOSE


def test_too_long_over_the_soft_limit_closes():
    box = Outbox()
    assert box.offer(BUDGET, buffered=2000, now=100.0, conflatable=True) is Decision.CONFLATE
    assert box.offer(BUDGET, buffered=2000, now=110.0, conflatable=True) is Decision.CONFLATE
    assert box.offer(BUDGET, buffered=2000, now=110.5, conflatable=False) is Decision.CLOSE


def test_a_closing_outbox_drops_everything():
    box = Outbox()
    box.put(b"abc")
    box.conflate({"m": b"{}"})
    box.shut()
    assert (box.frames, box.conflated, box.queued_bytes) == (None, {}, 0)
    assert box.offer(BUDGET, buffered=0, now=0.0, conflatable=False) is Decision.DROP


@settings(max_examples=300, deadline=None)
@given(queued=st.lists(st.integers(1, 3000), max_size=3), conflated=st.booleans(), closing=st.booleans(),
       over_since=st.one_of(st.none(), st.floats(0, 20)), buffered=st.integers(0, 12_000), now=st.floats(0, 20),
       conflatable=st.booleans())
def test_the_fast_path_writes_exactly_when_offer_says_write(queued, conflated, closing, over_since, buffered, now,
                                                            conflatable):
    """The fan-out writes at once when ``clear`` and the buffer is within the soft limit: always a WRITE."""
    def box() -> Outbox:
        b = Outbox()
        for size in queued:
            b.put(b"x" * size)
        if conflated:
            b.conflate({"m": b"{}"})
        b.over_soft_since, b.closing = over_since, closing
        return b
    if box().clear and buffered <= BUDGET.soft_bytes:
        assert box().offer(BUDGET, buffered, now, conflatable) is Decision.WRITE


def test_conflation_keeps_the_newest_state_per_market():
    box = Outbox()
    box.conflate({"a": b"1", "b": b"1"})
    box.conflate({"a": b"2"})
    assert box.take_conflated() == {"a": b"2", "b": b"1"}
    assert box.conflated == {}


# -- the broadcaster over memory transports ----------------------------------------------------
def test_sockets_with_the_same_filters_share_one_frame_object():
    b, metrics = broadcaster()
    t1, t2, t3 = MemoryTransport(), MemoryTransport(), MemoryTransport()
    for ctx in (context("a", t1, sports=frozenset({"NBA"})), context("b", t2, sports=frozenset({"NBA"})),
                context("c", t3, sports=frozenset({"NFL"}))):
        b.audience.add(ctx)
    assert len(b.audience.groups) == 2
    b.dirty = {"lal-bos:moneyline", "kc-buf:moneyline"}
    b.push_markets()
    assert len(t1.written) == len(t2.written) == len(t3.written) == 1
    assert t1.framed[0] is t2.framed[0], "one frame built per group, not per socket"
    assert [m["id"] for m in orjson.loads(t1.written[0])["markets"]] == ["lal-bos:moneyline"]
    assert [m["id"] for m in orjson.loads(t3.written[0])["markets"]] == ["kc-buf:moneyline"]
    assert metrics.messages_out.labels("market_update")._value.get() == 3


def test_without_a_direct_write_the_frame_waits_for_the_writer_task():
    async def run() -> None:
        b, _ = broadcaster()
        t = MemoryTransport(direct=False)
        ctx = context("a", t, sports=frozenset({"NBA"}))
        b.audience.add(ctx)
        b.dirty = {"lal-bos:moneyline"}
        b.push_markets()
        assert t.written == [] and len(ctx.outbox.frames or ()) == 1 and ctx.outbox.draining
        await asyncio.wait_for(t.sent_event.wait(), 1.0)  # the writer task the queued frame started
        assert orjson.loads(t.sent[0])["markets"][0]["id"] == "lal-bos:moneyline"
        await asyncio.wait_for(b.background.drain(), 1.0)
        assert not ctx.outbox.draining, "the writer ends once nothing waits"

    asyncio.run(run())


def test_a_slow_socket_gets_one_conflated_frame_with_the_newest_markets():
    async def run() -> None:
        b, metrics = broadcaster()
        slow, fast = MemoryTransport(), MemoryTransport()
        slow_ctx = context("slow", slow, sports=frozenset({"NBA"}))
        b.audience.add(slow_ctx)
        b.audience.add(context("fast", fast, sports=frozenset({"NBA"})))
        slow.pending = 5000  # over the soft limit, under the hard one
        for _ in range(3):
            b.dirty = {"lal-bos:moneyline", "lal-bos:total:+221.5"}
            b.push_markets()
        assert len(fast.written) == 3 and slow.written == []
        assert set(slow_ctx.outbox.conflated) == {"lal-bos:moneyline", "lal-bos:total:+221.5"}
        assert metrics.conflated._value.get() == 6
        slow.pending = 0
        await asyncio.wait_for(slow.sent_event.wait(), 1.0)
        message = orjson.loads(slow.sent[0])
        assert message["conflated"] is True and message["total"] == 2
        await asyncio.wait_for(b.background.drain(), 1.0)

    asyncio.run(run())


def test_past_the_hard_limit_the_socket_is_closed_with_1013_and_others_continue():
    async def run() -> None:
        b, metrics = broadcaster()
        stuck, fine = MemoryTransport(), MemoryTransport()
        stuck_ctx = context("stuck", stuck, sports=frozenset({"NBA"}))
        b.audience.add(stuck_ctx)
        b.audience.add(context("fine", fine, sports=frozenset({"NBA"})))
        stuck.pending = 20_000
        b.dirty = {"lal-bos:moneyline"}
        b.push_markets()
        await b.background.drain()  # type: ignore[attr-defined]
        assert stuck.closed == (CloseCode.TRY_AGAIN_LATER, b"slow consumer")
        assert stuck_ctx.outbox.closing and metrics.slow_closed._value.get() == 1
        assert len(fine.written) == 1
        b.dirty = {"lal-bos:moneyline"}
        b.push_markets()
        assert stuck.written == [] and len(fine.written) == 2

    asyncio.run(run())


@pytest.mark.parametrize("closed", [set(), {"gone"}])
def test_arbitrage_frames_go_only_to_arbitrage_groups(closed):
    b, _ = broadcaster()
    arb, markets_only = MemoryTransport(), MemoryTransport()
    b.audience.add(context("arb", arb, arbitrage=True))
    b.audience.add(context("m", markets_only, sports=frozenset({"NBA"})))
    b.state.live("arbitrage").closed = set(closed)
    b.push_signals(ARBITRAGE_CADENCE)
    assert markets_only.written == []
    message = orjson.loads(arb.written[0])
    assert message["type"] == "arbitrage_update" and message["closed"] == sorted(closed)
    assert [o["marketId"] for o in message["opportunities"]] == ["lal-bos:spread:-3.5"]


def test_connection_limiter_counts_per_address_and_overall():
    from sbws.wire.limits import ConnectionLimiter

    limiter = ConnectionLimiter(max_total=3, max_per_ip=2)
    assert [limiter.admit("a"), limiter.admit("a"), limiter.admit("a")] == [None, None, "address"]
    assert limiter.admit("b") is None and limiter.admit("c") == "server"
    assert (limiter.total, limiter.per_ip) == (3, {"a": 2, "b": 1})
    limiter.release("b")
    limiter.release("a")
    assert (limiter.total, limiter.per_ip) == (1, {"a": 1})
    assert limiter.admit("c") is None


def test_v2_conflation_merges_deltas_instead_of_keeping_the_last():
    """A slow v2 socket's pending deltas become one per market that still takes it to the newest state."""
    from sbws.wire import deltas

    box = Outbox(merge=deltas.merge)
    box.conflate({"m": {"id": "m", "h": 4.0, "s": [{"id": "home", "d": {"a": 1.91}}]}}, seq=7)
    box.conflate({"m": {"id": "m", "s": [{"id": "home", "d": {"b": 2.2, "a": None}}]}}, seq=9)
    box.conflate({"n": deltas.closed("n")}, seq=9)
    merged = box.take_conflated()
    assert merged["m"] == {"id": "m", "h": 4.0, "s": [{"id": "home", "d": {"a": None, "b": 2.2}}]}
    assert merged["n"] == {"id": "n", "status": "closed"} and box.conflated_seq == 9
    client = {"m": {"id": "m", "hold": 5.0, "selections": [{"id": "home", "odds": {"a": -115}, "decimal": {"a": 1.87}}],
                    "bestOdds": {}}, "n": {"id": "n"}}
    for delta in merged.values():
        deltas.apply(client, delta)
    assert client == {"m": {"id": "m", "hold": 4.0, "selections": [{"id": "home", "odds": {"b": 120},
                                                                    "decimal": {"b": 2.2}}], "bestOdds": {}}}
