"""Webhook receivers that attack the sender (issue 22, items 5 and 6), against real local HTTP receivers."""

from __future__ import annotations

import gzip
import socket
import tracemalloc

from aiohttp import web

from sbws.alerts import webhooks
from sbws.alerts.webhooks import Deliverer, Job
from sbws.ledger.models import Webhook
from sbws.wire.commands import address_allowed


class NoLedger:
    async def add_delivery(self, record: object) -> None:
        return None


def job(url: str) -> Job:
    return Job(Webhook("hook_1", "user_1", url, "a-long-enough-secret", 0), "alr_1", b'{"type":"alert"}', "dlv_1")


async def receiver(aiohttp_server, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    hits: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        hits.append(request.remote or "")
        return web.Response(body=body, headers=headers, content_type="application/json")

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app, host="127.0.0.1")
    return server, hits


async def hanging(aiohttp_server):  # type: ignore[no-untyped-def]
    """A receiver that never answers in time."""
    import asyncio

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hang)
    return await aiohttp_server(app, host="127.0.0.1")


async def test_a_gzip_bomb_answer_costs_a_few_kilobytes(aiohttp_server):
    bomb = gzip.compress(b"\0" * (200 * 1024 * 1024), compresslevel=9)  # about 200 KB that inflate to 200 MiB
    server, hits = await receiver(aiohttp_server, bomb, {"Content-Encoding": "gzip"})
    deliverer = Deliverer(NoLedger(), allow_private=True)  # type: ignore[arg-type]
    deliverer.start()
    tracemalloc.start()
    try:
        status, error = await deliverer._attempt(job(str(server.make_url("/hook"))))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await deliverer.stop()
    assert (status, error) == (200, None) and len(hits) == 1
    assert peak < 8 * 1024 * 1024, f"reading the answer took {peak / 2**20:.0f} MiB"


async def test_a_name_that_rebinds_after_the_check_reaches_nothing(aiohttp_server, monkeypatch):
    """The check and the connection use one resolution: a name that answers an allowed address first and the
    receiver's loopback address next never reaches the receiver."""
    server, hits = await receiver(aiohttp_server, b"{}", {})
    answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])  # 127.0.0.2 stands for "public"; nothing listens there

    async def rebinding(self, host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        ip = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 0))]

    monkeypatch.setattr(webhooks, "address_allowed", lambda ip, allow: ip == "127.0.0.2")
    import asyncio

    monkeypatch.setattr(type(asyncio.get_running_loop()), "getaddrinfo", rebinding)
    deliverer = Deliverer(NoLedger(), allow_private=False)  # type: ignore[arg-type]
    deliverer.start()
    try:
        status, error = await deliverer._attempt(job(f"http://rebind.test:{server.port}/hook"))
    finally:
        await deliverer.stop()
    assert hits == [], "the rebound name reached the receiver"
    assert status is None and error is not None


def test_only_globally_routable_unicast_addresses_are_allowed():
    for blocked in ("100.64.0.1", "100.100.100.200", "fec0::1", "2002:7f00:1::1", "::ffff:10.0.0.1",
                    "64:ff9b::a00:1", "2001::1", "192.0.2.1", "224.0.0.1", "0.0.0.0", "::1"):
        assert not address_allowed(blocked, False), blocked
    for allowed in ("93.184.216.34", "2606:4700::1", "2002:5db8:d822::1", "::ffff:93.184.216.34"):
        assert address_allowed(allowed, False), allowed


async def test_one_users_hanging_receiver_does_not_starve_another_users(aiohttp_server):
    """Issue 22, item 8: deliveries are served user by user, one in flight each."""
    import asyncio

    from tests.helpers import wait_for

    slow = await hanging(aiohttp_server)
    fast, hits = await receiver(aiohttp_server, b"{}", {})
    deliverer = Deliverer(NoLedger(), allow_private=True)  # type: ignore[arg-type]
    deliverer.start()
    try:
        a = Webhook("hook_a", "user_a", str(slow.make_url("/hook")), "a-long-enough-secret", 0)
        b = Webhook("hook_b", "user_b", str(fast.make_url("/hook")), "a-long-enough-secret", 0)
        for i in range(50):
            deliverer.enqueue(a, f"alr_a{i}", b"{}")
        for i in range(50):
            deliverer.enqueue(b, f"alr_b{i}", b"{}")
        await wait_for(lambda: len(hits) == 50, timeout=4.0)  # the slow one times out after 5 s per attempt
    finally:
        await deliverer.stop()


async def test_deliveries_abandoned_at_shutdown_are_counted_and_logged(aiohttp_server, capsys):
    """Issue 22, item 13 (in part): a stop with deliveries waiting or mid-retry says how many it drops."""
    import asyncio
    import json

    from tests.helpers import structured_logs

    slow = await hanging(aiohttp_server)
    with structured_logs():
        deliverer = Deliverer(NoLedger(), allow_private=True)  # type: ignore[arg-type]
        deliverer.start()
        hook = Webhook("hook_a", "user_a", str(slow.make_url("/hook")), "a-long-enough-secret", 0)
        for i in range(3):
            deliverer.enqueue(hook, f"alr_{i}", b"{}")
        await asyncio.sleep(0.2)  # one delivery in flight, two waiting
        await deliverer.stop()
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if "webhooks_abandoned" in line]
    assert [(e["deliveries"], e["users"]) for e in lines] == [(3, 1)]
