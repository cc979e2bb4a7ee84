"""The little fan-out needs from a socket, so it can be driven (and tested) without one.

``server.adapter`` implements it on aiohttp; unit tests implement it in memory.
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    def buffered(self) -> int:
        """Bytes handed to the connection and not yet taken by the peer."""
        ...

    def write_now(self, frame: bytes) -> bool:
        """Write one text frame at once, without a task switch; False when that is not possible now."""
        ...

    async def send(self, frame: bytes) -> None:
        """Write one text frame, waiting for the connection if it must."""
        ...

    async def close(self, code: int, reason: bytes) -> None:
        """Close with a code (bounded: a peer that does not answer is cut off)."""
        ...
