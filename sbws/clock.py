"""Time as sbws reads it: wall-clock epoch seconds and milliseconds, and a monotonic clock.

The parts where time decides something (staleness, ages, timestamps, slow
consumers) take a ``Clock``; tests hand them a ``ManualClock`` and move it
instead of sleeping.  ``now_ms``/``ms`` are the wall clock for the rest.
"""

from __future__ import annotations

import time
from datetime import datetime


def iso_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time as the sources write it (``2022-04-19T18:26:00.000Z``)."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


def ms(seconds: float) -> int:
    return int(seconds * 1000)


class Clock:
    def time(self) -> float:
        """Epoch seconds."""
        return time.time()

    def ms(self) -> int:
        """Epoch milliseconds, as the wire and the ledger write them."""
        return ms(self.time())

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM = Clock()


class ManualClock(Clock):
    """A clock that moves only when told (``advance``): both its wall and monotonic time."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.mono = 0.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds
