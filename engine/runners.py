"""Many-runner maths: arbitrage over N outcomes with k winners, and dutching.

Rows are markets, columns their outcomes (runners), NaN where a runner has
no price (or the row is narrower than the widest market); ``n`` is each
row's number of runners and ``k`` its number of winners.  Backing every
runner i at its best price d_i with stakes ∝ 1/d_i returns T·k/S (k of them
win) whatever the result, with S = Σ 1/d_i; so S < k is an arbitrage:

* roi = k/S − 1, edge = 100 · (1 − S/k), stakes s_i = T · (1/d_i) / S.
* A market with an unpriced runner is never an arbitrage (that runner could win).

For k = 1 these are exactly ``arbitrage``'s formulas.  Everything is
vectorized over rows.
"""

from __future__ import annotations

import numpy as np
from attrs import frozen
from numpy.typing import NDArray

from .arbitrage import TOLERANCE
from .devig import row_all, row_sum

FloatArray = NDArray[np.float64]


@frozen
class Sure:
    """Per row: S, whether it is an arbitrage, its roi and edge (percent), and each runner's share of the stake."""

    s: FloatArray
    arbitrage: NDArray[np.bool_]
    roi: FloatArray
    edge: FloatArray
    shares: FloatArray


def sure_bets(best: FloatArray, n: NDArray[np.integer], k: NDArray[np.number] | None = None) -> Sure:
    """Arbitrage over rows of best (effective) decimal prices, N runners and k winners each."""
    prices = np.asarray(best, dtype=np.float64)
    winners = np.ones(len(prices)) if k is None else np.asarray(k, dtype=np.float64)
    used = np.arange(prices.shape[1]) < np.asarray(n)[:, None]
    priced = row_all(~used | (prices > 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        inverse = np.where(used, 1.0 / prices, 0.0)
        s = np.where(priced, row_sum(np.nan_to_num(inverse, nan=0.0)), np.nan)
        arbitrage = priced & (s < winners * (1.0 - TOLERANCE))
        roi = (winners / s - 1.0) * 100.0
        edge = (1.0 - s / winners) * 100.0
        shares = np.where(used, inverse / s[:, None], np.nan)
    return Sure(s, arbitrage, roi, edge, shares)


@frozen
class Dutch:
    stakes: tuple[float, ...]
    """Per selection, in the order given."""
    returns: float
    """What any one of them returns if it wins (the same for each)."""
    profit: float
    """``returns`` minus the total stake, if one of them wins."""


def dutch(decimals: list[float], total: float) -> Dutch:
    """Stakes s_i = T · (1/o_i) / Σ(1/o) on several selections of one market, so each returns the same."""
    if not decimals or any(not d > 1.0 for d in decimals):
        raise ValueError("dutching needs at least one price above 1")
    if not total > 0:
        raise ValueError("the total stake must be positive")
    inverse = np.array([1.0 / d for d in decimals])
    share = inverse / inverse.sum()
    returns = float(total / inverse.sum())
    return Dutch(tuple(float(x) for x in share * total), returns, returns - total)
