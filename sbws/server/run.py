"""Serving the application on a port until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import signal
import socket

import structlog
from aiohttp import web

from ..errors import ConfigError
from ..settings import Settings
from .app import make_app


def bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    """The listening socket, taken before anything else starts, so a busy port creates nothing."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address or a name this machine can resolve ({exc.strerror})") from None
    try:
        return socket.create_server(address[:2], family=family, backlog=128, reuse_port=reuse_port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use: stop the other server or choose --port") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


async def serve(settings: Settings, reuse_port: bool = False) -> None:
    sock = bind(settings.host, settings.port, reuse_port)
    app = make_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    try:
        await runner.setup()
    except BaseException:
        sock.close()
        raise
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    structlog.get_logger("sbws").info("listening", url=f"http://{settings.host}:{settings.port}/")
    await stop.wait()
    await runner.cleanup()
