"""Per-address budgets for costly requests, shared by both doors (a history answer can be large)."""

from __future__ import annotations

from aiohttp import web

from ..errors import TOO_MANY, ProtocolError
from .keys import HISTORY_LIMIT


def spend_history(app: web.Application, remote: str | None) -> None:
    """One history request from this address, or NX-429 (``reason: history rate``) when its budget is spent."""
    if not app[HISTORY_LIMIT].allowed(remote or ""):
        raise ProtocolError(TOO_MANY, "too many history requests from your address; slow down",
                            reason="history rate", retryable=True)
