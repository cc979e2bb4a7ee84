"""Wall-clock time as the wire and the ledger write it: epoch milliseconds."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)


def ms(seconds: float) -> int:
    return int(seconds * 1000)
