"""Where credentials come from and which browser origins may connect."""

from __future__ import annotations

from aiohttp import web


def request_token(request: web.Request) -> str | None:
    """Authorization: Bearer, then the X-Token cookie, then ?token=."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("X-Token") or request.query.get("token") or None


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Non-browser clients send no Origin; browsers must come from us or an allowed site."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in allowed
