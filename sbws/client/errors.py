"""The client's one exception tree (its own: the client imports nothing of the server)."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Anything the client raises."""

    retryable = False


class ServerError(ClientError):
    """The server answered ``error``: its NX code, message, and ``reason``/``retryable``/``field`` when given."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.code: str = str(body.get("code", "NX-500"))
        self.reason: str | None = body.get("reason")
        self.field: str | None = body.get("field")
        self.retryable = bool(body.get("retryable", False))
        super().__init__(f"{self.code}: {body.get('message', '')}" + (f" ({self.reason})" if self.reason else ""))


class ConnectionLost(ClientError):
    """The socket closed before the reply came; whether the server acted on the request is unknown."""

    retryable = True


class RequestTimeout(ClientError):
    """No reply within the timeout; whether the server acted on the request is unknown."""

    retryable = True


class ConnectFailed(ClientError):
    """The first connection could not be made within ``connect_timeout``."""
