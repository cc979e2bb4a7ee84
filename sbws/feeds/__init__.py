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
    if name == "odds-api":
        from .odds_api import OddsApiFeed

        if not settings.odds_api_key:
            raise SystemExit("sbws: --feed odds-api needs an API key in SBWS_ODDS_API_KEY (or --odds-api-key)")
        return OddsApiFeed(
            settings.odds_api_base, settings.odds_api_sports, settings.odds_api_regions,
            settings.odds_api_interval, settings.odds_api_key, bookmakers=settings.odds_api_bookmakers,
        )
    if name == "replay":
        from .replay import JsonlReplay, SeasonReplay

        files = [f for f in arg.split(",") if f]
        if not files:
            raise SystemExit("sbws: --feed replay:FILE.csv[,FILE...] or replay:FILE.jsonl")
        if len(files) == 1 and files[0].endswith(".jsonl"):
            return JsonlReplay(files[0], speed=settings.sim_speed)
        return SeasonReplay(files, tick_s=settings.sim_tick_ms / 1000.0)
    raise SystemExit(f"sbws: unknown feed {settings.feed!r}; expected sim, odds-api or replay:FILE")
