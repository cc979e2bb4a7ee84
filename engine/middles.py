"""Middles: two books' lines on a spread or total that leave a window where both legs win.

Over x at one book and Under y at another with x < y: a total strictly
between them wins both.  Home with handicap h1 at one book and away with
handicap −h2 at another (market lines h1 > h2): a home margin strictly
between −h1 and −h2 wins both.  A result exactly on a whole-number line
pushes that leg (its stake comes back).

Stakes equalise the result outside the window: s_a·d_a = s_b·d_b with
s_a + s_b = T, so a miss returns T/S (S = 1/d_a + 1/d_b) and a hit 2T/S.

The hit probability and EV come from a model: the final margin (or total) is
an integer drawn from a normal distribution discretised to whole numbers,
with a standard deviation per sport (``SPORT_SD``; docs/engine.md) and a
centre implied by the sharp line: at a half-point line L with fair
probability p of home covering, μ = σ·Φ⁻¹(p) − L; for totals with p of the
over, μ = L + σ·Φ⁻¹(p); the centre is the mean over the sharp's lines.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import numpy as np
from attrs import field, frozen
from numpy.typing import NDArray

from .arbitrage import effective_prices, keep_factors
from .board import QuoteBoard
from .markets import SPREAD, TOTAL, MarketKey

STANDARD_NORMAL = NormalDist()

SPORT_SD: Mapping[str, tuple[float, float]] = {
    "nba": (12.0, 14.0),
    "wnba": (11.0, 13.0),
    "ncaab": (11.0, 13.0),
    "nfl": (13.5, 10.0),
    "ncaaf": (15.0, 14.0),
    "mlb": (4.2, 3.0),
    "nhl": (2.4, 1.8),
    "soccer": (1.7, 1.6),
    "epl": (1.7, 1.6),
}
"""Standard deviation of the final (home margin, total) per sport, in points, runs or goals."""


def sport_sd(sport: str | None) -> tuple[float, float] | None:
    if sport is None:
        return None
    return SPORT_SD.get(sport.lower())


@frozen
class MiddleConfig:
    commission: Mapping[str, float] = field(factory=dict)
    max_age: float = 0.0
    total_stake: float = 100.0


@frozen
class MiddleLeg:
    market_id: str
    outcome: int
    book: str
    line: float
    """The line as this leg's bettor sees it (away takes the opposite handicap)."""
    price: float
    effective: float
    stake: float
    quoted_at: float


@frozen
class Middle:
    id: str
    event_id: str
    market_type: str
    legs: tuple[MiddleLeg, MiddleLeg]
    window: tuple[float, float]
    """Open interval of the margin (home − away) or total where both legs win."""
    s: float
    miss: float
    """Profit on the total stake when the result falls outside the window (negative: the cost)."""
    hit: float
    """Profit when both legs win."""
    total_stake: float
    hit_probability: float | None
    ev: float | None
    """Percent of the total stake, under the model; None without a sharp line or a known sport."""
    center: float | None
    sd: float | None

    @property
    def width(self) -> float:
        return self.window[1] - self.window[0]


def middle_id(a: tuple[str, str], b: tuple[str, str]) -> str:
    digest = hashlib.blake2b(f"{a[0]}|{a[1]}|{b[0]}|{b[1]}".encode(), digest_size=8)
    return "mid_" + digest.hexdigest()


def center(market_type: str, lines: Sequence[float], p_first: Sequence[float], sd: float) -> float | None:
    """Where the sharp line puts the mean margin or total (first outcome: home or over)."""
    estimates = []
    for line, p in zip(lines, p_first):
        if not 0.0 < p < 1.0:
            continue
        z = STANDARD_NORMAL.inv_cdf(p)
        estimates.append(sd * z - line if market_type == SPREAD else line + sd * z)
    return sum(estimates) / len(estimates) if estimates else None


def integer_distribution(mu: float, sd: float, nonnegative: bool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Whole-number results and their probabilities, P(k) = Φ((k+½−μ)/σ) − Φ((k−½−μ)/σ)."""
    lo, hi = math.floor(mu - 8 * sd), math.ceil(mu + 8 * sd)
    if nonnegative:
        lo = max(lo, 0)
    k = np.arange(lo, hi + 1, dtype=np.float64)
    edges = (np.append(k - 0.5, k[-1] + 0.5) - mu) / (sd * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + np.array([math.erf(x) for x in edges]))
    p = np.diff(cdf)
    return k, p / p.sum()


def leg_results(market_type: str, first: bool, line: float, k: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per result: 1 win, 0 push, -1 loss for a leg (``line`` is the market's line)."""
    if market_type == TOTAL:
        diff = k - line if first else line - k
    else:
        diff = k + line if first else -(k + line)
    return np.sign(diff)


Distribution = tuple[NDArray[np.float64], NDArray[np.float64]]
Offer = tuple[int, float, float]
"""(book index, effective price, quoted at)."""


def evaluate(market_type: str, line_a: float, d_a: float, line_b: float, d_b: float, total: float,
             mu: float, sd: float, distribution: Distribution | None = None) -> tuple[float, float]:
    """Hit probability and EV (percent of the total stake) of a middle under the model."""
    k, p = distribution or integer_distribution(mu, sd, nonnegative=market_type == TOTAL)
    s = 1.0 / d_a + 1.0 / d_b
    stake_a, stake_b = total / d_a / s, total / d_b / s
    ra, rb = leg_results(market_type, True, line_a, k), leg_results(market_type, False, line_b, k)
    payout = np.where(ra > 0, stake_a * d_a, np.where(ra == 0, stake_a, 0.0))
    payout = payout + np.where(rb > 0, stake_b * d_b, np.where(rb == 0, stake_b, 0.0))
    hit = float(p[(ra > 0) & (rb > 0)].sum())
    return hit, float(np.dot(p, payout - total)) / total * 100.0


def _offers(board: QuoteBoard, keys: Sequence[MarketKey], config: MiddleConfig, now: float
            ) -> dict[tuple[str, int], list[Offer]]:
    """The two best offers per (market, outcome) of the group, best first, from one gather of its prices."""
    nb = len(board.books)
    rows = [board.market_index[k.id] for k in keys]
    prices = effective_prices(board.prices[:nb, rows, :2], keep_factors(board, config.commission)[:, None, None])
    times = board.times[:nb, rows, :2]
    if config.max_age > 0:
        prices = np.where(times >= now - config.max_age, prices, np.nan)
    ranked = np.argsort(np.where(np.isnan(prices), np.inf, -prices), axis=0, kind="stable")[:2]
    out: dict[tuple[str, int], list[Offer]] = {}
    for j, key in enumerate(keys):
        for outcome in (0, 1):
            offers = []
            for b in ranked[:, j, outcome].tolist():
                price = float(prices[b, j, outcome])
                if price == price:
                    offers.append((b, price, float(times[b, j, outcome])))
            out[(key.id, outcome)] = offers
    return out


def find_middles(board: QuoteBoard, keys: Sequence[MarketKey], config: MiddleConfig, now: float,
                 sharp_p_first: Mapping[str, float], sport: str | None) -> list[Middle]:
    """Every middle among the lines of one event's spread or total markets (``keys``, one market type)."""
    keys = [k for k in keys if k.line is not None and k.id in board.market_index and board.open[board.market_index[k.id]]]
    if len(keys) < 2 or not board.books:
        return []
    market_type = keys[0].market_type
    best = _offers(board, keys, config, now)
    sds = sport_sd(sport)
    sd = None if sds is None else (sds[0] if market_type == SPREAD else sds[1])
    mu = distribution = None
    if sd is not None:
        lines = {k.id: float(k.line or 0.0) for k in keys}
        known = [(lines[m], p) for m, p in sharp_p_first.items() if m in lines]
        mu = center(market_type, [x for x, _ in known], [p for _, p in known], sd)
        if mu is not None:
            distribution = integer_distribution(mu, sd, nonnegative=market_type == TOTAL)
    out = []
    for first in keys:
        for second in keys:
            low, high = float(first.line or 0.0), float(second.line or 0.0)
            if not (high > low if market_type == TOTAL else low > high):
                continue
            pair = _pair(best[(first.id, 0)], best[(second.id, 1)])
            if pair is not None:
                out.append(_middle(board, config, market_type, first, second, pair, mu, sd, distribution))
    return out


def _pair(first: list[Offer], second: list[Offer]) -> tuple[Offer, Offer] | None:
    """The best prices for the two legs at two different books."""
    options = [(x, y) for x in first for y in second if x[0] != y[0]]
    if not options:
        return None
    return min(options, key=lambda xy: 1.0 / xy[0][1] + 1.0 / xy[1][1])


def _middle(board: QuoteBoard, config: MiddleConfig, market_type: str, a: MarketKey, b: MarketKey,
            pair: tuple[Offer, Offer], mu: float | None, sd: float | None,
            distribution: Distribution | None) -> Middle:
    (book_a, d_a, t_a), (book_b, d_b, t_b) = pair
    line_a, line_b = float(a.line or 0.0), float(b.line or 0.0)
    total = config.total_stake
    s = 1.0 / d_a + 1.0 / d_b
    idx_a, idx_b = board.market_index[a.id], board.market_index[b.id]
    raw_a, raw_b = float(board.prices[book_a, idx_a, 0]), float(board.prices[book_b, idx_b, 1])
    if market_type == TOTAL:
        window, seen_a, seen_b = (line_a, line_b), line_a, line_b
    else:
        window, seen_a, seen_b = (-line_a, -line_b), line_a, -line_b
    legs = (
        MiddleLeg(a.id, 0, board.books[book_a], seen_a, raw_a, d_a, total / d_a / s, t_a),
        MiddleLeg(b.id, 1, board.books[book_b], seen_b, raw_b, d_b, total / d_b / s, t_b),
    )
    hit_p = ev = None
    if mu is not None and sd is not None:
        hit_p, ev = evaluate(market_type, line_a, d_a, line_b, d_b, total, mu, sd, distribution)
    return Middle(
        id=middle_id((a.id, legs[0].book), (b.id, legs[1].book)),
        event_id=a.event_id, market_type=market_type, legs=legs, window=window, s=s,
        miss=total / s - total, hit=2 * total / s - total, total_stake=total,
        hit_probability=hit_p, ev=ev, center=mu, sd=sd,
    )
