"""``sbws watch``: arbitrage, value and middles live in a terminal, on the Python client.

The screen is drawn with rich (the ``watch`` extra), imported only for it;
``--json`` needs nothing beyond the client.  What is shown is chosen by pure
functions (``subscription``, ``rows``), so the view is tested apart from the
terminal and, whole, under a pseudo-terminal against a real server.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

import attrs
import orjson
from attrs import frozen

from .client import Client
from .events import BetPlaced, BetSettled, BetUpdated, Event, ItemOpened

KINDS = ("arbitrage", "value", "middles")
SORTS = ("edge", "ev", "age")


@frozen
class Options:
    url: str = "ws://127.0.0.1:3000"
    token: str | None = None
    sports: tuple[str, ...] = ()
    books: tuple[str, ...] = ()
    min_edge: float | None = None
    """Arbitrage edge or value/middle EV, percent."""
    sort: str = "edge"
    rows: int = 15
    json: bool = False


def subscription(options: Options) -> dict[str, Any]:
    """Sport and book filters go to the server (it then sends only what matches); the rest is the view's."""
    out: dict[str, Any] = {"arbitrage": True, "value": True, "middles": True}
    if options.sports:
        out["sports"] = list(options.sports)
    if options.books:
        out["sportsbooks"] = list(options.books)
    return out


def score(kind: str, item: dict[str, Any]) -> float | None:
    """What an item is worth, in percent: an arbitrage's edge, a value bet's or a middle's EV (None: unknown)."""
    value = item.get("edge") if kind == "arbitrage" else item.get("ev")
    return float(value) if isinstance(value, (int, float)) else None


def rows(items: dict[str, dict[str, Any]], kind: str, options: Options) -> list[dict[str, Any]]:
    """The items to show, filtered by the minimum and sorted: best first, or the newest first for ``age``."""
    def worth(item: dict[str, Any]) -> float:
        value = score(kind, item)
        return float("-inf") if value is None else value

    chosen = [i for i in items.values() if options.min_edge is None or worth(i) >= options.min_edge]
    if options.sort == "age":
        chosen.sort(key=lambda i: -float(i.get("detectedAt") or 0))
    else:
        chosen.sort(key=lambda i: -worth(i))
    return chosen[: options.rows]


def describe(kind: str, item: dict[str, Any]) -> str:
    if kind == "value":
        return f"{item.get('selection')} {item.get('decimal')} at {item.get('bookmaker')}"
    return ", ".join(f"{leg.get('selection')} {leg.get('decimal')} at {leg.get('bookmaker')}"
                     for leg in item.get("legs", ()))


def event_line(event: Event) -> bytes:
    """One event as one JSON line: ``{"event": "ItemOpened", "kind": …, "item": …}``."""
    return orjson.dumps({"event": type(event).__name__, **attrs.asdict(event)}) + b"\n"


def bet_line(event: BetPlaced | BetSettled | BetUpdated) -> str:
    bet = event.bet
    what = {BetPlaced: "placed", BetSettled: "settled", BetUpdated: "updated"}[type(event)]
    extra = f" payout {bet.get('payout')}" if what == "settled" else f" clv {bet.get('clv')}" if what == "updated" else ""
    return (f"{time.strftime('%H:%M:%S')} bet {what}: {bet.get('id')} {bet.get('stake')} on {bet.get('selectionId')} "
            f"at {bet.get('bookmaker')} {bet.get('decimal')} [{bet.get('status')}]{extra}")


def screen(client: Client, options: Options, bets: Sequence[str]) -> Any:
    """The whole screen as one rich renderable."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(f"sbws watch: {client.status} at {client.url or options.url}  "
                             f"markets {len(client.markets)}  sort {options.sort}", style="bold")]
    for kind in KINDS:
        live = client.items(kind)
        shown = rows(live, kind, options)
        table = Table(title=f"{kind} ({len(live)} live, {len(shown)} shown)", expand=True)
        for column in ("edge %" if kind == "arbitrage" else "EV %", "event", "market", "legs", "age s"):
            table.add_column(column)
        for item in shown:
            value = score(kind, item)
            table.add_row("-" if value is None else f"{value:.2f}", str(item.get("eventDescription", "")),
                          f"{item.get('marketType', '')} {item.get('line') if item.get('line') is not None else ''}",
                          describe(kind, item), f"{float(item.get('age') or 0):.0f}")
        parts.append(table)
    parts.append(Text("\n".join(bets) or "no bet updates yet"))
    return Group(*parts)


async def watch(options: Options, out: IO[bytes] | None = None) -> int:
    async with Client(options.url, token=options.token, subscription=subscription(options)) as client:
        if options.json:
            sink = out or sys.stdout.buffer
            for kind in KINDS:  # what is live when it starts, as if it opened now
                for item in list(client.items(kind).values()):
                    sink.write(event_line(ItemOpened(kind, item)))
            sink.flush()
            async for event in client.events():
                sink.write(event_line(event))
                sink.flush()
            return 0
        from rich.live import Live

        bets: deque[str] = deque(maxlen=6)
        shown = options
        done = asyncio.Event()

        def key(char: str) -> None:
            """``s`` cycles the sort (edge, EV, age); ``q`` quits."""
            nonlocal shown
            if char == "s":
                shown = attrs.evolve(shown, sort=SORTS[(SORTS.index(shown.sort) + 1) % len(SORTS)])
            elif char == "q":
                done.set()

        with keys(key), Live(screen(client, options, bets), refresh_per_second=4, screen=False) as view:
            async def follow() -> None:
                async for event in client.events():
                    if isinstance(event, (BetPlaced, BetSettled, BetUpdated)):
                        bets.append(bet_line(event))

            follower = asyncio.create_task(follow())
            try:
                while not done.is_set():
                    view.update(screen(client, shown, bets))
                    try:
                        await asyncio.wait_for(done.wait(), 0.25)
                    except asyncio.TimeoutError:
                        pass
            finally:
                follower.cancel()
    return 0


@contextmanager
def keys(on_key: Callable[[str], None]) -> Iterator[None]:
    """Single key presses from the terminal (cbreak mode, restored on the way out); nothing when stdin is not one."""
    fd = sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None
    if fd is None:
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()
    try:
        tty.setcbreak(fd)
        def read() -> None:
            for char in os.read(fd, 32).decode(errors="ignore"):
                on_key(char)

        loop.add_reader(fd, read)
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
