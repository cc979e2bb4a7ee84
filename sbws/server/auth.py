"""Where credentials come from and which browser origins may connect."""

from __future__ import annotations

import ipaddress

from aiohttp import web


def request_token(request: web.Request) -> str | None:
    """Authorization: Bearer, then the X-Token cookie, then ?token=."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get("X-Token") or request.query.get("token") or None


def origin_allowed(request: web.Request, allowed: tuple[str, ...], public_origin: str = "") -> bool:
    """Non-browser clients send no Origin; browsers must come from us or an allowed site.

    "Us" is ``--public-origin`` when set.  Without it, it is the Host the client
    sent, which a DNS-rebinding page controls: set it in production.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = public_origin.rstrip("/") if public_origin else f"{request.scheme}://{request.host}"
    return origin == own or origin in allowed


def loopback_host(request: web.Request) -> bool:
    """The Host header names this machine (localhost, 127.0.0.0/8 or ::1), whatever the port."""
    host = request.host
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.rpartition(":")[0] if host.count(":") == 1 else host
    if name.lower() in ("localhost", "::1"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
