"""Server-to-client WebSocket text frames (RFC 6455, section 5.2), built once per push and written to many sockets.

A server frame is unmasked, so the same bytes serve every socket: the fan-out
frames a payload once and each socket's write is one ``transport.write`` of
them, with no per-socket header or copy.
"""

from __future__ import annotations

import struct

_TEXT = 0x81  # FIN and opcode 1
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frame(payload: bytes) -> bytes:
    """One final, uncompressed text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        return bytes((_TEXT, n)) + payload
    if n < 65536:
        return _MEDIUM.pack(_TEXT, 126, n) + payload
    return _LONG.pack(_TEXT, 127, n) + payload
