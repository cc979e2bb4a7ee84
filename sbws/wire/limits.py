"""How much a client may send: sizes of fields and lists, stakes, and message rate."""

from __future__ import annotations

import time
from decimal import Decimal

from attrs import define, field, frozen

from engine.markets import MAX_RUNNER_ID

MAX_ID_LENGTH = 128
MAX_LIST = 1000
MAX_MARKETS = 1000
MAX_DUTCH = 100
"""Selections one dutching request may name: with ``MAX_SELECTION_ID`` it keeps ``GET /api/dutch`` under the
HTTP server's 8 KB request line."""
MAX_SELECTION_ID = MAX_RUNNER_ID
SELECTION_ID = r"^[A-Za-z0-9_.:-]+$"
"""What a selection id is made of (``home``, ``over``, a runner's normalised name): never a comma, which
separates them in a query string."""
MAX_BETS = 500
MAX_MATCHED = 500
MAX_NOTES = 500
MAX_CLIENT_REF = 64
MAX_DECIMAL_PRICE = Decimal(10001)
"""Decimal odds of American +1,000,000, the largest price accepted."""
MAX_EV = 1000.0
"""The largest ``minEv`` filter (percent) a request may give."""
MAX_HISTORY_POINTS = 10_000
"""The most points per series one history answer may ask for."""
MAX_REPLY_POINTS = 60_000
"""The most points one history answer carries over all its series (each series gets its share)."""
HISTORY_PER_ADDRESS = (5.0, 10.0)
"""(rate per second, burst) of history requests one client address may make, over both doors."""
MAX_URL = 2048
MIN_SECRET = 16
MAX_SECRET = 256
"""Webhook secrets: long enough to be a key, short enough to be one."""
MAX_BANKROLL = 1e12
"""The largest bankroll a value request may size stakes for."""


@frozen
class Limits:
    min_stake: Decimal = Decimal("0.01")
    max_stake: Decimal = Decimal("10000")


@define
class TokenBucket:
    """Allows ``rate`` messages a second with bursts of up to ``burst``."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(factory=time.monotonic)

    def take(self, now: float | None = None, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many (taking nothing otherwise)."""
        now = time.monotonic() if now is None else now
        if self.tokens < 0:  # first use: full
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


SNAPSHOT_COST = 2.0
"""Messages' worth of a socket's rate bucket that a subscribe or unsubscribe (which builds an image) costs on top."""
SNAPSHOT_BURST = 2.5
"""An address's image budget holds this many seconds of its ``--address-snapshots`` rate."""


@define
class ConnectionLimiter:
    """Open WebSockets, overall and per client address: past either limit a new one is refused."""

    max_total: int
    max_per_ip: int
    total: int = 0
    per_ip: dict[str, int] = field(factory=dict)
    snapshots_per_s: float = 20.0
    """Images (subscribe, unsubscribe, resume) one address may ask for a second, over all its sockets."""
    snapshots: dict[str, TokenBucket] = field(factory=dict)
    """Per address with open sockets: the images it may still ask for."""

    def snapshot_allowed(self, ip: str, now: float | None = None) -> bool:
        bucket = self.snapshots.get(ip)
        if bucket is None:
            bucket = self.snapshots[ip] = TokenBucket(self.snapshots_per_s, self.snapshots_per_s * SNAPSHOT_BURST)
        return bucket.take(now)


    def admit(self, ip: str) -> str | None:
        """Count the connection in and return None, or return why it is refused (counting nothing)."""
        if self.total >= self.max_total:
            return "server"
        if self.per_ip.get(ip, 0) >= self.max_per_ip:
            return "address"
        self.total += 1
        self.per_ip[ip] = self.per_ip.get(ip, 0) + 1
        return None

    def release(self, ip: str) -> None:
        self.total -= 1
        left = self.per_ip.get(ip, 1) - 1
        if left:
            self.per_ip[ip] = left
        else:
            self.per_ip.pop(ip, None)
            self.snapshots.pop(ip, None)


@define
class AddressBuckets:
    """A token bucket per client address for one costly request (kept for the addresses seen lately)."""

    rate: float
    burst: float
    buckets: dict[str, TokenBucket] = field(factory=dict)

    def allowed(self, ip: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self.buckets) > 10_000:  # a full bucket is as good as none: forget those
            self.buckets = {a: b for a, b in self.buckets.items() if b.tokens < self.burst - (now - b.stamp) * self.rate}
        bucket = self.buckets.get(ip)
        if bucket is None:
            bucket = self.buckets[ip] = TokenBucket(self.rate, self.burst)
        return bucket.take(now)
