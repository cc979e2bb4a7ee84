"""Webhook deliveries: signed POSTs with retries, off the push path.

Each alert for a rule with a webhook becomes one delivery (one
``X-Sbws-Delivery`` id) of up to ``MAX_ATTEMPTS`` attempts: a 2xx ends it, a
5xx, 408, 429 or no answer is retried after ``BASE_DELAY`` × 2^(attempt−1)
seconds × a random factor in [0.5, 1.5), any other status ends it.  The host
is resolved at every attempt, by the connection itself, and refused when it
points at an address that is not globally routable (unless
``--allow-private-webhooks``); only the status of the answer is read.  Every attempt is
recorded in the ledger.  Deliveries run on a few worker tasks that serve the
users in turn, one delivery in flight per user, with a bounded queue each: a
slow or hanging receiver delays only its own user's deliveries.

A delivery is stored in the ledger's outbox with its alert and leaves it with
its last attempt, so a server stopped (or killed) with deliveries waiting or
mid-retry resumes them when it next leads, from the next attempt and with the
same ``X-Sbws-Delivery`` id: delivery is at least once, and receivers
deduplicate by that id.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import socket
from collections import deque

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
import structlog
from attrs import frozen

from ..clock import now_ms
from ..ledger.alerts import new_id
from ..ledger.interface import Ledger
from ..ledger.models import Delivery, PendingDelivery, Webhook
from ..wire.commands import address_allowed

log = structlog.get_logger("sbws.webhooks")

MAX_ATTEMPTS = 5
BASE_DELAY = 0.5
ATTEMPT_TIMEOUT = 5.0
WORKERS = 4
MAX_QUEUED_PER_USER = 1_000
"""Deliveries one user may have waiting; past it new ones are dropped (logged)."""
RESUME_LIMIT = 10_000
"""Outbox rows read back at a start; the rest stay for the next start or go with retention."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, with jitter so receivers are not hit in step."""
    return float(BASE_DELAY * 2 ** (attempt - 1) * rng.uniform(0.5, 1.5))


def retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


@frozen
class Job:
    webhook: Webhook
    alert_id: str
    body: bytes
    delivery_id: str
    created_at: int
    attempts: int = 0
    """Attempts made before this process took the delivery (a resumed one)."""

    def pending(self) -> PendingDelivery:
        return PendingDelivery(self.delivery_id, self.webhook.id, self.webhook.user_id, self.alert_id, self.body,
                               self.attempts, self.created_at)


MAX_RESPONSE_BYTES = 4096
"""Only the status matters: at most this much of a receiver's answer is read, and never decompressed."""


class CheckedResolver(AbstractResolver):
    """Resolves a webhook's host once per connection and refuses private answers: the address checked is the
    address connected to (a name that rebinds between a check and the connect cannot reach a private service)."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except OSError as exc:
            raise OSError(f"cannot resolve {host}: {exc}") from None
        out: list[ResolveResult] = []
        for fam, _type, proto, _name, address in infos:
            ip = str(address[0])
            if not address_allowed(ip, self.allow_private):
                raise OSError(f"{host} resolves to a private address ({ip})")
            out.append({"hostname": host, "host": ip, "port": int(address[1]), "family": fam, "proto": proto,
                        "flags": socket.AI_NUMERICHOST})
        return out

    async def close(self) -> None:
        return None


class Deliverer:
    def __init__(self, ledger: Ledger, allow_private: bool) -> None:
        self.ledger = ledger
        self.allow_private = allow_private
        self.pending: dict[str, deque[Job]] = {}
        """Each user's waiting deliveries; a user with an entry is either ready or being served."""
        self.ready: asyncio.Queue[str] = asyncio.Queue()
        """Users with deliveries waiting and none in flight, in turn: each gets one worker at a time."""
        self.in_flight: dict[str, Job] = {}
        self.stored: set[str] = set()
        """Delivery ids of this process's jobs that are in the outbox."""
        self.rng = random.Random()
        self.session: aiohttp.ClientSession | None = None
        self.workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        connector = aiohttp.TCPConnector(resolver=CheckedResolver(self.allow_private), use_dns_cache=False)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT),
                                             auto_decompress=False)
        self.workers = [asyncio.create_task(self._work(), name=f"webhook-{i}") for i in range(WORKERS)]

    async def stop(self) -> None:
        """Deliveries still waiting or in flight stay in the outbox for the next start (those whose alert could
        not be stored are lost): counted and logged either way."""
        left = [job for jobs in self.pending.values() for job in jobs] + list(self.in_flight.values())
        if left:
            kept = sum(1 for job in left if job.delivery_id in self.stored)
            log.warning("webhooks_left", deliveries=len(left), kept_for_restart=kept, lost=len(left) - kept)
        for task in self.workers:
            task.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def admit(self, webhook: Webhook, alert_id: str, body: bytes, created_at: int) -> Job | None:
        """A new delivery, or None when its user already has ``MAX_QUEUED_PER_USER`` waiting (logged)."""
        if len(self.pending.get(webhook.user_id, ())) >= MAX_QUEUED_PER_USER:
            log.warning("webhook_queue_full", webhook_id=webhook.id, user_id=webhook.user_id, alert_id=alert_id)
            return None
        return Job(webhook, alert_id, body, new_id("dlv"), created_at)

    def enqueue(self, job: Job, stored: bool) -> None:
        """Fair by user: users take turns for the workers, one delivery in flight each, so one user's slow
        receiver delays only that user's deliveries.  ``stored``: the job is in the outbox."""
        if stored:
            self.stored.add(job.delivery_id)
        user = job.webhook.user_id
        waiting = self.pending.get(user)
        if waiting is None:
            self.pending[user] = deque([job])
            self.ready.put_nowait(user)
        else:
            waiting.append(job)

    async def resume(self) -> int:
        """The outbox's deliveries this process does not hold, queued again; how many."""
        held = {job.delivery_id for jobs in self.pending.values() for job in jobs} | set(self.in_flight)
        resumed = 0
        for row in await self.ledger.pending_deliveries(RESUME_LIMIT):
            if row.delivery_id in held:
                continue
            hook = await self.ledger.webhook(row.webhook_id)
            if hook is None:  # ends the delivery, with an attempt that says why
                await self.ledger.add_delivery(Delivery(new_id("att"), row.webhook_id, row.delivery_id, row.alert_id,
                                                        row.attempts + 1, None, "the webhook was deleted", now_ms()),
                                               True)
                continue
            self.enqueue(Job(hook, row.alert_id, row.body, row.delivery_id, row.created_at, row.attempts), True)
            resumed += 1
        if resumed:
            log.info("webhooks_resumed", deliveries=resumed)
        return resumed

    async def _work(self) -> None:
        while True:
            user = await self.ready.get()
            job = self.pending[user].popleft()
            self.in_flight[job.delivery_id] = job
            try:
                await self._deliver(job)
            except Exception:
                log.exception("webhook_failed", webhook_id=job.webhook.id)
            finally:
                del self.in_flight[job.delivery_id]
                self.stored.discard(job.delivery_id)
                if self.pending[user]:
                    self.ready.put_nowait(user)  # back of the line: the other users go first
                else:
                    del self.pending[user]

    async def _deliver(self, job: Job) -> None:
        for attempt in range(job.attempts + 1, MAX_ATTEMPTS + 1):
            status, error = await self._attempt(job)
            answered = status is not None and (200 <= status < 300 or not retryable(status))
            await self._record(job, attempt, status, error, final=answered or attempt == MAX_ATTEMPTS)
            if answered:
                return
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(backoff(attempt, self.rng))
        log.warning("webhook_gave_up", webhook_id=job.webhook.id, delivery_id=job.delivery_id)

    async def _attempt(self, job: Job) -> tuple[int | None, str | None]:
        assert self.session is not None
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sbws-webhooks",
            "X-Sbws-Signature": signature(job.webhook.secret, job.body),
            "X-Sbws-Delivery": job.delivery_id,
            "X-Sbws-Timestamp": str(now_ms()),
        }
        try:
            async with self.session.post(job.webhook.url, data=job.body, headers=headers, allow_redirects=False) as resp:
                await resp.content.read(MAX_RESPONSE_BYTES)  # a small answer ends; a large one is cut off unread
                return resp.status, None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"[:300]

    async def _record(self, job: Job, attempt: int, status: int | None, error: str | None, final: bool) -> None:
        record = Delivery(new_id("att"), job.webhook.id, job.delivery_id, job.alert_id, attempt, status, error, now_ms())
        log.info("webhook_attempt", webhook_id=job.webhook.id, delivery_id=job.delivery_id, attempt=attempt,
                 status=status, error=error)
        try:
            await self.ledger.add_delivery(record, final)
        except Exception as exc:  # the ledger is down: the delivery itself went on
            log.warning("webhook_record_failed", error=str(exc))
