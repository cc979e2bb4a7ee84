"""The ``sbws`` command: serve, users, tokens, backtest and watch."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

import attrs
import orjson

from . import __version__
from .clock import now_ms
from .errors import SbwsError
from .settings import DEFAULTS, SERVE_OPTIONS, Settings, add_arguments, resolve


def _db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=None, metavar="PATH",
        help=f"ledger SQLite file [env SBWS_DB; default {DEFAULTS.db!r}]",
    )


BACKTEST_OPTIONS = ("commission", "max_edge", "stake_rounding", "devig", "min_ev", "kelly_fraction", "kelly_cap")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sbws",
        description="Real-time sportsbook odds, arbitrage and bets over one WebSocket.",
        epilog="Every serve flag also reads an SBWS_* environment variable; flags win.",
    )
    parser.add_argument("--version", action="version", version=f"sbws {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the server (WebSocket, REST API, dashboard)",
        description="Run the server. With no flags: the market simulator as the odds source and a SQLite ledger "
        "in ./sbws.db, listening on http://127.0.0.1:3000.",
    )
    add_arguments(serve)

    users = sub.add_parser("users", help="manage users", description="Create and list users of the ledger.")
    users_sub = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="create a user and print a new API token on the last line")
    add.add_argument("name")
    _db_argument(add)
    listing = users_sub.add_parser("list", help="list users")
    _db_argument(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")

    tokens = sub.add_parser("tokens", help="manage API tokens", description="Issue and revoke API tokens.")
    tokens_sub = tokens.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = tokens_sub.add_parser("issue", help="issue a new token for a user; printed once, on the last line")
    issue.add_argument("name")
    issue.add_argument("--expires", metavar="DURATION", type=_duration_ms,
                       help="the token stops working after this long: 30d, 12h, 45m or 90s (default: never)")
    _db_argument(issue)
    revoke = tokens_sub.add_parser("revoke", help="revoke a token by its id (the part before the dot)")
    revoke.add_argument("token_id")
    _db_argument(revoke)
    backtest = sub.add_parser(
        "backtest", help="run football-data.co.uk season files through the engine",
        description="Find every arbitrage in historical odds (opening and closing) and what taking them all would "
        "have returned given the real results.",
    )
    backtest.add_argument("files", nargs="+", metavar="FILE.csv")
    backtest.add_argument("--json", action="store_true", help="print one JSON object")
    backtest.add_argument("--total-stake", type=float, default=100.0, help="total stake per opportunity [default 100]")
    backtest.add_argument("--strict", action="store_true",
                          help="stop at the first row that cannot be read (default: skip it with a warning on stderr)")
    backtest.add_argument("--strategy", choices=("arbitrage", "value"), default="arbitrage",
                          help="arbitrage: every sure bet; value: +EV against Pinnacle's opening line [default arbitrage]")
    backtest.add_argument("--bankroll", type=float, default=1000.0, help="value: starting Kelly bankroll [default 1000]")
    backtest.add_argument("--report", metavar="FILE.html", help="value: write a self-contained HTML report")
    add_arguments(backtest, [o for o in SERVE_OPTIONS if o.name in BACKTEST_OPTIONS])

    watch = sub.add_parser(
        "watch", help="a live terminal view of arbitrage, value and middles (docs/client.md)",
        description="Arbitrage, value and middles as they open and close, with the connection state and bet "
        "updates, over the Python client. The screen needs the watch extra (pip install 'sbws[watch]'); "
        "--json prints one event per line instead.",
    )
    watch.add_argument("--url", default=os.environ.get("SBWS_URL", "ws://127.0.0.1:3000"),
                       help="the server [env SBWS_URL; default ws://127.0.0.1:3000]")
    watch.add_argument("--token", default=os.environ.get("SBWS_TOKEN"),
                       help="an API token, for your bet updates [env SBWS_TOKEN]")
    watch.add_argument("--sport", action="append", default=[], help="only this sport (repeatable)")
    watch.add_argument("--book", action="append", default=[], help="only items whose legs are all at these books "
                       "(repeatable)")
    watch.add_argument("--min-edge", type=float, default=None, metavar="PCT",
                       help="hide arbitrage below this edge and value or middles below this EV (percent)")
    watch.add_argument("--sort", choices=("edge", "ev", "age"), default="edge",
                       help="edge/ev: best first; age: newest first [default edge]")
    watch.add_argument("--rows", type=int, default=15, help="rows per table [default 15]")
    watch.add_argument("--json", action="store_true", help="print one JSON event per line")
    return parser


def _duration_ms(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit() or int(number) == 0:
        raise argparse.ArgumentTypeError(f"expected a duration like 30d, 12h, 45m or 90s, got {text!r}")
    return int(number) * units[unit] * 1000


def _db(args: argparse.Namespace) -> str:
    return str(args.db or os.environ.get("SBWS_DB") or DEFAULTS.db)


async def _admin(args: argparse.Namespace) -> int:
    from .ledger.factory import open_ledger
    from .ledger.models import check_username

    if args.command == "users" and args.action == "add":
        check_username(args.name)  # before the ledger is opened: a refused name creates nothing
    ledger = await open_ledger(_db(args))
    try:
        if args.command == "users" and args.action == "add":
            await ledger.add_user(args.name)
            token_id, token = await ledger.issue_token(args.name)
            print(f"created user {args.name}; token id {token_id} (shown once, store it now):", file=sys.stderr)
            print(token)
        elif args.command == "users":
            rows = await ledger.list_users()
            if args.json:
                sys.stdout.buffer.write(orjson.dumps(rows) + b"\n")
            else:
                for row in rows:
                    print(f"{row['username']}\t{row['id']}\tactive tokens: {row['activeTokens']}")
        elif args.action == "issue":
            expires_at = now_ms() + args.expires if args.expires else None
            token_id, token = await ledger.issue_token(args.name, expires_at)
            until = f", expires {datetime.fromtimestamp(expires_at / 1000, timezone.utc):%Y-%m-%d %H:%M} UTC" if expires_at else ""
            print(f"token id {token_id} for {args.name}{until} (shown once):", file=sys.stderr)
            print(token)
        elif args.action == "revoke":
            if not await ledger.revoke_token(args.token_id):
                print(f"sbws: no active token {args.token_id}", file=sys.stderr)
                return 1
            print(f"revoked {args.token_id}", file=sys.stderr)
    finally:
        await ledger.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The only place that turns errors into a message and an exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "backtest":
            return backtest(args)
        if args.command == "watch":
            return watch(args)
        return asyncio.run(_admin(args))
    except SbwsError as exc:
        print(f"sbws: {exc}", file=sys.stderr)
        return 1


def backtest(args: argparse.Namespace) -> int:
    from . import backtest as bt, value_backtest as vb, value_report
    from .feeds.factory import arb_config
    from .observability import logs

    logs.configure("warning")
    settings = resolve(args, options=[o for o in SERVE_OPTIONS if o.name in BACKTEST_OPTIONS])
    if args.strategy == "arbitrage" and args.report:
        print("sbws: --report needs --strategy value", file=sys.stderr)
        return 1
    if not args.bankroll > 0:
        print("sbws: --bankroll must be > 0", file=sys.stderr)
        return 1
    try:
        if args.strategy == "value":
            options = vb.ValueOptions(settings.devig, settings.min_ev, settings.kelly_fraction, settings.kelly_cap,
                                      args.bankroll, dict(settings.commission))
            report = vb.run(args.files, options, strict=args.strict)
            if args.report:
                with open(args.report, "w", encoding="utf-8") as out:
                    out.write(value_report.page(report))
        else:
            config = attrs.evolve(arb_config(settings), max_age=0.0, total_stake=args.total_stake)
            report = bt.run(args.files, config, strict=args.strict)
    except OSError as exc:
        print(f"sbws: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(report) + b"\n")
    else:
        print(printable(vb.render(report) if args.strategy == "value" else bt.render(report)))
    return 0


def watch(args: argparse.Namespace) -> int:
    from .client.errors import ClientError
    from .client.watch import Options, watch as run_watch

    if not args.json:
        try:
            import rich  # noqa: F401
        except ImportError:
            print("sbws: sbws watch draws its screen with rich: pip install 'sbws[watch]' (or use --json)",
                  file=sys.stderr)
            return 1
    options = Options(args.url, args.token, tuple(args.sport), tuple(args.book), args.min_edge, args.sort,
                      max(1, args.rows), args.json)
    try:
        return asyncio.run(run_watch(options))
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `sbws watch --json | head`: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except ClientError as exc:
        print(f"sbws: {exc}", file=sys.stderr)
        return 1


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 and C1 control characters (ESC among them) but tab and newline: a crafted season file's team names
must not drive the terminal."""


def printable(text: str) -> str:
    return CONTROL.sub("", text)


def serve(args: argparse.Namespace) -> int:
    from .observability import logs
    from .server.run import serve as run_server

    settings = resolve(args)
    logs.configure(settings.log_level)
    if settings.workers > 1:
        return run_workers(settings)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run_server(settings, reuse_port=bool(os.environ.get("SBWS_WORKER_OF"))))
    return 0


def run_workers(settings: Settings) -> int:
    """N copies of this server on one port (SO_REUSEPORT), sharing the market through the broker."""
    import secrets
    import subprocess

    import structlog

    log = structlog.get_logger("sbws.workers")
    base = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "sbws"]
    args = [a for a in sys.argv[1:] if not a.startswith("--workers")]
    if "--workers" in sys.argv:
        i = sys.argv.index("--workers")
        args = sys.argv[1:i] + sys.argv[i + 2:]
    cluster = settings.node_id or "node-" + secrets.token_hex(3)
    children = []
    for index in range(settings.workers):
        env = {**os.environ, "SBWS_WORKERS": "1", "SBWS_WORKER_OF": cluster, "SBWS_NODE_ID": f"{cluster}-w{index}"}
        children.append(subprocess.Popen([*base, *args], env=env, preexec_fn=_die_with_parent))
    log.info("workers_started", workers=settings.workers, pids=[c.pid for c in children], port=settings.port)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    log.info("workers_stopped", codes=codes)
    return max(codes, default=0)


def _die_with_parent() -> None:
    """Linux: the kernel sends the worker SIGTERM if the supervisor dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
