"""Event-loop lag: how late a timer fires is how long everything else waited for the loop."""

from __future__ import annotations

import asyncio
import time

from .metrics import Metrics


async def watch_loop_lag(metrics: Metrics, period: float = 0.25, window: float = 60.0) -> None:
    """Samples forever; the last sample and the worst in the current window become gauges."""
    worst, window_start = 0.0, time.monotonic()
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(period)
        lag = max(0.0, time.monotonic() - t0 - period)
        metrics.loop_lag.set(lag)
        worst = max(worst, lag)
        if time.monotonic() - window_start > window:
            worst, window_start = lag, time.monotonic()
        metrics.loop_lag_max.set(worst)
