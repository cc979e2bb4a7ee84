"""Choosing a feed from the settings, and what the engine must know of it."""

from __future__ import annotations

from engine.arbitrage import ArbConfig
from engine.middles import MiddleConfig
from engine.value import CONSENSUS, ValueConfig

from ..errors import ConfigError
from ..market.steam import SteamConfig
from ..settings import Settings
from .base import Feed


def make_feed(settings: Settings) -> Feed:
    """One source, or several joined by ``+`` (the first is the primary: ``combined.py``)."""
    if "+" in settings.feed:
        from .combined import Combined

        return Combined([_make(settings, part) for part in settings.feed.split("+")])
    return _make(settings, settings.feed)


def _make(settings: Settings, feed: str) -> Feed:
    name, _, arg = feed.partition(":")
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
            raise ConfigError("--feed odds-api needs an API key in SBWS_ODDS_API_KEY (or --odds-api-key)")
        return OddsApiFeed(
            settings.odds_api_base, settings.odds_api_sports, settings.odds_api_regions,
            settings.odds_api_interval, settings.odds_api_key, bookmakers=settings.odds_api_bookmakers,
        )
    if name == "replay":
        from .replay import JsonlReplay, SeasonReplay

        files = [f for f in arg.split(",") if f]
        if not files:
            raise ConfigError("--feed replay:FILE.csv[,FILE...] or replay:FILE.jsonl")
        if len(files) == 1 and files[0].endswith(".jsonl"):
            return JsonlReplay(files[0], speed=settings.sim_speed)
        return SeasonReplay(files, tick_s=settings.sim_tick_ms / 1000.0)
    if name == "betfair":
        from .betfair import BetfairFiles

        files = [f for f in arg.split(",") if f]
        if not files:
            raise ConfigError("--feed betfair:FILE[,FILE...] (Betfair stream or historical data files)")
        return BetfairFiles(files, speed=settings.replay_speed, catalogue=settings.betfair_catalogue or None,
                            depth=settings.depth)
    if name == "betfair-stream":
        import ssl

        from .betfair_live import BetfairStream, Subscription

        host, _, port = settings.betfair_stream.rpartition(":")
        context = ssl.create_default_context(cafile=settings.betfair_ca or None)
        subscription = Subscription(settings.betfair_event_types, settings.betfair_market_types,
                                    settings.betfair_countries, settings.betfair_market_ids, settings.betfair_fields,
                                    settings.depth, settings.betfair_conflate_ms, settings.betfair_heartbeat_ms)
        return BetfairStream(host, int(port), settings.betfair_app_key, settings.betfair_session, subscription,
                             context, depth=settings.depth)
    raise ConfigError(f"unknown feed {feed!r}; expected sim, odds-api, replay:FILE, betfair:FILE or "
                      "betfair-stream, or several joined by +")


def _commission(settings: Settings) -> dict[str, float]:
    """Live exchange data gets default commissions unless configured; a discount lowers what one pays."""
    commission = dict(settings.commission)
    if "odds-api" in settings.feed.split("+"):
        from .odds_api import EXCHANGE_COMMISSION

        commission = {**EXCHANGE_COMMISSION, **commission}
    return {book: rate * (1.0 - settings.commission_discount.get(book, 0.0)) for book, rate in commission.items()}


def value_config(settings: Settings) -> ValueConfig:
    return ValueConfig(
        sharp=settings.sharp, method=settings.devig, commission=_commission(settings),
        max_age=settings.max_quote_age, min_ev=settings.min_ev, max_ev=settings.max_ev,
        kelly_fraction=settings.kelly_fraction, kelly_cap=settings.kelly_cap,
    )


def steam_config(settings: Settings) -> SteamConfig:
    sharp = () if settings.sharp == (CONSENSUS,) else settings.sharp
    return SteamConfig(move=settings.steam_move, books=settings.steam_books, window=settings.steam_window, sharp=sharp)


def middle_config(settings: Settings) -> MiddleConfig:
    return MiddleConfig(commission=_commission(settings), max_age=settings.max_quote_age)


def arb_config(settings: Settings) -> ArbConfig:
    """Engine options from the settings."""
    commission = _commission(settings)
    return ArbConfig(
        commission=commission,
        max_age=settings.max_quote_age,
        max_edge=settings.max_edge,
        stake_rounding=settings.stake_rounding,
        total_stake=100.0,
    )
