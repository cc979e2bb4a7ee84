"""Odds conversions, vectorized over numpy arrays.

American odds strictly between -100 and +100 are invalid and map to NaN.
+100 and -100 both mean decimal 2.0.  Decimal prices at or below 1.0 are
invalid.  Converting decimal back to American rounds to the nearest
integer, halves away from zero, and never yields a value inside (-100, 100):
prices in (1.995, 2.005) round to +100 (an even price).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction

import numpy as np
from attrs import frozen
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def american_to_decimal(american: ArrayLike) -> FloatArray:
    a = np.asarray(american, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(a >= 100, 1.0 + a / 100.0, 1.0 + 100.0 / -a)
    return np.where((a >= 100) | (a <= -100), out, np.nan)


def decimal_to_american(decimal: ArrayLike) -> FloatArray:
    d = np.asarray(decimal, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(d >= 2.0, (d - 1.0) * 100.0, -100.0 / (d - 1.0))
        rounded = np.sign(raw) * np.floor(np.abs(raw) + 0.5)
    rounded = np.where(np.abs(rounded) < 100, 100.0, rounded)
    return np.where(d > 1.0, rounded, np.nan)


def hold_percent(best: Iterable[float], winners: int = 1) -> float | None:
    """The margin left over the best price of each outcome: 100·(Σ 1/d − k)/k for k winners, negative for an
    arbitrage.

    None unless every outcome has a price.  Plain floats: one market's few prices, read per market view.
    """
    total, count = 0.0, 0
    for d in best:
        if not d > 1.0:  # NaN fails the comparison too
            return None
        total += 1.0 / d
        count += 1
    return (total - winners) / winners * 100.0 if count else None


def implied_probability(decimal: ArrayLike) -> FloatArray:
    d = np.asarray(decimal, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1.0, 1.0 / d, np.nan)


def fractional_to_decimal(numerator: ArrayLike, denominator: ArrayLike) -> FloatArray:
    n = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((n > 0) & (den > 0), 1.0 + n / den, np.nan)


def is_valid_american(american: int) -> bool:
    return american >= 100 or american <= -100


def american_to_fraction(american: int) -> Fraction:
    """The exact decimal price of an American integer, for money maths."""
    if american >= 100:
        return 1 + Fraction(american, 100)
    if american <= -100:
        return 1 + Fraction(100, -american)
    raise ValueError(f"American odds must satisfy |odds| >= 100, got {american}")


@frozen
class ExactPrice:
    """A price as its book quotes it: ``decimal`` text for decimal books, or exactly an American integer."""

    value: Fraction
    decimal: str | None
    """The decimal quote as the book wrote it ("1.75"); None for a price quoted as American odds."""
    american: int
    """Exact for an American book; for a decimal book the nearest American integer, for display only."""


MAX_QUOTED_DECIMALS = 4


def exact_price(decimal: float) -> ExactPrice:
    """Recover the exact price behind a float the feed produced.

    A decimal book's quote has a few decimal places, which the float's shortest repr gives back
    exactly (1.75, never 1.7518796...).  A price converted from American odds (1 + 100/110) has no
    short decimal form; it is the American integer whose conversion gives this very float.
    """
    text = repr(float(decimal))
    quoted = Decimal(text)
    american = to_american_int(decimal)
    exponent = quoted.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -MAX_QUOTED_DECIMALS:
        return ExactPrice(Fraction(quoted), text, american)
    if float(american_to_fraction(american)) == float(decimal):
        return ExactPrice(american_to_fraction(american), None, american)
    return ExactPrice(Fraction(quoted), text, american)


def to_american_int(decimal: float) -> int:
    """One price, in plain float arithmetic: the same operations as ``decimal_to_american``, without numpy's cost
    per call (market views convert every quote of a changed market)."""
    d = float(decimal)
    if not d > 1.0:
        raise ValueError(f"decimal price must be > 1, got {decimal}")
    raw = (d - 1.0) * 100.0 if d >= 2.0 else -100.0 / (d - 1.0)
    rounded = math.copysign(math.floor(abs(raw) + 0.5), raw)
    return int(100.0 if abs(rounded) < 100 else rounded)
