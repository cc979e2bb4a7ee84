"""Dutching: several selections of one market backed so that each returns the same.

Stakes s_i = T · (1/o_i) / Σ(1/o) over the chosen selections' prices o_i:
each pays T / Σ(1/o) if it wins, so the profit if one of them wins is
T/Σ(1/o) − T.  (Backing every runner this way is arbitrage; the scanner does
that over the whole board, ``arbitrage.Scanner``, k winners included.)
"""

from __future__ import annotations

import numpy as np
from attrs import frozen


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
