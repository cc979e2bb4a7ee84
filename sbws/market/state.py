"""What the server knows about the market, without any I/O.

``MarketState`` applies feed batches to the engine's board, rescans what
changed and keeps the live arbitrage opportunities, value bets and middles
with their first-seen time, and each market's fair line (the sharp's
de-vigged probabilities; the last one before the start is the closing line).  ``apply`` returns the ``Changes`` the broadcaster needs; every market
carries a revision that moves on each change, so encoders can cache by it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
from attrs import define, field, frozen

from engine.arbitrage import ArbConfig, Opportunity, Scanner
from engine.board import Quote, QuoteBoard
from engine.markets import SPREAD, TOTAL, MarketKey
from engine.middles import Middle, MiddleConfig, find_middles
from engine.odds import hold_percent
from engine.value import FairLine, ValueBet, ValueConfig, ValueScanner

from .records import ONLINE, Batch, BookStatus, EventInfo, EventResult
from .steam import Steam, SteamConfig, SteamDetector


@define
class LiveOpportunity:
    opp: Opportunity
    detected_at: float
    updated_at: float


@define
class LiveValue:
    bet: ValueBet
    detected_at: float
    updated_at: float


@define
class LiveMiddle:
    middle: Middle
    detected_at: float
    updated_at: float


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
    closed_opportunities: set[str] = field(factory=set)
    opportunities_changed: bool = False
    statuses_changed: set[str] = field(factory=set)
    results: list[EventResult] = field(factory=list)
    closed_value: set[str] = field(factory=set)
    value_changed: bool = False
    middles_changed: bool = False
    gone: set[str] = field(factory=set)
    """Markets that left the board (their event finished)."""
    defined: set[str] = field(factory=set)
    """Markets the batch described (new, or described again), quoted or not."""
    moved: list[Quote] = field(factory=list)
    """Every quote of the batch that changed a price (withdrawals included), for the price history."""
    steam: list[Steam] = field(factory=list)


Item = TypeVar("Item", LiveValue, LiveMiddle)


class MarketState:
    config: ArbConfig

    def __init__(self, config: ArbConfig, value: ValueConfig | None = None, middles: MiddleConfig | None = None,
                 steam: SteamConfig | None = None) -> None:
        self._revisions = itertools.count(1)
        self.active_bets: dict[str, int] = {}
        """Open bets per sportsbook; the ledger's numbers, so a market reset keeps them."""
        self.value_config = value or ValueConfig()
        self.middle_config = middles or MiddleConfig()
        self.steam_config = steam or SteamConfig(sharp=self.value_config.sharp)
        self.clear(config)

    def clear(self, config: ArbConfig | None = None) -> None:
        """Back to an empty market (bets' active counts are the ledger's and stay)."""
        config = config or self.config
        self.board = QuoteBoard()
        self.scanner = Scanner(self.board, config)
        self.value_scanner = ValueScanner(self.board, self.value_config)
        self.steam = SteamDetector(self.steam_config)
        self.config = config
        self.value: dict[str, LiveValue] = {}
        self.middles: dict[str, LiveMiddle] = {}
        self.middles_dirty: set[tuple[str, str]] = set()
        """(event, market type) groups whose prices changed since middles were last computed."""
        self.middles_closed: set[str] = set()
        self.fair: dict[str, FairQuote] = {}
        self.closing: dict[str, FairQuote] = {}
        """Each market's last fair line from before its event's start: the closing line, for CLV."""
        self.events: dict[str, EventInfo] = {}
        self.markets: dict[str, MarketKey] = {}
        self.event_markets: dict[str, set[str]] = {}
        self.book_status: dict[str, BookStatus] = {}
        self.book_confirmed: dict[str, float] = {}
        """When the feed last stood by each book's prices: a batch quoting the book or reporting it online."""
        self.live: dict[str, LiveOpportunity] = {}
        self.by_market: dict[str, str] = {}
        self.updated_at: dict[str, float] = {}
        self.revision: dict[str, int] = {}
        self.last_batch_at = 0.0
        self.batches = 0

    # -- applying feed data -------------------------------------------------
    def apply(self, batch: Batch) -> Changes:
        changes = Changes()
        self.last_batch_at = batch.ts
        self.batches += 1
        for ev in batch.events:
            self.events[ev.id] = ev
        for key in batch.markets:
            changes.defined.add(key.id)
            self.updated_at.setdefault(key.id, batch.ts)  # a market's time is its last change, not the last batch's
            self.markets[key.id] = key
            self.revision[key.id] = next(self._revisions)
            self.event_markets.setdefault(key.event_id, set()).add(key.id)
            self.board.add_market(key)
        touched = set(self.board.update(batch.quotes, changes.moved).tolist())
        changes.steam = self.steam.feed(changes.moved)
        for market_id in batch.closed:
            idx = self.board.close_market(market_id)
            if idx is not None:
                touched.add(idx)
        for quote in batch.quotes:
            self.book_confirmed[quote.book] = batch.ts
        for status in batch.statuses:
            if status.status == ONLINE:
                self.book_confirmed[status.id] = batch.ts
            else:
                self.book_confirmed.pop(status.id, None)
            prev = self.book_status.get(status.id)
            if prev is None or prev.status != status.status:
                changes.statuses_changed.add(status.id)
            self.book_status[status.id] = status
            if status.status == "offline":
                touched.update(self.board.withdraw_book(status.id).tolist())
        changes.results.extend(batch.results)
        for idx in touched:
            market_id = self.board.markets[idx].id
            changes.markets.add(market_id)
            self.updated_at[market_id] = batch.ts
            self.revision[market_id] = next(self._revisions)
        if touched:
            self._rescan(np.fromiter(touched, dtype=np.intp), batch.ts, changes)
        for result in batch.results:
            self._forget_event(result.event_id, batch.ts, changes)
        return changes

    def _forget_event(self, event_id: str, now: float, changes: Changes) -> None:
        """A finished event leaves the board; bets keep what settlement needs."""
        self.events.pop(event_id, None)
        self.steam.forget(self.event_markets.get(event_id, ()))
        for market_id in self.event_markets.pop(event_id, ()):
            self.board.remove_market(market_id)
            self.markets.pop(market_id, None)
            self.updated_at.pop(market_id, None)
            self.revision.pop(market_id, None)
            changes.markets.discard(market_id)
            self.fair.pop(market_id, None)
            self.closing.pop(market_id, None)
            changes.gone.add(market_id)
            opp_id = self.by_market.pop(market_id, None)
            if opp_id is not None:
                del self.live[opp_id]
                changes.closed_opportunities.add(opp_id)
                changes.opportunities_changed = True
        gone_value = {i for i, lv in self.value.items() if lv.bet.market_id not in self.markets}
        gone_middles = {i for i, lm in self.middles.items() if lm.middle.event_id == event_id}
        for i in gone_value:
            del self.value[i]
        for i in gone_middles:
            del self.middles[i]
        changes.closed_value |= gone_value
        self.middles_closed |= gone_middles
        self.middles_dirty = {g for g in self.middles_dirty if g[0] != event_id}
        changes.value_changed |= bool(gone_value)
        changes.middles_changed |= bool(gone_middles)

    def expire_stale(self, now: float) -> Changes:
        """Full rescan: drops opportunities whose quotes aged past the limit."""
        changes = Changes()
        self._rescan(None, now, changes)
        return changes

    def _rescan(self, markets: np.ndarray | None, now: float, changes: Changes) -> None:
        self._rescan_arbitrage(markets, now, changes)
        scope = None if markets is None else {self.board.markets[int(i)].id for i in markets}
        line = self.value_scanner.fair(now, markets)  # one fair line for the market state and the value scan
        self._rescan_fair(line, scope, now)
        self._rescan_value(line, scope, markets, now, changes)
        self._rescan_middles(markets, now, changes)

    def _rescan_fair(self, line: FairLine, scope: set[str] | None, now: float) -> None:
        for market_id in (list(self.fair) if scope is None else scope):
            self.fair.pop(market_id, None)
        books = self.board.books
        quoted = self.value_scanner.sharp_quoted_at(line, np.arange(line.rows.size)).tolist()
        for i, (row, probabilities, hold) in enumerate(zip(line.rows.tolist(), line.p.tolist(), line.hold.tolist())):
            key = self.board.markets[row]
            quote = FairQuote(tuple(probabilities[: len(key.outcomes)]), line.sharp_names(i, books), hold, quoted[i])
            self.fair[key.id] = quote
            event = self.events.get(key.event_id)
            if event is not None and now * 1000 < event.start_ms:
                self.closing[key.id] = quote

    def _rescan_value(self, line: FairLine, scope: set[str] | None, markets: np.ndarray | None, now: float,
                      changes: Changes) -> None:
        found = {v.id: v for v in self.value_scanner.scan(now, markets, line)}
        mine = [i for i, lv in self.value.items() if scope is None or lv.bet.market_id in scope]
        closed, changed = _reconcile(self.value, mine, found, now, lambda v, t: LiveValue(v, t, t),
                                     lambda lv: lv.bet, _set_bet)
        changes.closed_value |= closed
        changes.closed_value -= set(found)
        changes.value_changed |= changed

    def _rescan_middles(self, markets: np.ndarray | None, now: float, changes: Changes) -> None:
        """Marks the touched events' spread and total groups; ``refresh_middles`` computes them when asked."""
        if markets is None:
            keys: Iterable[MarketKey] = self.markets.values()
        else:
            keys = (self.board.markets[int(i)] for i in markets)
        before = len(self.middles_dirty)
        self.middles_dirty.update((k.event_id, k.market_type) for k in keys
                                  if k.market_type in (SPREAD, TOTAL) and k.id in self.markets)
        changes.middles_changed |= len(self.middles_dirty) > before or bool(self.middles_dirty and markets is None)

    def refresh_middles(self, now: float) -> None:
        """Middles of every group that changed since the last refresh.

        Middles are computed when a push or a request needs them, not on every batch: a group costs
        about a hundred microseconds, and every event is re-quoted on almost every batch.
        """
        groups, self.middles_dirty = self.middles_dirty, set()
        found: dict[str, Middle] = {}
        for event_id, market_type in groups:
            keys = [self.markets[m] for m in sorted(self.event_markets.get(event_id, ()))
                    if self.markets[m].market_type == market_type]
            sharp = {k.id: self.fair[k.id].p[0] for k in keys if k.id in self.fair}
            event = self.events.get(event_id)
            for middle in find_middles(self.board, keys, self.middle_config, now, sharp, event.sport if event else None):
                found[middle.id] = middle
        mine = [i for i, lm in self.middles.items() if (lm.middle.event_id, lm.middle.market_type) in groups]
        closed, _changed = _reconcile(self.middles, mine, found, now, lambda m, t: LiveMiddle(m, t, t),
                                      lambda lm: lm.middle, _set_middle)
        self.middles_closed |= closed
        self.middles_closed -= set(found)

    def take_closed_middles(self) -> set[str]:
        """Middle ids closed since the last call (the broadcaster's ``closed`` list)."""
        closed, self.middles_closed = self.middles_closed, set()
        return closed

    def _rescan_arbitrage(self, markets: np.ndarray | None, now: float, changes: Changes) -> None:
        found = self.scanner.scan(now, markets)
        if markets is None:
            scope: Iterable[str] = list(self.by_market)
        else:
            scope = [self.board.markets[int(i)].id for i in markets]
        fresh = {o.market_id: o for o in found}
        for market_id in scope:
            old_id = self.by_market.get(market_id)
            new = fresh.get(market_id)
            if old_id is not None and (new is None or new.id != old_id):
                del self.live[old_id]
                del self.by_market[market_id]
                changes.closed_opportunities.add(old_id)
                changes.opportunities_changed = True
        for market_id, opp in fresh.items():
            current = self.live.get(opp.id)
            if current is None:
                self.live[opp.id] = LiveOpportunity(opp, now, now)
                self.by_market[market_id] = opp.id
                changes.closed_opportunities.discard(opp.id)
                changes.opportunities_changed = True
            elif current.opp != opp:
                current.opp = opp
                current.updated_at = now
                changes.opportunities_changed = True

    def snapshot(self) -> Batch:
        """The whole state as one batch: applied to an empty state, it rebuilds this one."""
        board = self.board
        nb, n = len(board.books), board.n_markets
        books, rows, outcomes = np.nonzero(~np.isnan(board.prices[:nb, :n]))
        quotes = []
        for b, m, o in zip(books.tolist(), rows.tolist(), outcomes.tolist()):
            market_id = board.markets[m].id
            if board.market_index.get(market_id) == m:
                quotes.append(Quote(market_id, o, board.books[b], float(board.prices[b, m, o]), float(board.times[b, m, o])))
        closed = [m for m in self.markets if not self.is_open(m)]
        return Batch(self.last_batch_at, list(self.events.values()), list(self.markets.values()), quotes, closed, (),
                     list(self.book_status.values()))

    # -- reading --------------------------------------------------------------
    def event_of(self, market_id: str) -> EventInfo | None:
        """The event a known market belongs to (None when the feed never described it)."""
        return self.events.get(self.markets[market_id].event_id)

    def sport_of(self, market_id: str) -> str | None:
        event = self.event_of(market_id)
        return event.sport if event else None

    def is_open(self, market_id: str) -> bool:
        idx = self.board.market_index.get(market_id)
        return idx is not None and bool(self.board.open[idx])

    def market_books(self, market_id: str) -> list[str]:
        idx = self.board.market_index[market_id]
        quoted = ~np.isnan(self.board.market_prices(idx)).all(axis=0)
        return [self.board.books[b] for b in np.flatnonzero(quoted)]

    def hold(self, market_id: str) -> float | None:
        """The market's margin over the best price of each outcome (percent; negative: an arbitrage)."""
        key = self.markets[market_id]
        prices = self.board.market_prices(self.board.market_index[market_id])[: len(key.outcomes)]
        if prices.shape[1] == 0:  # no book has quoted anything yet
            return None
        return hold_percent(np.fmax.reduce(prices, axis=1))

    def _cell(self, market_id: str, outcome: int, book: str) -> tuple[int, int, int] | None:
        idx = self.board.market_index.get(market_id)
        b = self.board.book_index.get(book)
        return None if idx is None or b is None else (b, idx, outcome)

    def confirmed_at(self, market_id: str, outcome: int, book: str) -> float | None:
        """When the feed last stood by this quote (its own time, or the book's later confirmation)."""
        cell = self._cell(market_id, outcome, book)
        if cell is None:
            return None
        quoted = float(self.board.times[cell])
        return max(quoted, self.book_confirmed.get(book, quoted))

    def price(self, market_id: str, outcome: int, book: str) -> float | None:
        cell = self._cell(market_id, outcome, book)
        value = float(self.board.prices[cell]) if cell is not None else float("nan")
        return None if value != value else value

    def available_markets(self) -> dict[str, int]:
        n = self.board.n_markets
        nb = len(self.board.books)
        if n == 0 or nb == 0:
            return {}
        open_rows = self.board.prices[:nb, :n][:, self.board.open[:n]]
        counts = (~np.isnan(open_rows)).any(axis=2).sum(axis=1)
        return {book: int(c) for book, c in zip(self.board.books, counts)}

    def known_books(self) -> set[str]:
        return set(self.book_status) | set(self.board.books)


def _set_bet(live: LiveValue, bet: ValueBet) -> None:
    live.bet = bet


def _set_middle(live: LiveMiddle, middle: Middle) -> None:
    live.middle = middle


def _reconcile(live: dict[str, Item], scope: Iterable[str], found: dict[str, Any], now: float,
               new: Callable[[Any, float], Item], current: Callable[[Item], Any],
               replace: Callable[[Item, Any], None]) -> tuple[set[str], bool]:
    """Bring the live items of a rescanned scope in line with what the scan found: (closed ids, anything changed)."""
    closed = {i for i in scope if i not in found}
    for i in closed:
        del live[i]
    changed = bool(closed)
    for i, item in found.items():
        held = live.get(i)
        if held is None:
            live[i] = new(item, now)
            changed = True
        elif current(held) != item:
            replace(held, item)
            held.updated_at = now
            changed = True
    return closed, changed
