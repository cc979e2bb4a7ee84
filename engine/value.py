"""Positive expected value against a de-vigged sharp line, staked by Kelly.

For each market a fair probability p per outcome comes from the sharp
source: the first book of ``ValueConfig.sharp`` that quotes the whole market
(fresh quotes only: a book that omits a runner of an outright gives it no
line), de-vigged by ``ValueConfig.method`` to sum to the market's number of
winners k; a line under 100 % (Σ 1/d < k) is a data error and gives no fair
price; or, with
``sharp = ("consensus",)``, the mean of the de-vigged probabilities of every
book quoting the whole market.  Then, for every other book's price d (after
its commission, d_eff):

* EV = p · d_eff − 1;
* full Kelly f* = (p · d_eff − 1)/(d_eff − 1);
* stake = kelly_fraction · f* · bankroll, capped at kelly_cap percent of it.

A scan first bounds every market's best EV with the best raw price over all
books (commission and staleness only lower prices), then computes the exact
items on the few candidate markets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
from attrs import field, frozen
from numpy.typing import NDArray

from .arbitrage import effective_prices, keep_factors
from .board import IntArray, QuoteBoard
from .devig import MULTIPLICATIVE, WORST, devig, row_all, row_any, row_min, row_sum

CONSENSUS = "consensus"
DEFAULT_SHARP = ("pinnacle", "betfair", "matchbook")
EV_CAP = "ev above max"
"""An EV above ``ValueConfig.max_ev``: usually a stale or mistyped soft price."""


@frozen
class ValueConfig:
    sharp: tuple[str, ...] = DEFAULT_SHARP
    """Books in order of preference, or ``("consensus",)``."""
    method: str = WORST
    commission: Mapping[str, float] = field(factory=dict)
    max_age: float = 0.0
    """Quotes (sharp and soft) older than this many seconds are ignored; 0 disables the check."""
    min_ev: float = 1.0
    """Percent; smaller EVs are not reported."""
    max_ev: float = 15.0
    """Percent; larger EVs are reported as suspect."""
    kelly_fraction: float = 0.25
    kelly_cap: float = 5.0
    """Percent of the bankroll one stake may reach."""

    @property
    def consensus(self) -> bool:
        return self.sharp == (CONSENSUS,)


@frozen
class FairLine:
    """Fair probabilities for some markets, with where they came from."""

    rows: IntArray
    p: NDArray[np.float64]
    """(rows, outcomes); NaN for unused outcomes."""
    sharp_book: IntArray
    """Board index of the sharp book per row; -1 for consensus."""
    quoting: NDArray[np.bool_] | None
    """For consensus, (books, rows): which books made up each row's line."""
    hold: NDArray[np.float64]
    """The sharp's own margin (percent; for consensus the mean over its books)."""
    quoted_at: NDArray[np.float64] | None
    """For consensus, the oldest quote used per row (for a sharp book, read from the board when needed)."""

    def sharp_names(self, i: int, books: list[str]) -> tuple[str, ...]:
        if self.quoting is None:
            return (books[int(self.sharp_book[i])],)
        return tuple(books[b] for b in np.flatnonzero(self.quoting[:, i]))


@frozen
class ValueBet:
    id: str
    market_id: str
    outcome: int
    book: str
    price: float
    effective: float
    fair_probability: float
    ev: float
    """Percent."""
    kelly: float
    """The full-Kelly fraction of the bankroll."""
    sharp_books: tuple[str, ...]
    sharp_hold: float
    sharp_quoted_at: float
    quoted_at: float
    suspect_reason: str | None

    @property
    def suspect(self) -> bool:
        return self.suspect_reason is not None

    def stake(self, bankroll: float, config: ValueConfig) -> float:
        return kelly_stake(self.kelly, bankroll, config.kelly_fraction, config.kelly_cap)


def kelly_stake(full_kelly: float, bankroll: float, fraction: float, cap_percent: float) -> float:
    return max(0.0, min(fraction * full_kelly, cap_percent / 100.0)) * bankroll


def value_id(market_id: str, outcome: int, book: str) -> str:
    """Stable for one market, selection and book."""
    digest = hashlib.blake2b(f"{market_id}|{outcome}|{book}".encode(), digest_size=8)
    return "val_" + digest.hexdigest()


@frozen
class Kept:
    """A board row's last fair line: the market it was for and its width then (a row recycled for another
    market, or a runner joining, makes it stale), its probabilities, sharp book and hold."""

    market: object
    width: int
    p: NDArray[np.float64]
    sharp_book: int
    hold: float


class ValueScanner:
    def __init__(self, board: QuoteBoard, config: ValueConfig) -> None:
        self.board = board
        self.config = config
        self._lines: dict[int, Kept] = {}
        """Per board row, its last fair line (``line``)."""

    def line(self, now: float, markets: IntArray | None, moved: IntArray | None = None) -> FairLine:
        """The fair line of ``markets`` (None: every market), de-vigged again only where it may have changed:
        the rows in ``moved`` (their sharp quotes moved), and rows whose last line was for another market or a
        narrower one (a runner joined).  A row whose sharp book did not move keeps its line; the periodic
        whole-board pass (``markets`` None) recomputes every line, so a line whose quotes aged past
        ``max_age`` goes then.  Consensus lines move with any book: they are always computed."""
        if self.config.consensus:
            return self.fair(now, markets)
        if markets is None:
            self._lines.clear()
            return self._remember(self.fair(now, None))
        board, lines = self.board, self._lines
        rows = np.asarray(markets, dtype=np.intp)
        again = set() if moved is None else set(np.asarray(moved).tolist())
        keys, widths = board.markets, board.n_outcomes[rows].tolist()
        redo = []
        for row, width in zip(rows.tolist(), widths):
            kept = lines.get(row)
            if row in again or kept is None or kept.market is not keys[row] or kept.width != width:
                lines.pop(row, None)
                redo.append(row)
        if redo:
            self._remember(self.fair(now, np.array(redo, dtype=np.intp)))
        found = [(row, lines[row]) for row in rows.tolist() if row in lines]
        p = np.full((len(found), board.width), np.nan)
        for i, (_row, entry) in enumerate(found):
            p[i, : entry.width] = entry.p
        return FairLine(np.array([row for row, _ in found], dtype=np.intp), p,
                        np.array([entry.sharp_book for _, entry in found], dtype=np.intp), None,
                        np.array([entry.hold for _, entry in found]), None)

    def _remember(self, line: FairLine) -> FairLine:
        keys, widths = self.board.markets, self.board.n_outcomes
        for i, (row, book, hold) in enumerate(zip(line.rows.tolist(), line.sharp_book.tolist(), line.hold.tolist())):
            width = int(widths[row])
            self._lines[row] = Kept(keys[row], width, line.p[i, :width].copy(), book, hold)
        return line

    def _complete(self, prices: NDArray[np.float64], times: NDArray[np.float64], used: NDArray[np.bool_],
                  now: float) -> NDArray[np.bool_]:
        """Rows where the book quotes every used outcome (freshly, when ages are checked)."""
        ok = (prices > 1.0) | ~used
        if self.config.max_age > 0:
            ok &= (times >= now - self.config.max_age) | ~used
        return row_all(ok)

    def _plane(self, b: int, ids: IntArray | None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        n = self.board.n_markets
        if ids is None:
            return self.board.prices[b, :n], self.board.times[b, :n]
        return self.board.prices[b, ids], self.board.times[b, ids]

    def fair(self, now: float, markets: IntArray | None = None, method: str | None = None) -> FairLine:
        """Fair probabilities (by ``method``, default the configured one) of the markets that have a sharp line."""
        board, cfg = self.board, self.config
        ids = np.arange(board.n_markets) if markets is None else np.asarray(markets, dtype=np.intp)
        n_out = board.n_outcomes[ids]
        used = board.used[: board.n_markets] if markets is None else board.used[ids]
        method = method or cfg.method
        if cfg.consensus:
            return self._consensus(ids, n_out, used, now, method)
        chosen = np.full(ids.size, -1, dtype=np.intp)
        sharp: NDArray[np.float64] | None = None
        """The chosen bookmaker's prices per row."""
        implied: NDArray[np.float64] | None = None
        """For rows taken from a book that also lays (an exchange): its implied probabilities."""
        from_plane = np.zeros(ids.size, dtype=bool)
        midpoint = np.zeros(ids.size, dtype=bool)
        for name in cfg.sharp:
            b = board.book_index.get(name)
            if b is None:
                continue
            if b not in board.lay_index:  # a bookmaker: the cheap completeness test, 1/d for the chosen rows only
                prices, times = self._plane(b, None if markets is None else ids)
                take = (chosen < 0) & self._complete(prices, times, used, now)
                sharp = prices if sharp is None else np.where(take[:, None], prices, sharp)
            else:
                r_book, laid = self._implied(b, None if markets is None else ids, now)
                take = (chosen < 0) & row_all(~np.isnan(r_book) | ~used)
                implied = r_book if implied is None else np.where(take[:, None], r_book, implied)
                from_plane |= take
                midpoint |= take & laid
            chosen = np.where(take, b, chosen)
        has = np.flatnonzero(chosen >= 0)
        if has.size == 0:
            return FairLine(has, np.empty((0, used.shape[1])), has, None, np.empty(0), None)
        with np.errstate(divide="ignore", invalid="ignore"):
            books = 1.0 / sharp[has] if sharp is not None else np.full((has.size, used.shape[1]), np.nan)
        if implied is not None:
            books = np.where(from_plane[has][:, None], implied[has], books)
        r = np.where(used[has], books, 0.0)
        s = row_sum(r)
        k = self._winners(ids[has])
        mid = midpoint[has]
        sane = (s >= k) | mid  # a book's own line under 100 % is a data error; an exchange's midpoint may be
        has, r, s, k, mid = has[sane], r[sane], s[sane], k[sane], mid[sane]
        p = devig(method, r, n_out[has], k)
        if mid.any():  # an exchange's line: the back-lay midpoints, scaled to k
            p[mid] = np.where(used[has][mid], k[mid, None] * r[mid] / s[mid, None], np.nan)
        return FairLine(ids[has], p, chosen[has], None, (s - k) / k * 100.0, None)

    def _implied(self, b: int, ids: IntArray | None, now: float) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """One sharp book's implied probabilities (NaN where it has no fresh price), and per row whether they are
        an exchange's back-lay midpoints: the midpoint of 1/back and 1/lay where both exist, else the one side."""
        cfg, board = self.config, self.board
        prices, times = self._plane(b, ids)
        with np.errstate(divide="ignore", invalid="ignore"):
            back = np.where((prices > 1.0) & ((times >= now - cfg.max_age) if cfg.max_age > 0 else True),
                            1.0 / prices, np.nan)
        plane = board.lay_index.get(b)
        if plane is None:
            return back, np.zeros(back.shape[0], dtype=bool)
        n = board.n_markets
        lays = board.lays[plane, :n] if ids is None else board.lays[plane, ids]
        lay_times = board.lay_times[plane, :n] if ids is None else board.lay_times[plane, ids]
        with np.errstate(divide="ignore", invalid="ignore"):
            lay = np.where((lays > 1.0) & ((lay_times >= now - cfg.max_age) if cfg.max_age > 0 else True),
                           1.0 / lays, np.nan)
        mid = np.where(np.isnan(back), lay, np.where(np.isnan(lay), back, (back + lay) / 2.0))
        return np.asarray(mid, dtype=np.float64), np.asarray(~np.isnan(lay).all(axis=1), dtype=bool)

    def _winners(self, rows: IntArray) -> NDArray[np.float64]:
        return np.asarray(self.board.winners[rows]) if self.board.several_winners else np.ones(rows.size)

    def sharp_quoted_at(self, line: FairLine, which: IntArray) -> NDArray[np.float64]:
        """The oldest sharp quote behind each of these rows of ``line``."""
        if line.quoted_at is not None:
            return line.quoted_at[which]
        rows = line.rows[which]
        times = self.board.times[line.sharp_book[which], rows, :]
        return row_min(np.where(self.board.used[rows], times, np.inf))

    def _consensus(self, ids: IntArray, n_out: NDArray[np.int16], used: NDArray[np.bool_], now: float,
                   method: str) -> FairLine:
        board = self.board
        k = self._winners(ids)
        total = np.zeros(used.shape)
        holds = np.zeros(ids.size)
        count = np.zeros(ids.size)
        oldest = np.full(ids.size, np.inf)
        quoting = np.zeros((len(board.books), ids.size), dtype=bool)
        for b in range(len(board.books)):
            prices, times = board.prices[b, ids], board.times[b, ids]
            complete = self._complete(prices, times, used, now)
            if not complete.any():
                continue
            quoting[b] = complete
            with np.errstate(divide="ignore"):
                r = np.where(used, 1.0 / prices, 0.0)
            complete &= row_sum(r) >= k
            if not complete.any():
                continue
            p = devig(method, r[complete], n_out[complete], k[complete])
            total[complete] += np.nan_to_num(p)
            holds[complete] += (row_sum(r[complete]) - k[complete]) / k[complete] * 100.0
            count[complete] += 1
            oldest[complete] = np.minimum(oldest[complete], row_min(np.where(used[complete], times[complete], np.inf)))
        has = count > 0
        p = np.where(used[has], total[has] / count[has, None], np.nan)
        return FairLine(ids[has], p, np.full(int(has.sum()), -1, dtype=np.intp), quoting[:, has],
                        holds[has] / count[has], oldest[has])

    def scan(self, now: float, markets: IntArray | None = None, line: FairLine | None = None) -> list[ValueBet]:
        """Value bets in ``markets`` (all when None); ``line``: their fair line already computed by ``fair``."""
        board, cfg = self.board, self.config
        nb = len(board.books)
        if nb == 0 or board.n_markets == 0:
            return []
        threshold = 1.0 + cfg.min_ev / 100.0
        # Without a line: the worst method's p never exceeds the multiplicative one, so a cheap bound picks
        # the candidates and the costly methods run on those alone.
        bounded = line is None and cfg.method == WORST
        if line is None:
            line = self.fair(now, markets, MULTIPLICATIVE if bounded else None)
        if line.rows.size == 0:
            return []
        best = board.best[line.rows]
        hit = np.nan_to_num(best * line.p) >= threshold
        if bounded:
            cand = np.flatnonzero(row_any(hit))
            if cand.size == 0:
                return []
            line = self.fair(now, line.rows[cand])  # the same rows: which rows have a line does not depend on the method
            hit = np.nan_to_num(best[cand] * line.p) >= threshold
        # Only the (market, outcome) cells whose best price could be value are gathered over the books: on a wide
        # board of outrights that is a few cells of every hundred.
        which, outcomes = np.nonzero(hit)
        if which.size == 0:
            return []
        rows = line.rows[which]
        prices = board.prices[:nb, rows, outcomes]
        times = board.times[:nb, rows, outcomes]
        eff = effective_prices(prices, keep_factors(board, cfg.commission)[:, None]) if cfg.commission else prices
        p = line.p[which, outcomes]
        with np.errstate(invalid="ignore"):
            ev = p[None] * eff - 1.0
        ok = ev >= threshold - 1.0
        if cfg.max_age > 0:
            ok &= times >= now - cfg.max_age
        ok &= np.arange(nb)[:, None] != line.sharp_book[which][None, :]
        return self._materialize(line, which, rows, outcomes, prices, eff, times, p, ev, ok)

    def _materialize(self, line: FairLine, which: IntArray, rows: IntArray, outcomes: IntArray,
                     prices: NDArray[np.float64], eff: NDArray[np.float64], times: NDArray[np.float64],
                     p: NDArray[np.float64], ev: NDArray[np.float64], ok: NDArray[np.bool_]) -> list[ValueBet]:
        """Items from (book, cell) arrays: cell c is board row ``rows[c]``, outcome ``outcomes[c]``, fair-line row
        ``which[c]``."""
        board, cfg = self.board, self.config
        bs, cs = np.nonzero(ok)
        line_rows = which[cs]
        d_eff = eff[bs, cs]
        edge = ev[bs, cs]
        kelly = edge / (d_eff - 1.0)
        columns = zip(
            bs.tolist(), rows[cs].tolist(), outcomes[cs].tolist(), line_rows.tolist(), prices[bs, cs].tolist(),
            d_eff.tolist(), (edge * 100.0).tolist(), kelly.tolist(), p[cs].tolist(), line.hold[line_rows].tolist(),
            self.sharp_quoted_at(line, line_rows).tolist(), times[bs, cs].tolist(),
        )
        out: list[ValueBet] = []
        books, markets = board.books, board.markets
        sharp: dict[int, tuple[str, ...]] = {}
        for b, row, o, i, price, effective, ev_pct, f, fair, hold, sharp_at, quoted in columns:
            market_id = markets[row].id
            names = sharp.get(i)
            if names is None:
                names = sharp[i] = line.sharp_names(i, books)
            out.append(ValueBet(
                id=value_id(market_id, o, books[b]), market_id=market_id, outcome=o, book=books[b], price=price,
                effective=effective, fair_probability=fair, ev=ev_pct, kelly=f, sharp_books=names,
                sharp_hold=hold, sharp_quoted_at=sharp_at, quoted_at=quoted,
                suspect_reason=EV_CAP if ev_pct > cfg.max_ev else None,
            ))
        return out
