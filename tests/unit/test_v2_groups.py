"""Protocol v2 groups under sharing and churn (issue 22, items 1 and 11): one socket's image or resume changes
nothing another socket of its group gets, and a group whose last socket left leaves nothing behind."""

from __future__ import annotations

import time

import orjson

from engine.board import Quote
from sbws.fanout.context import SocketContext
from sbws.market.records import Batch
from sbws.signals import ARBITRAGE_CADENCE
from sbws.wire import deltas
from sbws.wire.commands import Subscription
from tests.unit.test_fanout_policy import MemoryTransport, broadcaster

SPREAD = "lal-bos:spread:-3.5"


def v2(b, name: str, **subscription: object) -> tuple[SocketContext, MemoryTransport]:
    transport = MemoryTransport()
    ctx = SocketContext(name, None, None, None, None, 0, 0, 0, transport=transport, protocol=2,
                        outbox=b.outbox(2))
    ctx.apply(Subscription(**subscription), add=True)  # type: ignore[arg-type]
    b.attach(ctx)
    b.version(ctx).subscribed(ctx)
    return ctx, transport


def feed(b, *quotes: Quote) -> None:
    changes = b.state.apply(Batch(time.time(), quotes=list(quotes)))
    b.stream.advance(b.state, changes.markets | changes.defined, changes.gone, time.time())
    b.ingest(changes)


def frames_of(transport: MemoryTransport, kind: str) -> list[dict]:
    return [m for m in map(orjson.loads, transport.written) if m["type"] == kind]


def test_an_image_for_one_member_leaves_the_others_their_closed_items():
    b, _ = broadcaster()
    b.stream.activate(b.state)
    _a, ta = v2(b, "a", arbitrage=True, sports=frozenset({"NBA"}))
    [arb_id] = [o["id"] for o in frames_of(ta, "arbitrage_update")[0]["opportunities"]]
    feed(b, Quote(SPREAD, 0, "pinnacle", 1.90, time.time()))  # the arbitrage closes before the next push
    assert len(b.state.live("arbitrage")) == 0
    v2(b, "b", arbitrage=True, sports=frozenset({"NBA"}))  # the same filters: the same group
    assert len(b.audience.groups) == 1
    b.push_signals(ARBITRAGE_CADENCE)
    pushed = frames_of(ta, "arbitrage_update")[1:]
    assert [f["closed"] for f in pushed] == [[arb_id]], "the first socket must learn the arbitrage closed"


def test_an_image_for_one_member_leaves_the_others_whole_markets():
    b, _ = broadcaster()
    b.stream.activate(b.state)
    _a, ta = v2(b, "a", sportsbooks=frozenset({"fanduel"}))
    held = {m["id"] for m in frames_of(ta, "market_update")[0]["markets"]}
    assert "lal-bos:moneyline" not in held  # fanduel does not quote it yet
    feed(b, Quote("lal-bos:moneyline", 0, "fanduel", 1.62, time.time()))  # now it does: a partial delta
    v2(b, "b", sportsbooks=frozenset({"fanduel"}))
    b.push_markets()
    [entry] = [m for f in frames_of(ta, "market_update")[1:] for m in f["markets"] if m["id"] == "lal-bos:moneyline"]
    assert "eventId" in entry and len(entry["s"]) == 2, "a market new to a socket arrives whole"
    client: dict = {}
    deltas.apply(client, entry)
    assert client["lal-bos:moneyline"]["selections"][0]["odds"]["fanduel"] == -161


def test_a_group_whose_last_socket_left_is_forgotten():
    b, _ = broadcaster()
    b.stream.activate(b.state)
    v2_version = b.versions[2]
    for i in range(200):
        ctx, _t = v2(b, f"s{i}", sports=frozenset({"NBA", f"x{i}"}), sportsbooks=frozenset({"pinnacle"}))
        feed(b, Quote("lal-bos:moneyline", 0, "pinnacle", 1.60 + (i % 7) / 100, time.time()))
        b.push_markets()
        b.subscribe(ctx, Subscription(sports=frozenset({"NFL"})), adding=True)  # a resubscribe leaves a group
        b.detach(ctx)
    assert not b.audience.groups and not b.audience.contexts
    assert v2_version.known_by == {}, f"{len(v2_version.known_by)} markets still hold groups nobody is in"


def test_members_asking_for_an_image_at_the_same_state_share_it():
    """Issue 22, item 3 (in part): one image built for every member of a group that asks at the same state."""
    b, _ = broadcaster()
    b.stream.activate(b.state)
    version = b.versions[2]
    built: list[object] = []
    build = version._build_image
    version._build_image = lambda group: built.append(group) or build(group)  # type: ignore[method-assign]
    _a, ta = v2(b, "a", arbitrage=True, sports=frozenset({"NBA"}))
    _b, tb = v2(b, "b", arbitrage=True, sports=frozenset({"NBA"}))
    images = [[f for f in t.written if b'"image":true' in f] for t in (ta, tb)]
    assert len(images[0]) == len(images[1]) == 2  # markets and arbitrage
    assert images[0] == images[1] and len(built) == 1, "the second member's image must be the same, not rebuilt"
    feed(b, Quote(SPREAD, 0, "pinnacle", 1.90, time.time()))  # the state moves: a new image for the next one
    _c, tc = v2(b, "c", arbitrage=True, sports=frozenset({"NBA"}))
    assert len(built) == 2
    assert [f for f in tc.written if b'"image":true' in f][0] != images[0][0]


def test_a_conflating_socket_is_told_no_position_ahead_of_its_markets():
    """Issue 22, item 2 (its edge): over the soft limit a socket's market deltas conflate; a heartbeat then waits
    behind them, and a market delta pushed once the socket is back under the limit follows them instead of
    overtaking them.  Before, the heartbeat and the newer delta went first and the older conflated one last:
    the client was told a position its markets had not reached, and ended on the older price."""
    import asyncio

    async def run() -> None:
        b, _ = broadcaster()
        b.stream.activate(b.state)
        ctx, t = v2(b, "slow", sports=frozenset({"NBA"}))
        held: dict = {}
        for m in frames_of(t, "market_update")[0]["markets"]:
            deltas.apply(held, m)
        t.pending = 5000  # over the soft limit, under the hard one
        feed(b, Quote("lal-bos:moneyline", 0, "pinnacle", 1.70, time.time()))
        b.push_markets()
        assert ctx.outbox.conflated
        b.push_heartbeat(1)
        t.pending = 0
        feed(b, Quote("lal-bos:moneyline", 0, "pinnacle", 1.75, time.time()))
        b.push_markets()
        for _ in range(20):
            await asyncio.sleep(0)
        ctx.outbox.shut()
        await asyncio.wait_for(b.background.drain(), 1.0)  # the writer task the conflating started
        sent = [orjson.loads(f) for f in t.sent]
        assert [m["type"] for m in sent] == ["market_update", "heartbeat", "market_update"]
        reached = 0
        for message in sent:
            if message["type"] == "market_update":
                reached = message["seq"]
                for m in message["markets"]:
                    deltas.apply(held, m)
            else:
                assert message["seq"] <= reached, "a heartbeat told a position ahead of the markets sent"
        assert held["lal-bos:moneyline"]["selections"][0]["odds"]["pinnacle"] == -133  # 1.75 in American

    asyncio.run(run())
