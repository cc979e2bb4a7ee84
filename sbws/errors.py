"""The one exception tree of sbws, and the error codes clients see.

Library code raises these; ``server.errors`` turns them into bodies for both
doors (WebSocket and HTTP) and ``cli.main`` into one ``sbws: …`` line and an
exit code.  Elsewhere a broad ``except Exception`` stands only where a loop or
task must outlive one failure (the node's timers and background work, the
history writers, webhook deliveries, the feeds' polls, the cluster broker),
and each logs what it caught.
"""

from __future__ import annotations

from typing import Any

BAD_REQUEST = "NX-400"
UNAUTHORIZED = "NX-401"
FORBIDDEN = "NX-403"
NOT_FOUND = "NX-404"
CONFLICT = "NX-409"
TOO_MANY = "NX-429"
INTERNAL = "NX-500"
UNAVAILABLE = "NX-503"
HTTP_STATUS = {
    BAD_REQUEST: 400, UNAUTHORIZED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, TOO_MANY: 429, INTERNAL: 500,
    UNAVAILABLE: 503,
}


class SbwsError(Exception):
    """Anything sbws raises on purpose."""


class ConfigError(SbwsError):
    """A setting, flag or argument that cannot work; the message says how to fix it."""


class LedgerError(SbwsError):
    """The ledger refused an operation (an unknown user, a duplicate name, a missing row)."""


class LedgerUnavailable(LedgerError):
    """The ledger cannot take the operation now (locked, disk full, read-only); the same request may pass later."""


class FeedError(SbwsError):
    """An odds source answered with something unusable."""


class ProtocolError(SbwsError):
    """A client request that cannot be served; carries the NX code and the field at fault."""

    def __init__(self, code: str, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "message": self.message, "code": self.code}
        if self.field:
            out["field"] = self.field
        out.update(self.extra)
        return out


def bad(field: str, message: str) -> ProtocolError:
    return ProtocolError(BAD_REQUEST, f"{field}: {message}", field)
