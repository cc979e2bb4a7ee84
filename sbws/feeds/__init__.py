"""Odds sources behind one interface (see ``base.Feed``); ``make_feed`` picks one."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import Feed


def make_feed(settings: Settings) -> Feed:
    name, _, arg = settings.feed.partition(":")
    if name == "sim":
        from .simulator import Simulator

        return Simulator(
            seed=settings.seed,
            events=settings.sim_events,
            books=settings.sim_books,
            tick_ms=settings.sim_tick_ms,
            speed=settings.sim_speed,
        )
    raise SystemExit(f"sbws: unknown feed {settings.feed!r}; expected sim, odds-api or replay:FILE")
