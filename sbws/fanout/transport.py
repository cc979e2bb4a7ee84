"""The little fan-out needs from a socket, so it can be driven (and tested) without one.

``server.adapter`` implements it on aiohttp; unit tests implement it in memory.
"""

from __future__ import annotations

import enum
from typing import Protocol


class CloseCode(enum.IntEnum):
    """Every WebSocket close code the server sends (RFC 6455, section 7.4.1), from this one place."""

    GOING_AWAY = 1001
    """The server is shutting down."""
    PROTOCOL_ERROR = 1002
    """An unmasked client frame."""
    UNSUPPORTED_DATA = 1003
    """A binary frame."""
    POLICY_VIOLATION = 1008
    """A rate-limit flood, or a token revoked or expired."""
    MESSAGE_TOO_BIG = 1009
    """A client frame over ``--max-message-bytes`` (aiohttp's reader closes with it)."""
    TRY_AGAIN_LATER = 1013
    """A slow consumer past its limits."""


class Transport(Protocol):
    def buffered(self) -> int:
        """Bytes handed to the connection and not yet taken by the peer."""
        ...

    def write_now(self, framed: bytes, limit: int | None = None) -> bool:
        """Write one whole text frame (``wire.framing.text_frame``, built once for every socket) at once, without
        a task switch; False, writing nothing, when that is not possible now or the connection holds more than
        ``limit`` bytes not yet taken."""
        ...

    async def send(self, frame: bytes) -> None:
        """Write one text frame, waiting for the connection if it must."""
        ...

    async def close(self, code: int, reason: bytes) -> None:
        """Close with a code (bounded: a peer that does not answer is cut off)."""
        ...
