"""The interface every odds source implements.

A feed is an async iterator of ``market.records.Batch`` values plus a health
signal.  Optional abilities are declared here, not probed: a feed with no
request quota reports an empty ``quota``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType
from typing import Protocol

from ..market.records import Batch

NO_QUOTA: Mapping[str, int] = MappingProxyType({})


class Feed(Protocol):
    name: str

    @property
    def quota(self) -> Mapping[str, int]:
        """Request quota of a paid source (``remaining``, ``used``); empty when there is none."""
        ...

    def batches(self) -> AsyncIterator[Batch]:
        """Yield batches until the source is exhausted or the task is cancelled."""
        ...

    def is_healthy(self, now: float) -> bool:
        """False when the source has stopped delivering (drives /readyz)."""
        ...
