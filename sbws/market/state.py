"""What the server knows about the market, without any I/O.

``MarketState`` applies feed batches to the engine's board, rescans what
changed and keeps the live signals of every kind (``signals.LiveSet``, one
per finder) and each market's fair line (the sharp's de-vigged probabilities;
the last one before the start is the closing line).  ``apply`` returns the
``Changes`` the node needs; every market carries a revision that moves on
each change, so views and encoders can cache by it.  Everything outside
``market/`` reads the state through its methods.

Fixed markets and outrights live on two boards (``signals.Tier``); an
outright's outcomes are its runners, in the order they were first declared or
priced (``outcomes``), and a runner any source prices is one of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from attrs import define, field, frozen

from engine.arbitrage import ArbConfig, Scanner
from engine.board import BACK, LAY, Quote, QuoteBoard
from engine.markets import MarketKey
from engine import matched
from engine.matched import Match
from engine.middles import MiddleConfig
from engine.value import FairLine, ValueConfig, ValueScanner

from . import view as views
from .finders import FINDERS
from .records import (ONLINE, SUSPENDED_STATUS, Batch, BookStatus, Depth, EventInfo, EventResult, ExchangeState, Runner,
                      RunnerQuote)
from .signals import Finder, LiveSet, Scope, Tier
from .steam import Steam, SteamConfig, SteamDetector


@frozen
class FairQuote:
    """A market's fair probabilities per outcome and where they came from."""

    p: tuple[float, ...]
    books: tuple[str, ...]
    hold: float
    quoted_at: float


@define
class Changes:
    markets: set[str] = field(factory=set)
    statuses_changed: set[str] = field(factory=set)
    results: list[EventResult] = field(factory=list)
    gone: set[str] = field(factory=set)
    """Markets that left the board (their event finished)."""
    defined: set[str] = field(factory=set)
    """Markets the batch described (new, or described again), quoted or not."""
    moved: list[Quote] = field(factory=list)
    """Every quote of the batch that changed a price (withdrawals included), for the price history."""
    steam: list[Steam] = field(factory=list)


ClosingLine = dict[tuple[str, str], float]
"""(market id, selection) → the fair probability of the last sharp line before the start."""

FIXED, OUTRIGHTS = 0, 1
"""The tiers: 2/3-way markets, and outrights (any number of runners)."""


@define
class Runners:
    """An outright's runners: ids in column order, and their display names."""

    ids: list[str] = field(factory=list)
    index: dict[str, int] = field(factory=dict)
    names: dict[str, str] = field(factory=dict)


class MarketState:
    config: ArbConfig

    def __init__(self, config: ArbConfig, value: ValueConfig | None = None, middles: MiddleConfig | None = None,
                 steam: SteamConfig | None = None, finders: Sequence[Finder] = FINDERS) -> None:
        self._revisions = itertools.count(1)
        self._value_config = value or ValueConfig()
        self._middle_config = middles or MiddleConfig()
        self._steam_config = steam or SteamConfig(sharp=self._value_config.sharp)
        self.finders = {f.name: f for f in finders}
        self._signals: dict[str, LiveSet[Any]] = {name: LiveSet() for name in self.finders}
        self._closing_recorded: set[str] = set()
        self.clear(config)

    def clear(self, config: ArbConfig | None = None) -> None:
        """Back to an empty market: every live signal is closed (and says so at the next push)."""
        config = config or self.config
        boards = (QuoteBoard(), QuoteBoard(market_capacity=64, width=16))
        self.tiers = tuple(Tier(b, Scanner(b, config), ValueScanner(b, self._value_config)) for b in boards)
        self._steam = SteamDetector(self._steam_config)
        self.config = config
        for live in self._signals.values():
            live.clear()
        self._lazy: dict[str, set[Hashable]] = {name: set() for name, f in self.finders.items() if f.lazy}
        """Lazy kinds: the groups of markets changed since the kind was last found."""
        self._fair: dict[str, FairQuote] = {}
        self._shown_fair: dict[str, FairQuote | None] = {}
        """The fair line as of each market's last change: what its view shows (an expiry between changes never
        alters a view, so every node builds the same one for a revision)."""
        self._closing: dict[str, FairQuote] = {}
        """Each market's last fair line from before its event's start: the closing line, for CLV."""
        self._events: dict[str, EventInfo] = {}
        self._markets: dict[str, MarketKey] = {}
        self._runners: dict[str, Runners] = {}
        self._exchange: dict[str, ExchangeState] = {}
        self._depth: dict[str, dict[tuple[str, str], Depth]] = {}
        """Per market, (selection, book) → the exchange's ladder."""
        self._laid: set[str] = set()
        """Markets some exchange has quoted a lay in: their views carry lay prices from then on."""
        self._event_markets: dict[str, set[str]] = {}
        self._book_status: dict[str, BookStatus] = {}
        self._book_confirmed: dict[str, float] = {}
        """When the feed last stood by each book's prices: a batch quoting the book or reporting it online."""
        self._updated_at: dict[str, float] = {}
        self._revision: dict[str, int] = {}
        self._views: dict[str, tuple[int, views.MarketView]] = {}
        self._last_batch_at = 0.0
        self._batches = 0

    # -- applying feed data -------------------------------------------------
    def apply(self, batch: Batch) -> Changes:
        changes = Changes()
        self._last_batch_at = batch.ts
        self._batches += 1
        for ev in batch.events:
            self._events[ev.id] = ev
        for key in batch.markets:
            changes.defined.add(key.id)
            self._updated_at.setdefault(key.id, batch.ts)  # a market's time is its last change, not the last batch's
            known = self._markets.get(key.id)
            if known is not None and known.outright != key.outright:
                continue  # a market id keeps its kind
            self._markets[key.id] = key
            self._revision[key.id] = next(self._revisions)
            self._event_markets.setdefault(key.event_id, set()).add(key.id)
            self.tiers[OUTRIGHTS if key.outright else FIXED].board.add_market(key)
            if key.outright:
                self._runners.setdefault(key.id, Runners())
        fixed, outrights = self.tiers[FIXED].board, self.tiers[OUTRIGHTS].board
        joined: set[int] = set()
        """Outrights a runner joined: changed even when nobody prices it yet (a runner unpriced is no arbitrage)."""
        for runner in batch.runners:
            self._column(runner.market_id, runner.id, joined, runner.name)
        moved: list[Quote] = []
        touched: list[set[int]] = [set(fixed.update(batch.quotes, moved).tolist()),
                                   set(outrights.update(self._runner_quotes(batch.runner_quotes, joined),
                                                        moved).tolist())]
        changes.moved = [q for q in moved if q.side == BACK]  # the history and steam are of back prices
        self._laid.update(q.market_id for q in moved if q.side == LAY)
        touched[OUTRIGHTS] |= joined
        changes.steam = self._steam.feed(changes.moved)
        sharp_books = set(self._value_config.sharp)
        sharp: list[set[int]] = [set(), set()]
        """Per tier, the rows whose sharp quotes moved: their fair line is de-vigged again (the others keep it)."""
        for q in changes.moved:
            if q.book in sharp_books and (cell := self._row(q.market_id)) is not None:
                sharp[cell[0]].add(cell[1])
        for market_id in batch.closed:
            which = self._tier(market_id)
            idx = self.tiers[which].board.close_market(market_id)
            if idx is not None:
                touched[which].add(idx)
                sharp[which].add(idx)
        for book in {q.book for q in batch.quotes} | {q.book for q in batch.runner_quotes}:
            self._book_confirmed[book] = batch.ts
        for status in batch.statuses:
            if status.status == ONLINE:
                self._book_confirmed[status.id] = batch.ts
            else:
                self._book_confirmed.pop(status.id, None)
            prev = self._book_status.get(status.id)
            if prev is None or prev.status != status.status:
                changes.statuses_changed.add(status.id)
            self._book_status[status.id] = status
            if status.status == "offline":
                for rows, again, tier in zip(touched, sharp, self.tiers):
                    gone = tier.board.withdraw_book(status.id).tolist()
                    rows.update(gone)
                    if status.id in sharp_books:
                        again.update(gone)
        changes.results.extend(batch.results)
        for state in batch.exchange:  # rescanned: a suspended market has no live items
            cell = self._row(state.market_id)
            if cell is not None and self._exchange.get(state.market_id) != state:
                self._exchange[state.market_id] = state
                touched[cell[0]].add(cell[1])
        for depth in batch.depth:  # rescanned: a back-lay's stake is capped by the sizes
            cell = self._row(depth.market_id)
            held = self._depth.setdefault(depth.market_id, {}) if cell is not None else {}
            if cell is not None and held.get((depth.selection, depth.book)) != depth:
                held[(depth.selection, depth.book)] = depth
                touched[cell[0]].add(cell[1])
        for rows, tier in zip(touched, self.tiers):
            for idx in rows:
                market_id = tier.board.markets[idx].id
                changes.markets.add(market_id)
                self._updated_at[market_id] = batch.ts
                self._revision[market_id] = next(self._revisions)
        if any(touched):
            self._rescan(tuple(np.fromiter(rows, dtype=np.intp, count=len(rows)) for rows in touched), batch.ts,
                         tuple(np.fromiter(rows, dtype=np.intp, count=len(rows)) for rows in sharp))
            for market_id in changes.markets:
                self._shown_fair[market_id] = self._fair.get(market_id)
        for result in batch.results:
            self._forget_event(result.event_id, changes)
        return changes

    def _row(self, market_id: str) -> tuple[int, int] | None:
        """A known market's tier and board row."""
        if market_id not in self._markets:
            return None
        which = self._tier(market_id)
        row = self.tiers[which].board.market_index.get(market_id)
        return None if row is None else (which, row)

    def _tier(self, market_id: str) -> int:
        key = self._markets.get(market_id)
        return OUTRIGHTS if key is not None and key.outright else FIXED

    def _column(self, market_id: str, runner: str, joined: set[int], name: str | None = None) -> int | None:
        """A runner's outcome column in its outright, added when new (its row then goes in ``joined``; None: no
        such outright)."""
        runners = self._runners.get(market_id)
        if runners is None:
            return None
        column = runners.index.get(runner)
        if column is None:
            board = self.tiers[OUTRIGHTS].board
            row = board.market_index[market_id]
            column = board.add_outcome(row)
            joined.add(row)
            runners.index[runner] = column
            runners.ids.append(runner)
            runners.names[runner] = name or runner
        elif name and runners.names[runner] == runner and name != runner:
            runners.names[runner] = name  # a name that arrives after the runner's first quote: pushed
            joined.add(self.tiers[OUTRIGHTS].board.market_index[market_id])
        return column

    def _runner_quotes(self, quotes: Iterable[RunnerQuote], joined: set[int]) -> list[Quote]:
        out = []
        for q in quotes:
            column = self._column(q.market_id, q.runner, joined)
            if column is not None:
                out.append(Quote(q.market_id, column, q.book, q.price, q.ts, q.side))
        return out

    def _forget_event(self, event_id: str, changes: Changes) -> None:
        """A finished event leaves the board; bets keep what settlement needs."""
        self._events.pop(event_id, None)
        self._steam.forget(self._event_markets.get(event_id, ()))
        for market_id in self._event_markets.pop(event_id, ()):
            self.tiers[self._tier(market_id)].board.remove_market(market_id)
            for table in (self._markets, self._runners, self._updated_at, self._revision, self._fair, self._shown_fair,
                          self._closing, self._views):
                table.pop(market_id, None)
            self._laid.discard(market_id)
            self._exchange.pop(market_id, None)
            self._depth.pop(market_id, None)
            changes.markets.discard(market_id)
            changes.gone.add(market_id)
        for name, live in self._signals.items():
            markets_of = self.finders[name].markets
            live.drop([i for i, lv in live.items.items() if any(m not in self._markets for m in markets_of(lv.item))])

    def expire_stale(self, now: float) -> None:
        """Full rescan: drops signals whose quotes aged past the limit."""
        self._rescan(None, now)

    def _rescan(self, rows: tuple[np.ndarray, ...] | None, now: float,
                sharp: tuple[np.ndarray, ...] | None = None) -> None:
        """Rescan ``rows`` per tier (None: everything); ``sharp``: the rows among them whose sharp quotes moved."""
        ids = None if rows is None else frozenset(
            tier.board.markets[int(i)].id for tier, some in zip(self.tiers, rows) for i in some)
        lines = []
        for i, tier in enumerate(self.tiers):
            some = None if rows is None else rows[i]
            moved = None if sharp is None else sharp[i]
            line = tier.value_scanner.line(now, some, moved)  # one fair line for the market state and the value scan
            stale = [m for m in self._fair if self._tier(m) == i] if some is None else [
                tier.board.markets[int(r)].id for r in some]
            for market_id in stale:
                self._fair.pop(market_id, None)
            self._rescan_fair(tier, line, now)
            lines.append(line)
        scope = Scope(rows, ids, now, tuple(lines))
        keys: Iterable[MarketKey] = self._markets.values() if ids is None else (self._markets[m] for m in ids)
        keys = list(keys)
        for name, finder in self.finders.items():
            if finder.lazy:
                marked = self._lazy[name]
                before = len(marked)
                marked.update(finder.groups(keys))
                if len(marked) > before or (marked and rows is None):
                    self._signals[name].changed = True
                continue
            covers, found = finder.find(self, scope)
            self._signals[name].reconcile(covers, found, now)

    def _rescan_fair(self, tier: Tier, line: FairLine, now: float) -> None:
        board = tier.board
        books = board.books
        quoted = tier.value_scanner.sharp_quoted_at(line, np.arange(line.rows.size)).tolist()
        for i, (row, probabilities, hold) in enumerate(zip(line.rows.tolist(), line.p.tolist(), line.hold.tolist())):
            key = board.markets[row]
            quote = FairQuote(tuple(probabilities[: int(board.n_outcomes[row])]), line.sharp_names(i, books), hold,
                              quoted[i])
            self._fair[key.id] = quote
            event = self._events.get(key.event_id)
            if event is not None and now * 1000 < event.start_ms:
                self._closing[key.id] = quote

    def found(self, kind: str, now: float) -> LiveSet[Any]:
        """One kind's live items, found first if the kind is lazy and markets moved since."""
        if self._lazy.get(kind):
            covers, found = self.finders[kind].find(self, Scope(None, None, now))
            self._signals[kind].reconcile(covers, found, now)
        return self._signals[kind]

    def live(self, kind: str) -> LiveSet[Any]:
        """One kind's live items as last found (a lazy kind's may be behind the board)."""
        return self._signals[kind]

    def take_lazy(self, kind: str) -> set[Hashable]:
        """The groups a lazy kind must look at again (its finder calls this)."""
        marked, self._lazy[kind] = self._lazy[kind], set()
        return marked

    def snapshot(self) -> Batch:
        """The whole state as one batch: applied to an empty state, it rebuilds this one (runners in their
        column order, so every outcome keeps its index)."""
        quotes = _quotes(self.tiers[FIXED].board)
        runners = [Runner(m, r, known.names[r]) for m, known in self._runners.items() for r in known.ids]
        runner_quotes = [RunnerQuote(q.market_id, self._runners[q.market_id].ids[q.outcome], q.book, q.price, q.ts,
                                     q.side) for q in _quotes(self.tiers[OUTRIGHTS].board)]
        closed = [m for m in self._markets if not self.is_open(m)]
        return Batch(self._last_batch_at, list(self._events.values()), list(self._markets.values()), quotes, closed, (),
                     list(self._book_status.values()), runners, runner_quotes, list(self._exchange.values()),
                     [d for held in self._depth.values() for d in held.values()])

    # -- reading --------------------------------------------------------------
    @property
    def value_config(self) -> ValueConfig:
        """The fair line's and the value scan's settings."""
        return self._value_config

    @property
    def middle_config(self) -> MiddleConfig:
        return self._middle_config

    @property
    def last_batch_at(self) -> float:
        """The feed time of the last batch applied."""
        return self._last_batch_at

    @property
    def batches(self) -> int:
        """How many batches were applied since the last reset."""
        return self._batches

    def key(self, market_id: str) -> MarketKey | None:
        return self._markets.get(market_id)

    def market_ids(self) -> Iterable[str]:
        """Every known market, in the order the feed described them."""
        return self._markets.keys()

    def market_count(self) -> int:
        return len(self._markets)

    def event_market_ids(self, event_id: str) -> Iterable[str]:
        return self._event_markets.get(event_id, ())

    def keys_of(self, event_id: str, market_type: str) -> list[MarketKey]:
        """One event's markets of one type, by id."""
        return [self._markets[m] for m in sorted(self._event_markets.get(event_id, ()))
                if self._markets[m].market_type == market_type]

    def event_of(self, market_id: str) -> EventInfo | None:
        """The event a known market belongs to (None when the feed never described it)."""
        return self._events.get(self._markets[market_id].event_id)

    def sport_of(self, market_id: str) -> str | None:
        event = self.event_of(market_id)
        return event.sport if event else None

    def sport_of_event(self, event_id: str) -> str | None:
        event = self._events.get(event_id)
        return event.sport if event else None

    @property
    def board(self) -> QuoteBoard:
        """The fixed markets' board."""
        return self.tiers[FIXED].board

    def _board(self, market_id: str) -> QuoteBoard:
        return self.tiers[self._tier(market_id)].board

    def outcomes(self, market_id: str) -> tuple[str, ...]:
        """The market's selection ids in outcome order: its type's fixed outcomes, or an outright's runners."""
        runners = self._runners.get(market_id)
        if runners is not None:
            return tuple(runners.ids)
        key = self._markets.get(market_id)
        return key.outcomes if key is not None else ()

    def matched(self, bet_type: str, stake: float, now: float) -> list[tuple[str, Match]]:
        """Every selection an exchange lays, its best bookmaker back against its best lay (matched betting), best
        rating first, with its market id."""
        found = []
        for tier in self.tiers:
            board = tier.board
            for match in matched.find(board, dict(self.config.commission), bet_type, stake, now, self.config.max_age):
                found.append((board.markets[match.market_row].id, match))
        found.sort(key=lambda item: -item[1].result.rating)
        return found

    def selection_name(self, market_id: str, outcome: str) -> str:
        """A selection's display name: an outright runner's as its source spelt it, else from the event."""
        runners = self._runners.get(market_id)
        if runners is not None:
            return runners.names.get(outcome, outcome)
        key = self._markets.get(market_id)
        return views.selection_name(self._events.get(key.event_id) if key else None, outcome)

    def ladder(self, market_id: str, outcome: int, book: str, side: str) -> tuple[tuple[float, float], ...] | None:
        """An exchange's levels for a selection, to back or to lay, best first (None: no ladder known)."""
        held = self._depth.get(market_id)
        outcomes = self.outcomes(market_id)
        if held is None or outcome >= len(outcomes):
            return None
        depth = held.get((outcomes[outcome], book))
        return None if depth is None else (depth.back if side == BACK else depth.lay)

    def size_at(self, market_id: str, outcome: int, book: str, side: str, price: float) -> float | None:
        """The size an exchange's ladder offers at this price, to back or to lay (None: no ladder says)."""
        return next((size for p, size in self.ladder(market_id, outcome, book, side) or () if p == price), None)

    def suspended(self, market_id: str) -> bool:
        """An exchange suspended the market (it takes no bets until it reopens)."""
        state = self._exchange.get(market_id)
        return state is not None and state.status == SUSPENDED_STATUS

    def is_open(self, market_id: str) -> bool:
        board = self._board(market_id)
        idx = board.market_index.get(market_id)
        return idx is not None and bool(board.open[idx])

    def market_books(self, market_id: str) -> list[str]:
        board = self._board(market_id)
        quoted = ~np.isnan(board.market_prices(board.market_index[market_id])).all(axis=0)
        return [board.books[b] for b in np.flatnonzero(quoted)]

    def revision(self, market_id: str) -> int:
        return self._revision.get(market_id, 0)

    def view(self, market_id: str) -> views.MarketView:
        """The market's prices, bests and hold, computed once per revision."""
        revision = self._revision.get(market_id, 0)
        cached = self._views.get(market_id)
        if cached is not None and cached[0] == revision:
            return cached[1]
        key = self._markets[market_id]
        board = self._board(market_id)
        idx = board.market_index[market_id]
        event = self._events.get(key.event_id)
        outcomes = self.outcomes(market_id)
        runners = self._runners.get(market_id)
        names = tuple(runners.names[r] for r in outcomes) if runners is not None else tuple(
            views.selection_name(event, o) for o in outcomes)
        fair = self._shown_fair.get(market_id)
        lays, exchanges = None, None
        if market_id in self._laid:
            planes = sorted(board.lay_index.items(), key=lambda item: item[1])
            exchanges = [board.books[b] for b, _ in planes]
            lays = board.lays[:, idx, : len(outcomes)].T
        built = views.build(market_id, key, event, outcomes, names, board.market_prices(idx)[: len(outcomes)],
                            board.books, bool(board.open[idx]), self._updated_at.get(market_id, self._last_batch_at),
                            fair.p if fair is not None else None, lays, exchanges, self._exchange.get(market_id),
                            self._depth.get(market_id))
        self._views[market_id] = (revision, built)
        return built

    def hold(self, market_id: str) -> float | None:
        """The market's margin over the best price of each outcome (percent; negative: an arbitrage)."""
        return self.view(market_id).hold

    def fair_line(self, market_id: str) -> FairQuote | None:
        return self._fair.get(market_id)

    def closing_line(self, market_id: str) -> FairQuote | None:
        """The market's last fair line from before its event's start (None until the sharp quoted it)."""
        return self._closing.get(market_id)

    def fair_probabilities(self, market_id: str) -> tuple[float, ...] | None:
        fair = self._fair.get(market_id)
        return None if fair is None else fair.p

    def closing_lines_due(self, now_ms: int) -> list[tuple[str, ClosingLine]]:
        """Events that started since the last call, each with its markets' closing line (once per event)."""
        self._closing_recorded &= set(self._events)
        out = []
        for event_id, event in list(self._events.items()):
            if event.start_ms > now_ms or event_id in self._closing_recorded:
                continue
            self._closing_recorded.add(event_id)
            closing: ClosingLine = {}
            for market_id in self._event_markets.get(event_id, ()):
                quote = self._closing.get(market_id)
                if quote is not None:
                    closing.update(((market_id, o), p) for o, p in zip(self.outcomes(market_id), quote.p))
            if closing:
                out.append((event_id, closing))
        return out

    def _cell(self, market_id: str, outcome: int, book: str,
              side: str) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]] | None:
        """The price and time arrays of a quote's side, and its cell in them (None: no such quote can exist)."""
        board = self._board(market_id)
        idx = board.market_index.get(market_id)
        b = board.book_index.get(book)
        if idx is None or b is None:
            return None
        if side == LAY:
            plane = board.lay_index.get(b)
            return None if plane is None else (board.lays, board.lay_times, (plane, idx, outcome))
        return board.prices, board.times, (b, idx, outcome)

    def confirmed_at(self, market_id: str, outcome: int, book: str, side: str = BACK) -> float | None:
        """When the feed last stood by this quote (its own time, or the book's later confirmation)."""
        cell = self._cell(market_id, outcome, book, side)
        if cell is None:
            return None
        quoted = float(cell[1][cell[2]])
        return max(quoted, self._book_confirmed.get(book, quoted))

    def price(self, market_id: str, outcome: int, book: str, side: str = BACK) -> float | None:
        """A book's price now for a selection, to back it or (at an exchange) to lay it."""
        cell = self._cell(market_id, outcome, book, side)
        value = float(cell[0][cell[2]]) if cell is not None else float("nan")
        return None if value != value else value

    def available_markets(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tier in self.tiers:
            board = tier.board
            n, nb = board.n_markets, len(board.books)
            if n == 0 or nb == 0:
                continue
            open_rows = board.prices[:nb, :n][:, board.open[:n]]
            for book, c in zip(board.books, (~np.isnan(open_rows)).any(axis=2).sum(axis=1).tolist()):
                counts[book] = counts.get(book, 0) + int(c)
        return counts

    def book_status(self, book: str) -> BookStatus | None:
        return self._book_status.get(book)

    def known_books(self) -> set[str]:
        return set(self._book_status).union(*(tier.board.books for tier in self.tiers))


def _quotes(board: QuoteBoard) -> list[Quote]:
    """Every live quote of a board, backs then lays."""
    nb, n = len(board.books), board.n_markets
    quotes = []
    book_of_plane = {plane: board.books[b] for b, plane in board.lay_index.items()}
    for side, prices, times, book_of in ((BACK, board.prices[:nb, :n], board.times, board.books),
                                         (LAY, board.lays[:, :n], board.lay_times, book_of_plane)):
        books, rows, outcomes = np.nonzero(~np.isnan(prices))
        for b, m, o in zip(books.tolist(), rows.tolist(), outcomes.tolist()):
            market_id = board.markets[m].id
            if board.market_index.get(market_id) == m:
                quotes.append(Quote(market_id, o, book_of[b], float(prices[b, m, o]), float(times[b, m, o]), side))
    return quotes
