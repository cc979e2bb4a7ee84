"""Serving the application on a port until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from ..settings import Settings
from .app import make_app


async def serve(settings: Settings, reuse_port: bool = False) -> None:
    app = make_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    structlog.get_logger("sbws").info("listening", url=f"http://{settings.host}:{settings.port}/")
    await stop.wait()
    await runner.cleanup()
