"""Every setting of ``sbws serve`` in one place: its flag, its SBWS_* twin, its help.

The argparse parser and the README's settings table are both generated from
``SERVE_OPTIONS``, so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from engine.devig import METHODS
from engine.value import CONSENSUS

from .errors import ConfigError


def _commission(items: Sequence[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        book, sep, pct = item.partition("=")
        if not sep or not book:
            raise ValueError(f"commission must look like BOOK=PERCENT, got {item!r}")
        value = float(pct)
        if not 0 <= value < 100:
            raise ValueError(f"commission percent must be in [0, 100), got {value}")
        out[book.strip()] = value / 100.0
    return out


LOG_LEVELS = ("debug", "info", "warning", "error")


@frozen
class Settings:
    host: str = "127.0.0.1"
    port: int = 3000
    db: str = "sbws.db"
    feed: str = "sim"
    seed: int = 1
    market_interval: float = 5.0
    arbitrage_interval: float = 10.0
    heartbeat_interval: float = 30.0
    allowed_origins: tuple[str, ...] = ()
    public_origin: str = ""
    trust_user_id: bool = False
    commission: Mapping[str, float] = field(factory=dict)
    commission_discount: Mapping[str, float] = field(factory=dict)
    max_quote_age: float = 120.0
    max_edge: float = 10.0
    sharp: tuple[str, ...] = ("pinnacle", "betfair", "matchbook")
    devig: str = "worst"
    min_ev: float = 1.0
    max_ev: float = 15.0
    kelly_fraction: float = 0.25
    kelly_cap: float = 5.0
    value_interval: float | None = None
    history_days: int = 7
    replay_window: float = 60.0
    replay_max_bytes: int = 16 * 1024 * 1024
    steam_move: float = 2.0
    steam_books: int = 3
    steam_window: float = 60.0
    allow_private_webhooks: bool = False
    max_alert_rules: int = 50
    max_webhooks: int = 10
    alert_days: int = 30
    stake_rounding: float = 0.0
    max_stake: float = 10_000.0
    min_stake: float = 0.01
    live_betting: bool = False
    max_bet_quote_age: float = 120.0
    rate_limit: float = 10.0
    rate_burst: int = 20
    max_message_bytes: int = 64 * 1024
    max_subscribed_markets: int = 1000
    max_connections: int = 10_000
    max_connections_per_ip: int = 100
    address_snapshots: float = 20.0
    header_timeout: float = 10.0
    sim_events: int = 24
    sim_books: int = 10
    sim_tick_ms: int = 500
    sim_speed: float = 1.0
    replay_speed: float = 1.0
    depth: int = 3
    betfair_stream: str = "stream-api.betfair.com:443"
    betfair_app_key: str = ""
    betfair_session: str = ""
    betfair_ca: str = ""
    betfair_event_types: tuple[str, ...] = ("7", "4339")
    betfair_market_types: tuple[str, ...] = ("WIN", "PLACE")
    betfair_countries: tuple[str, ...] = ()
    betfair_market_ids: tuple[str, ...] = ()
    betfair_fields: tuple[str, ...] = ("EX_BEST_OFFERS_DISP", "EX_TRADED", "EX_LTP", "EX_MARKET_DEF")
    betfair_conflate_ms: int = 0
    betfair_heartbeat_ms: int = 5000
    betfair_catalogue: str = ""
    odds_api_base: str = "https://api.the-odds-api.com"
    odds_api_sports: tuple[str, ...] = ("basketball_nba",)
    odds_api_regions: str = "us,eu,uk"
    odds_api_bookmakers: str = ""
    odds_api_interval: float = 60.0
    odds_api_key: str = ""
    record: str = ""
    compress: bool = False
    soft_limit_bytes: int = 256 * 1024
    hard_limit_bytes: int = 4 * 1024 * 1024
    slow_timeout: float = 10.0
    log_level: str = "info"
    broker: str = ""
    workers: int = 1
    leader_ttl: float = 5.0
    node_id: str = ""


@frozen
class Option:
    name: str
    help: str
    parse: Callable[[str], Any] = str
    many: bool = False
    flag_only: bool = False
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SBWS_" + self.name.upper()


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


SERVE_OPTIONS: tuple[Option, ...] = (
    Option("host", "interface to listen on", metavar="HOST"),
    Option("port", "TCP port to listen on", int, metavar="PORT"),
    Option("db", "ledger: a SQLite file path, or postgresql://user@host/db", metavar="PATH|URL"),
    Option("feed", "odds source: sim, odds-api, replay:FILE.csv[,FILE...], replay:FILE.jsonl, betfair:FILE[,FILE...] or betfair-stream; several joined by + (the first is the primary)", metavar="NAME[:ARG]"),
    Option("seed", "simulator seed (same seed, same market)", int, metavar="N"),
    Option("market_interval", "seconds between market_update pushes; 0 pushes on every engine update", float, metavar="SECONDS"),
    Option("arbitrage_interval", "seconds between arbitrage_update pushes; 0 pushes on every engine update", float, metavar="SECONDS"),
    Option("heartbeat_interval", "seconds between heartbeat pushes", float, metavar="SECONDS"),
    Option("allowed_origins", "extra browser origins allowed to open the WebSocket (comma-separated)", _csv, metavar="ORIGINS"),
    Option("public_origin", "this server's origin as browsers see it (https://odds.example.com); set it behind a proxy", metavar="URL"),
    Option("trust_user_id", "DEVELOPMENT ONLY: let ?user_id= grant betting rights without a token", _bool, flag_only=True),
    Option("commission", "exchange commission on net winnings, repeatable (e.g. betfair=5)", str, many=True, metavar="BOOK=PERCENT"),
    Option("commission_discount", "your discount on an exchange's commission, repeatable (e.g. betfair=40: a 5 percent rate becomes 3)", str, many=True, metavar="BOOK=PERCENT"),
    Option("max_quote_age", "ignore quotes older than this many seconds in arbitrage (0 disables)", float, metavar="SECONDS"),
    Option("max_edge", "flag opportunities with a larger edge (percent) as suspect", float, metavar="PERCENT"),
    Option("sharp", "books whose de-vigged prices are the fair line, first quoting the whole market wins; or consensus", _csv, metavar="BOOKS|consensus"),
    Option("devig", "margin removal for the fair line: multiplicative, additive, power, shin or worst", metavar="METHOD"),
    Option("min_ev", "smallest expected value (percent) reported as a value bet", float, metavar="PERCENT"),
    Option("max_ev", "flag value bets with a larger expected value (percent) as suspect", float, metavar="PERCENT"),
    Option("kelly_fraction", "share of full Kelly in suggested value stakes", float, metavar="FRACTION"),
    Option("kelly_cap", "largest suggested value stake, in percent of the bankroll", float, metavar="PERCENT"),
    Option("value_interval", "seconds between value_update and middles_update pushes (default: --arbitrage-interval; 0: every engine update)", float, metavar="SECONDS"),
    Option("replay_window", "protocol v2: seconds of market changes a reconnecting client may resume from", float, metavar="SECONDS"),
    Option("replay_max_bytes", "protocol v2: the most bytes of deltas the replay window holds", int, metavar="BYTES"),
    Option("history_days", "days of price history kept (whole days; pruned in the background)", int, metavar="DAYS"),
    Option("steam_move", "steam: implied-probability points a book must move", float, metavar="POINTS"),
    Option("steam_books", "steam: books that must move the same selection the same way", int, metavar="N"),
    Option("steam_window", "steam: seconds within which the books must move", float, metavar="SECONDS"),
    Option("allow_private_webhooks", "let alert webhooks reach loopback and private addresses (tests, self-hosted receivers)", _bool, flag_only=True),
    Option("max_alert_rules", "alert rules one user may have (past it: NX-429, nothing changes)", int, metavar="N"),
    Option("max_webhooks", "webhooks one user may have (past it: NX-429, nothing changes)", int, metavar="N"),
    Option("alert_days", "days of alerts and webhook delivery attempts kept (pruned in the background)", int, metavar="DAYS"),
    Option("stake_rounding", "round each arbitrage leg's stake to this unit (0: exact)", float, metavar="UNIT"),
    Option("max_stake", "largest stake accepted for one bet", float, metavar="AMOUNT"),
    Option("min_stake", "smallest stake accepted for one bet", float, metavar="AMOUNT"),
    Option("max_bet_quote_age", "refuse a bet whose price the feed last confirmed more than this many seconds ago (0 disables)", float, metavar="SECONDS"),
    Option("live_betting", "accept bets on events that have started", _bool, flag_only=True),
    Option("rate_limit", "messages per second allowed per socket (token bucket rate)", float, metavar="PER_SECOND"),
    Option("rate_burst", "token bucket size: messages a socket may send in a burst", int, metavar="N"),
    Option("max_message_bytes", "largest client frame accepted (bytes); larger closes with 1009", int, metavar="BYTES"),
    Option("max_connections", "open WebSockets the server accepts in all (past it: HTTP 503)", int, metavar="N"),
    Option("max_connections_per_ip", "open WebSockets one client address may hold (past it: HTTP 429)", int, metavar="N"),
    Option("address_snapshots", "images (subscribe, unsubscribe, resume) one client address may ask for per second, over all its sockets (burst: 2.5 s of it; past it NX-429)", float, metavar="PER_SECOND"),
    Option("header_timeout", "seconds a new connection may take to send its first request head before it is closed", float, metavar="SECONDS"),
    Option("max_subscribed_markets", "market ids one socket may subscribe to (past it: NX-400, nothing changes)", int, metavar="N"),
    Option("sim_events", "simulator: concurrent events", int, metavar="N"),
    Option("sim_books", "simulator: number of sportsbooks (2 to 20)", int, metavar="N"),
    Option("sim_tick_ms", "simulator: milliseconds between ticks", int, metavar="MS"),
    Option("sim_speed", "simulator: time acceleration (2 runs event clocks twice as fast)", float, metavar="FACTOR"),
    Option("replay_speed", "betfair files: replay pace (1 real time, 10 ten times faster, 0 as fast as possible)", float, metavar="FACTOR"),
    Option("depth", "exchange ladder levels each side carried per selection", int, metavar="N"),
    Option("betfair_stream", "betfair-stream: the Exchange Stream API's HOST:PORT", metavar="HOST:PORT"),
    Option("betfair_app_key", "betfair-stream: the app key (prefer the environment variable)", metavar="KEY"),
    Option("betfair_session", "betfair-stream: the session token (prefer the environment variable)", metavar="TOKEN"),
    Option("betfair_ca", "betfair-stream: a CA file to trust instead of the system's (a private endpoint)", metavar="FILE"),
    Option("betfair_event_types", "betfair-stream: event type ids to subscribe to (comma-separated)", _csv, metavar="IDS"),
    Option("betfair_market_types", "betfair-stream: market types (comma-separated; empty: all)", _csv, metavar="TYPES"),
    Option("betfair_countries", "betfair-stream: country codes (comma-separated; empty: all)", _csv, metavar="CODES"),
    Option("betfair_market_ids", "betfair-stream: market ids (comma-separated; empty: all)", _csv, metavar="IDS"),
    Option("betfair_fields", "betfair-stream: the data filter's fields (comma-separated)", _csv, metavar="FIELDS"),
    Option("betfair_conflate_ms", "betfair-stream: conflateMs (0: every change)", int, metavar="MS"),
    Option("betfair_heartbeat_ms", "betfair-stream: heartbeatMs (the stream's heartbeat interval)", int, metavar="MS"),
    Option("betfair_catalogue", "betfair files: a market catalogue JSON for runner and market names", metavar="FILE"),
    Option("odds_api_base", "The Odds API base URL", metavar="URL"),
    Option("odds_api_sports", "The Odds API sport keys (comma-separated)", _csv, metavar="KEYS"),
    Option("odds_api_regions", "The Odds API regions (comma-separated)", metavar="REGIONS"),
    Option("odds_api_bookmakers", "The Odds API bookmaker keys (comma-separated; replaces regions when set)", metavar="KEYS"),
    Option("odds_api_interval", "seconds between The Odds API polls (stretched as the quota runs low)", float, metavar="SECONDS"),
    Option("odds_api_key", "The Odds API key (prefer the environment variable)", metavar="KEY"),
    Option("record", "record every normalized feed batch to this JSONL file", metavar="FILE"),
    Option("compress", "per-message deflate for pushes (costs CPU per socket)", _bool, flag_only=True),
    Option("soft_limit_bytes", "per-socket outgoing bytes over which market updates are conflated", int, metavar="BYTES"),
    Option("hard_limit_bytes", "per-socket outgoing bytes over which the socket is closed (1013)", int, metavar="BYTES"),
    Option("slow_timeout", "seconds a socket may stay over the soft limit before it is closed (1013)", float, metavar="SECONDS"),
    Option("log_level", "debug, info, warning or error", metavar="LEVEL"),
    Option("broker", "redis://HOST:PORT/DB to share one market across nodes and workers (default: in-process)", metavar="URL"),
    Option("workers", "processes sharing the port (SO_REUSEPORT); more than 1 needs --broker", int, metavar="N"),
    Option("leader_ttl", "seconds a leader's lock lives without renewal (failover time)", float, metavar="SECONDS"),
    Option("node_id", "this node's name in the cluster (default: random)", metavar="NAME"),
)

DEFAULTS = Settings()


def add_arguments(parser: argparse.ArgumentParser, options: Sequence[Option] = SERVE_OPTIONS) -> None:
    for opt in options:
        default = getattr(DEFAULTS, opt.name)
        shown = dict(default) if isinstance(default, Mapping) else default
        if isinstance(shown, tuple):
            shown = ",".join(shown)
        text = f"{opt.help} [env {opt.env}; default {shown!r}]"
        if opt.flag_only:
            parser.add_argument(opt.flag, action="store_const", const="true", default=None, help=text)
        elif opt.many:
            parser.add_argument(opt.flag, action="append", default=None, metavar=opt.metavar, help=text)
        else:
            parser.add_argument(opt.flag, default=None, metavar=opt.metavar or opt.name.upper(), help=text)


def resolve(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, options: Sequence[Option] = SERVE_OPTIONS
) -> Settings:
    """Flags win over SBWS_* variables, which win over defaults."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for opt in options:
        raw = getattr(args, opt.name, None)
        if raw is None and opt.env in env:
            raw = env[opt.env].split(",") if opt.many else env[opt.env]
        if raw is None:
            continue
        try:
            if opt.name in ("commission", "commission_discount"):
                values[opt.name] = _commission(raw)
            else:
                values[opt.name] = opt.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"invalid {opt.flag} / {opt.env}: {exc}") from None
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(s: Settings) -> None:
    problems = []
    if not 0 < s.port < 65536:
        problems.append("--port must be 1..65535")
    for name in ("market_interval", "arbitrage_interval", "max_quote_age", "max_bet_quote_age", "stake_rounding"):
        if getattr(s, name) < 0:
            problems.append(f"--{name.replace('_', '-')} must be >= 0")
    if s.value_interval is not None and s.value_interval < 0:
        problems.append("--value-interval must be >= 0")
    if s.devig not in METHODS:
        problems.append(f"--devig must be one of {', '.join(METHODS)}")
    if not s.sharp or (CONSENSUS in s.sharp and len(s.sharp) > 1):
        problems.append("--sharp must list books, or be consensus alone")
    if not 0 < s.kelly_fraction <= 1 or not 0 < s.kelly_cap <= 100:
        problems.append("--kelly-fraction must be in (0, 1] and --kelly-cap in (0, 100]")
    if s.max_ev <= s.min_ev:
        problems.append("--max-ev must be above --min-ev")
    if s.replay_window < 0 or s.replay_max_bytes < 0:
        problems.append("--replay-window and --replay-max-bytes must be >= 0")
    if s.max_alert_rules < 1 or s.max_webhooks < 1 or s.alert_days < 1:
        problems.append("--max-alert-rules, --max-webhooks and --alert-days must be >= 1")
    if s.history_days < 1 or s.steam_move <= 0 or s.steam_books < 2 or s.steam_window <= 0:
        problems.append("--history-days must be >= 1, --steam-move > 0, --steam-books >= 2, --steam-window > 0")
    if s.heartbeat_interval <= 0:
        problems.append("--heartbeat-interval must be > 0")
    if not 0 < s.min_stake <= s.max_stake:
        problems.append("--min-stake must be > 0 and <= --max-stake")
    if s.log_level not in LOG_LEVELS:
        problems.append(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    if s.address_snapshots <= 0:
        problems.append("--address-snapshots must be > 0")
    if s.max_connections < 1 or s.max_connections_per_ip < 1 or s.header_timeout <= 0:
        problems.append("--max-connections and --max-connections-per-ip must be >= 1, --header-timeout > 0")
    if s.max_subscribed_markets < 1:
        problems.append("--max-subscribed-markets must be >= 1")
    if s.rate_limit <= 0 or s.rate_burst < 1:
        problems.append("--rate-limit must be > 0 and --rate-burst >= 1")
    if not 2 <= s.sim_books <= 20 or s.sim_events < 1 or s.sim_tick_ms < 1 or s.sim_speed <= 0:
        problems.append("simulator: --sim-books 2..20, --sim-events >= 1, --sim-tick-ms >= 1, --sim-speed > 0")
    if s.replay_speed < 0:
        problems.append("--replay-speed must be >= 0 (0: as fast as possible)")
    if ":" not in s.betfair_stream or not s.betfair_stream.rsplit(":", 1)[1].isdigit():
        problems.append("--betfair-stream must be HOST:PORT")
    if s.betfair_conflate_ms < 0 or not 500 <= s.betfair_heartbeat_ms <= 5000:
        problems.append("--betfair-conflate-ms must be >= 0 and --betfair-heartbeat-ms 500 to 5000 (the stream's range)")
    if not 1 <= s.depth <= 10:
        problems.append("--depth must be 1 to 10")
    if s.workers < 1 or (s.workers > 1 and not s.broker):
        problems.append("--workers > 1 needs --broker redis://… (workers share one market through Redis)")
    if s.leader_ttl <= 0:
        problems.append("--leader-ttl must be > 0")
    if s.public_origin and (not s.public_origin.startswith(("http://", "https://")) or "/" in s.public_origin.split("://", 1)[1].rstrip("/")):
        problems.append("--public-origin must be a scheme and host, like https://odds.example.com")
    if s.soft_limit_bytes >= s.hard_limit_bytes:
        problems.append("--soft-limit-bytes must be below --hard-limit-bytes")
    if problems:
        raise ConfigError("; ".join(problems))


def value_interval(s: Settings) -> float:
    return s.arbitrage_interval if s.value_interval is None else s.value_interval


def markdown_table(options: Sequence[Option] = SERVE_OPTIONS) -> str:
    rows = ["| flag | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for opt in options:
        default = getattr(DEFAULTS, opt.name)
        if isinstance(default, tuple):
            default = ",".join(default)
        if isinstance(default, Mapping) or default is None:
            default = ""
        shown = f"`{default}`" if default != "" else "(none)"
        flag = opt.flag + ("" if opt.flag_only else f" {opt.metavar or opt.name.upper()}")
        rows.append(f"| `{flag}` | `{opt.env}` | {shown} | {opt.help} |")
    return "\n".join(rows)
