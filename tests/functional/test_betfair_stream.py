"""The Betfair Exchange Stream client against a local TLS server of our own that speaks the protocol and replays the
shared greyhound file (issue 24, in part): authentication, the subscription, heartbeats, a dropped connection and
the resubscription with initialClk/clk answered by a RESUB_DELTA, a refused session, and readiness."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from pathlib import Path

import orjson
import pytest

from engine.arbitrage import ArbConfig
from sbws.feeds.betfair import Mapper
from sbws.feeds.betfair_live import BetfairStream, Subscription
from sbws.market.state import MarketState
from tests.helpers import SHARED

TLS = Path(__file__).resolve().parents[1] / "data" / "tls"
FILE = SHARED / "data" / "betfair" / "1.197931750"
SPLIT = 80
"""The first connection carries this many of the file's messages, then drops."""


def file_messages():  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in FILE.read_text().splitlines() if line.strip()]


class StreamServer:
    """A TLS server speaking the Exchange Stream protocol: greets, checks the app key and session, takes one
    subscription, then sends the file's messages as the subscription's (with clks), heartbeats while idle."""

    def __init__(self, messages, session="good-session"):  # type: ignore[no-untyped-def]
        self.messages, self.session = messages, session
        self.requests: list[dict] = []
        self.connections = 0
        self.sent = 0

    async def start(self):  # type: ignore[no-untyped-def]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def handle(self, reader, writer):  # type: ignore[no-untyped-def]
        self.connections += 1
        connection = self.connections

        async def send(message):  # type: ignore[no-untyped-def]
            writer.write(orjson.dumps(message) + b"\r\n")
            await writer.drain()

        async def receive():  # type: ignore[no-untyped-def]
            request = json.loads(await reader.readline())
            self.requests.append(request)
            return request

        try:
            await send({"op": "connection", "connectionId": f"conn-{connection}"})
            auth = await receive()
            if auth.get("op") != "authentication" or auth.get("session") != self.session or auth.get("appKey") != "key":
                await send({"op": "status", "id": auth.get("id"), "statusCode": "FAILURE",
                            "errorCode": "INVALID_SESSION_INFORMATION", "connectionClosed": True})
                return
            await send({"op": "status", "id": auth["id"], "statusCode": "SUCCESS", "connectionClosed": False})
            sub = await receive()
            await send({"op": "status", "id": sub["id"], "statusCode": "SUCCESS", "connectionClosed": False})
            resumed = "clk" in sub
            end = SPLIT if connection == 1 else len(self.messages)
            for i, message in enumerate(self.messages[self.sent:end]):
                out = dict(message, id=sub["id"], clk=f"clk-{self.sent + i}", initialClk="initial")
                if i == 0:
                    out["ct"] = "RESUB_DELTA" if resumed else "SUB_IMAGE"
                await send(out)
            self.sent = end
            await send({"op": "mcm", "id": sub["id"], "clk": f"clk-{end - 1}", "ct": "HEARTBEAT",
                        "pt": int(time.time() * 1000)})
            if connection == 1:
                return  # drop the connection: the client must resubscribe where it left off
            while True:
                await asyncio.sleep(0.2)
                await send({"op": "mcm", "id": sub["id"], "clk": f"clk-{end - 1}", "ct": "HEARTBEAT",
                            "pt": int(time.time() * 1000)})
        except (ConnectionError, json.JSONDecodeError, ValueError):
            pass
        finally:
            writer.close()

    def close(self):  # type: ignore[no-untyped-def]
        self.server.close()


def client_context():  # type: ignore[no-untyped-def]
    return ssl.create_default_context(cafile=str(TLS / "cert.pem"))


async def test_the_stream_client_subscribes_survives_a_drop_and_resumes_where_it_left_off():
    messages = file_messages()
    server = await StreamServer(messages).start()
    subscription = Subscription(market_ids=("1.197931750",), heartbeat_ms=500)
    feed = BetfairStream("127.0.0.1", server.port, "key", "good-session", subscription, client_context(),
                         backoff=0.05)
    state = MarketState(ArbConfig())
    health = []
    settled = []

    before_the_result = []

    async def run():  # type: ignore[no-untyped-def]
        async for batch in feed.batches():
            if batch.results:
                before_the_result.append(state.view("1.197931750"))
            state.apply(batch)
            health.append(feed.is_healthy(time.time()))
            settled.extend(batch.results)

    task = asyncio.create_task(run())
    try:
        deadline = time.monotonic() + 10
        while not settled and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        server.close()
    assert settled and settled[0].placing == ("37947503",)  # the whole file came through, across the drop
    auths = [r for r in server.requests if r["op"] == "authentication"]
    subs = [r for r in server.requests if r["op"] == "marketSubscription"]
    assert len(auths) == 2 and auths[0] == {"op": "authentication", "id": 1, "appKey": "key", "session": "good-session"}
    assert len(subs) == 2 and subs[0]["marketFilter"] == {"marketIds": ["1.197931750"], "eventTypeIds": ["7", "4339"],
                                                          "marketTypes": ["WIN", "PLACE"]}
    assert subs[0]["marketDataFilter"]["fields"] == ["EX_BEST_OFFERS_DISP", "EX_TRADED", "EX_LTP", "EX_MARKET_DEF"]
    assert subs[0]["heartbeatMs"] == 500 and "clk" not in subs[0]
    assert (subs[1]["initialClk"], subs[1]["clk"]) == ("initial", f"clk-{SPLIT - 1}")  # the resubscription
    assert False in health  # degraded while the connection was down
    # The market the stream built equals the one the same messages build read straight from the file.
    direct = Mapper()
    reference = MarketState(ArbConfig())
    for message in messages[:-1]:
        reference.apply(direct.batch(message, lambda ms: ms / 1000.0))
    [streamed] = before_the_result

    def prices(view):  # type: ignore[no-untyped-def]
        return [(s.id, s.name, [(b, d) for b, d, _a in s.prices], s.lays, s.depth) for s in view.selections]

    assert prices(streamed) == prices(reference.view("1.197931750")) and streamed.selections


async def test_a_refused_session_is_not_ready_and_backs_off():
    server = await StreamServer(file_messages(), session="other").start()
    feed = BetfairStream("127.0.0.1", server.port, "key", "bad-session", Subscription(heartbeat_ms=500),
                         client_context(), backoff=0.05)
    seen = []

    async def run():  # type: ignore[no-untyped-def]
        async for batch in feed.batches():
            seen.append(batch)

    task = asyncio.create_task(run())
    await asyncio.sleep(0.6)
    task.cancel()
    server.close()
    assert server.connections >= 2 and feed.failures >= 2  # it keeps trying, backing off
    assert not feed.is_healthy(time.time()) and not any(r["op"] == "marketSubscription" for r in server.requests)
    assert seen and all(s.status == "degraded" for b in seen for s in b.statuses)
    grown = 0.05 * 2 ** (feed.failures - 1)  # the wait doubles with each failure, jittered in [0.5, 1] of it
    assert grown >= 0.1 and 0.5 * grown <= feed.next_delay() <= grown


def test_the_stream_needs_credentials():
    from sbws.errors import ConfigError

    with pytest.raises(ConfigError, match="SBWS_BETFAIR_APP_KEY"):
        BetfairStream("127.0.0.1", 443, "", "", Subscription())
