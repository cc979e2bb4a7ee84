"""Serving the application on a port until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import resource
import signal
import socket
import sys
import time
from typing import Any

import structlog
from aiohttp import web

from ..errors import ConfigError
from ..observability.logs import Throttle
from ..settings import Settings
from .adapter import close_silent_connections
from .app import make_app
from .keys import METRICS

log = structlog.get_logger("sbws")
ACCEPT_ERRORS = Throttle(10.0)
GIL_SWITCH_INTERVAL = 0.0005
"""Seconds a worker thread (history replies, the ledger's and the history's SQLite) may keep the GIL while the
loop asks for it.  At Python's 5 ms, four history requests stretched one feed batch from a few ms to 250 ms:
numpy and socket calls release the GIL and each waited up to 5 ms to get it back (``benchmarks/history_flood.py``)."""


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


def raise_open_files_limit() -> int:
    """The soft limit on open files up to the hard one: each socket is a file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("open_files_limit_unchanged", soft=soft, hard=hard, error=str(exc))
    return soft


def _on_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Accept failures for lack of file descriptors: one structured line every few seconds, not a traceback each."""
    exc = context.get("exception")
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
        held = ACCEPT_ERRORS.ready(time.monotonic())
        if held is not None:
            log.error("accept_failed", error=exc.strerror, not_logged_since=held,
                      fix="raise LimitNOFILE (see docs/deployment.md) or lower --max-connections")
        return
    loop.default_exception_handler(context)


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task_crashed", task=task.get_name(), error=repr(task.exception()))


async def serve(settings: Settings, reuse_port: bool = False) -> None:
    sock = bind(settings.host, settings.port, reuse_port)
    open_files = raise_open_files_limit()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_on_loop_error)
    try:
        app = await make_app(settings)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
    except BaseException:
        sock.close()
        raise
    site = web.SockSite(runner, sock)
    await site.start()
    sweeper = asyncio.create_task(close_silent_connections(
        runner, settings.header_timeout, app[METRICS].head_timeouts.inc))
    sweeper.add_done_callback(_report_crash)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening", url=f"http://{settings.host}:{settings.port}/", open_files=open_files)
    await stop.wait()
    sweeper.cancel()
    await runner.cleanup()
