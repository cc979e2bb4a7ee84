"""Two nodes on real Redis and PostgreSQL: shared market, exactly-once bets, failover, Redis outage."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from tests.serverproc import ServerProcess
from tests.services import POSTGRES, RedisServer, need

pytestmark = pytest.mark.services

SIM = ["--sim-tick-ms", "100", "--sim-events", "8", "--market-interval", "0.2", "--arbitrage-interval", "0.5",
       "--heartbeat-interval", "1", "--leader-ttl", "2", "--max-quote-age", "0"]


@pytest.fixture
async def cluster(tmp_path):
    try:
        import redis  # noqa: F401
    except ImportError:
        need("needs the redis package (pip install 'sbws[scale]')")
    dsn = await POSTGRES.new_database()
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    nodes = []

    def node(name: str, *extra: str) -> ServerProcess:
        proc = ServerProcess(dsn, "--broker", redis_server.url, "--node-id", name, *SIM, *extra)
        proc.log_path = tmp_path / f"{name}.log"
        nodes.append(proc)
        return proc

    yield {"redis": redis_server, "dsn": dsn, "node": node}
    for proc in nodes:
        proc.__exit__()
    redis_server.stop()
    await POSTGRES.drop(dsn)


async def get_json(url: str):
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            return resp.status, await resp.json()


async def wait_leader(url: str, want: bool, timeout: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            status, body = await get_json(url + "/readyz")
            if body.get("leader") is want and status == 200:
                return time.monotonic() - start
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} leader={want} not reached in {timeout}s")


async def leader_then_follower(cluster, first: str = "b", second: str = "a"):
    """Start one node, wait until it leads, then a second one that follows."""
    leader = cluster["node"](first).start()
    await wait_leader(leader.url, True)
    follower = cluster["node"](second).start()
    await wait_leader(follower.url, False)
    return leader, follower


class Pump:
    """Reads a socket all the time, as a live client does: pings get their pongs while the test waits."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.closed = False
        self.queue: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            msg = await self.ws.receive()
            await self.queue.put(msg)
            if msg.type != aiohttp.WSMsgType.TEXT:
                self.closed = True
                return

    async def receive(self, timeout: float) -> aiohttp.WSMessage:
        return await asyncio.wait_for(self.queue.get(), timeout)


async def next_market_update(ws, timeout=15.0, nonempty=True):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await ws.receive(timeout=deadline - time.monotonic())
        assert msg.type == aiohttp.WSMsgType.TEXT, f"socket closed: {msg}"
        data = msg.json()
        if data["type"] == "market_update" and (data["markets"] or not nonempty):
            return data
    raise AssertionError("no market_update")


async def test_pushes_from_the_leader_reach_the_other_node(cluster):
    leader, follower = await leader_then_follower(cluster)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(follower.url + "/ws/sportsbooks")
        await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"], "arbitrage": True}})
        first = await next_market_update(ws)
        second = await next_market_update(ws)
        assert second["publishedAt"] > first["publishedAt"]
        saw_arbitrage = False
        deadline = time.monotonic() + 20
        while not saw_arbitrage and time.monotonic() < deadline:
            data = (await ws.receive(timeout=10)).json()
            saw_arbitrage = data["type"] == "arbitrage_update" and bool(data["opportunities"])
        assert saw_arbitrage
        # The same market on both nodes.
        _, a = await get_json(follower.url + "/api/markets?limit=1000")
        _, b = await get_json(leader.url + "/api/markets?limit=1000")
        assert {m["id"] for m in a["markets"]} == {m["id"] for m in b["markets"]}
        heartbeat = None
        while heartbeat is None:
            data = (await ws.receive(timeout=5)).json()
            heartbeat = data if data["type"] == "heartbeat" else None
        assert heartbeat["clients"] >= 1


async def test_bets_through_both_nodes_land_exactly_once(cluster):
    from sbws.ledger.factory import open_ledger

    ledger = await open_ledger(cluster["dsn"])
    await ledger.add_user("trader")
    _, token = await ledger.issue_token("trader")
    a, b = await leader_then_follower(cluster, "a", "b")
    _, markets = await get_json(a.url + "/api/markets?limit=1000")
    market = next(m for m in markets["markets"] if m["status"] == "open" and m["bestOdds"])
    sel, best = next(iter(market["bestOdds"].items()))
    headers = {"Authorization": f"Bearer {token}"}

    async def place(http, url, ref):
        body = {"marketId": market["id"], "selectionId": sel, "bookmaker": best["bookmaker"], "stake": 2, "odds": -100000,
                "clientRef": ref}
        async with http.post(url + "/api/bets", json=body, headers=headers) as resp:
            return resp.status, (await resp.json())

    async with aiohttp.ClientSession() as http:
        refs = [f"ref-{i}" for i in range(25)]
        results = await asyncio.gather(*(place(http, url, ref) for ref in refs for url in (a.url, b.url, a.url, b.url)))
    assert all(status in (200, 201) for status, _ in results), [r for r in results if r[0] not in (200, 201)]
    by_ref: dict[str, set[str]] = {}
    for _, body in results:
        by_ref.setdefault(body["bet"]["clientRef"], set()).add(body["bet"]["id"])
    assert all(len(ids) == 1 for ids in by_ref.values())
    rows = await ledger.driver.pool.fetch("SELECT client_ref, COUNT(*) FROM bets GROUP BY client_ref")
    assert {r[0]: r[1] for r in rows} == {ref: 1 for ref in refs}
    await ledger.close()


def short_recording(path: Path, seconds: float) -> Path:
    """A recording of ``seconds`` of simulator batches, 10 a second: a feed that finishes."""
    from sbws.feeds.simulator import Simulator

    now = [time.time()]
    sim = Simulator(seed=3, events=6, tick_ms=100, realtime=False, clock=lambda: now[0])
    with path.open("wb") as out:
        for _ in range(int(seconds * 10)):
            now[0] += 0.1
            out.write(sim.step().to_json() + b"\n")
    return path


async def ready(url: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/readyz") as resp:
            return resp.status, await resp.json()


async def test_a_finished_feed_makes_every_node_refuse_bets(cluster, tmp_path):
    """Issue 22, item 12: the leader publishes its feed's health on the stream; when the feed finishes, the leader
    and the follower both report it and refuse bets, as one node does (before: both accepted them)."""
    from sbws.ledger.factory import open_ledger

    ledger = await open_ledger(cluster["dsn"])
    await ledger.add_user("trader")
    _, token = await ledger.issue_token("trader")
    await ledger.close()
    recording = short_recording(tmp_path / "short.jsonl", 12.0)
    leader = cluster["node"]("b", "--feed", f"replay:{recording}").start()
    await wait_leader(leader.url, True)
    follower = cluster["node"]("a", "--feed", f"replay:{recording}").start()
    await wait_leader(follower.url, False)
    _, markets = await get_json(follower.url + "/api/markets?limit=1000")
    market = next(m for m in markets["markets"] if m["status"] == "open" and m["bestOdds"])
    sel, best = next(iter(market["bestOdds"].items()))
    deadline = time.monotonic() + 30
    states: dict[str, tuple[int, dict]] = {}
    while time.monotonic() < deadline:
        states = {url: await ready(url) for url in (leader.url, follower.url)}
        if all(status == 503 for status, _ in states.values()):
            break
        await asyncio.sleep(0.2)
    assert all(status == 503 and not body["checks"]["feed"] for status, body in states.values()), states
    async with aiohttp.ClientSession() as http:
        for url in (leader.url, follower.url):
            body = {"marketId": market["id"], "selectionId": sel, "bookmaker": best["bookmaker"], "stake": 2,
                    "odds": -100000, "clientRef": f"after-{url[-5:]}"}
            async with http.post(url + "/api/bets", json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
                refused = await resp.json()
                assert resp.status == 409 and refused["reason"] == "stale", refused


async def test_a_follower_whose_leader_stops_publishing_refuses_bets(cluster):
    """Issue 22, item 12: health read from the stream goes stale; a follower cut off from a live leader (the
    leader frozen, its lock held) does not call the feed healthy."""
    import redis.asyncio as aioredis

    leader, follower = await leader_then_follower(cluster)
    assert (await ready(follower.url))[0] == 200
    assert leader.proc is not None
    leader.proc.send_signal(signal.SIGSTOP)  # no renewals, no health entries
    store = aioredis.from_url(cluster["redis"].url)
    await store.set(b"sbws:leader", b"b", px=60_000)  # its lock held meanwhile: a leader alive but not publishing
    await store.aclose()
    try:
        deadline = time.monotonic() + 10
        status, body = await ready(follower.url)
        while time.monotonic() < deadline and status == 200:
            await asyncio.sleep(0.1)
            status, body = await ready(follower.url)
        assert status == 503 and not body["checks"]["feed"], body
    finally:
        leader.proc.send_signal(signal.SIGCONT)


async def test_killing_the_leader_hands_the_feed_over_within_the_ttl(cluster):
    leader, other = await leader_then_follower(cluster)
    async with aiohttp.ClientSession() as http:
        socket = await http.ws_connect(other.url + "/ws/sportsbooks")
        await socket.send_json({"type": "subscribe", "payload": {"sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"]}})
        ws = Pump(socket)
        await next_market_update(ws)
        leader.kill()
        took = await wait_leader(other.url, True, timeout=10)
        assert took < 2 * 2 + 1.5  # TTL 2 s, renewals every TTL/3, plus polling slack
        after = await next_market_update(ws)
        assert after["markets"]


async def test_redis_outage_keeps_sockets_and_resends_snapshots(cluster):
    a, b = await leader_then_follower(cluster, "a", "b")
    async with aiohttp.ClientSession() as http:
        sockets = []
        for node in (a, b):
            socket = await http.ws_connect(node.url + "/ws/sportsbooks")
            await socket.send_json({"type": "subscribe", "payload": {"sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"]}})
            ws = Pump(socket)
            await next_market_update(ws)
            sockets.append(ws)
        cluster["redis"].stop()
        await asyncio.sleep(3)
        for node in (a, b):
            status, body = await get_json(node.url + "/readyz")
            assert status == 503 and body["checks"]["feed"] is False
        cluster["redis"].start()
        for node in (a, b):
            deadline = time.monotonic() + 20
            while (await get_json(node.url + "/readyz"))[0] != 200:
                assert time.monotonic() < deadline, "node did not become ready again"
                await asyncio.sleep(0.2)
        for ws in sockets:
            fresh = await next_market_update(ws, timeout=20)
            assert fresh["markets"] and not ws.closed and not ws.ws.closed
        _, a_markets = await get_json(a.url + "/api/markets?limit=1000")
        _, b_markets = await get_json(b.url + "/api/markets?limit=1000")
        assert {m["id"] for m in a_markets["markets"]} == {m["id"] for m in b_markets["markets"]}


def test_workers_need_a_broker(tmp_path):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "sbws", "serve", "--workers", "2", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--broker" in out.stderr


async def test_workers_share_the_port_and_the_market(cluster, tmp_path):
    proc = ServerProcess(cluster["dsn"], "--broker", cluster["redis"].url, "--workers", "2", *SIM)
    proc.log_path = tmp_path / "workers.log"
    with proc:
        nodes = set()
        for _ in range(60):
            async with aiohttp.ClientSession() as fresh:  # new connections spread over the workers
                ws = await fresh.ws_connect(proc.url + "/ws/sportsbooks")
                await ws.send_json({"type": "subscribe", "payload": {"sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"]}})
                update = await next_market_update(ws)
                assert update["markets"]
                await ws.close()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
                text = await (await fresh.get(proc.url + "/metrics")).text()
            nodes.add(next(line for line in text.splitlines() if line.startswith("sbws_is_leader ")))
            if len(nodes) == 2:
                break
        assert nodes == {"sbws_is_leader 1.0", "sbws_is_leader 0.0"}  # two processes answered, one leads
        assert proc.terminate() == 0


def test_workers_die_with_their_supervisor(tmp_path):
    import os
    import signal
    import subprocess
    import time as _time

    redis_server = RedisServer(tmp_path)
    redis_server.start()
    try:
        proc = ServerProcess(tmp_path / "w.db", "--broker", redis_server.url, "--workers", "2", *SIM)
        proc.log_path = tmp_path / "w.log"
        with proc:
            children = Path(f"/proc/{proc.proc.pid}/task/{proc.proc.pid}/children").read_text().split()
            assert len(children) == 2
            proc.proc.send_signal(signal.SIGKILL)
            proc.proc.wait()
            deadline = _time.monotonic() + 10
            while any(os.path.exists(f"/proc/{c}") and "zombie" not in Path(f"/proc/{c}/status").read_text()
                      for c in children):
                assert _time.monotonic() < deadline, "workers outlived their supervisor"
                _time.sleep(0.1)
    finally:
        redis_server.stop()
        subprocess.run(["pkill", "-f", f"--port {proc.port}"], check=False)


V2 = ["--sim-tick-ms", "100", "--sim-events", "6", "--market-interval", "0", "--arbitrage-interval", "0.5",
      "--heartbeat-interval", "1", "--leader-ttl", "2", "--max-quote-age", "0"]


async def _matches_at_one_seq(client, node: str, sports) -> bool:
    """Whether the client's markets, taken at the seq it holds, equal ``node``'s open markets of ``sports`` at that
    seq (asked over a second client; a snapshot the node has already moved past is taken again)."""
    import copy

    from sbws.client import Client

    async with Client(node) as other:
        for _ in range(50):
            seq, held = client.position[1], copy.deepcopy(client.markets)
            for _ in range(500):
                reply = await other.request("get_markets", {"limit": 1000})
                if reply["seq"] >= seq:
                    break
            if reply["seq"] == seq:
                return held == {m["id"]: m for m in reply["markets"] if m["status"] == "open" and m["sport"] in sports}
            await asyncio.sleep(0.01)
    raise AssertionError("the nodes never showed the same seq")


async def test_v2_stream_is_numbered_the_same_on_every_node_and_the_client_resumes_on_another(cluster):
    """The Python client on the follower: image plus deltas equal the leader's state at the same seq; dropped, it
    reconnects to the next node (the leader) and resumes there, and holds the leader's state at the same seq."""
    from sbws.client import Client, MarketChanged, Resumed

    def node(name):
        proc = ServerProcess(cluster["dsn"], "--broker", cluster["redis"].url, "--node-id", name, *V2)
        proc.log_path = cluster["redis"].workdir / f"{name}.log"
        return proc

    leader = node("v2a").start()
    try:
        await wait_leader(leader.url, True)
        follower = node("v2b").start()
        try:
            await wait_leader(follower.url, False)
            subscription = {"sports": ["NBA", "NFL", "MLB", "NHL", "Soccer"]}
            async with Client([follower.url, leader.url], subscription=subscription, backoff=0.1) as c:
                events = c.events()
                changed = 0
                while changed < 5:
                    changed += isinstance(await asyncio.wait_for(events.__anext__(), 10), MarketChanged)
                assert c.url.startswith(follower.url.replace("http", "ws"))
                assert await _matches_at_one_seq(c, leader.url, subscription["sports"])
                before = c.position
                await c.drop()
                while not isinstance(event := await asyncio.wait_for(events.__anext__(), 15), Resumed):
                    pass
                assert event.since == before[1] and event.to >= before[1] and c.status == "resumed"
                assert c.url.startswith(leader.url.replace("http", "ws"))
                assert await _matches_at_one_seq(c, leader.url, subscription["sports"])
                await events.aclose()
        finally:
            follower.__exit__()
    finally:
        leader.__exit__()
