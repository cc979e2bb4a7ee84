"""How much a client may send: sizes of fields and lists, stakes, and message rate."""

from __future__ import annotations

import time
from decimal import Decimal

from attrs import define, field, frozen

MAX_ID_LENGTH = 128
MAX_LIST = 1000
MAX_MARKETS = 1000
MAX_BETS = 500
MAX_NOTES = 500
MAX_CLIENT_REF = 64


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

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
