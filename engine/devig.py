"""Removing a book's margin: fair probabilities from its prices, over whole arrays of markets.

Input is ``r`` (markets, width) of implied probabilities 1/d with the unused
outcome columns of each row at 0, ``n`` the number of outcomes per market
(2 to several hundred: outrights and races), and optionally ``k`` the number
of winners per market (default 1; a place market paying the first three has
k = 3).  Probabilities are scaled so each row sums to k.  Every method works
on all rows at once; the two that have no closed form (power, Shin for n > 2)
run Newton's method on the whole array and stop when every row has converged,
never looping in Python per market.  Rows with a missing price give NaN.
Shin's model has one winner: rows with k > 1 give NaN under it (``worst``
then takes the lowest of the other three), never a guess.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

MULTIPLICATIVE = "multiplicative"
ADDITIVE = "additive"
POWER = "power"
SHIN = "shin"
WORST = "worst"
METHODS = (MULTIPLICATIVE, ADDITIVE, POWER, SHIN, WORST)

MAX_ITERATIONS = 50
CONVERGED = 1e-12


NARROW = 4
"""Up to this many columns the row helpers add column by column (numpy reduces a trailing axis of 3 several
times slower); wider rows (outrights) use numpy's own reduction."""
IntArray = NDArray[np.int16]


def row_sum(a: FloatArray) -> FloatArray:
    """Sum over the outcome axis."""
    if a.shape[1] > NARROW:
        return np.asarray(a.sum(axis=1), dtype=np.float64)
    total = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        total += a[:, j]
    return total


def row_all(a: NDArray[np.bool_]) -> NDArray[np.bool_]:
    if a.shape[1] > NARROW:
        return np.asarray(a.all(axis=1))
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        out &= a[:, j]
    return out


def row_any(a: NDArray[np.bool_]) -> NDArray[np.bool_]:
    if a.shape[1] > NARROW:
        return np.asarray(a.any(axis=1))
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        out |= a[:, j]
    return out


def row_min(a: FloatArray) -> FloatArray:
    if a.shape[1] > NARROW:
        return np.asarray(a.min(axis=1), dtype=np.float64)
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.minimum(out, a[:, j], out=out)
    return out


def _prepared(r: FloatArray, n: IntArray) -> tuple[FloatArray, NDArray[np.bool_], FloatArray]:
    """Implied probabilities with unused columns at 0, the used mask and S per row (NaN if a price is missing)."""
    used = np.arange(r.shape[1]) < n[:, None]
    clean = np.where(used, r, 0.0)
    s = row_sum(clean)
    missing = row_any(used & ~(r > 0))
    return clean, used, np.where(missing, np.nan, s)


def multiplicative(r: FloatArray, n: IntArray, k: FloatArray) -> FloatArray:
    """p_i = k · r_i / S."""
    clean, used, s = _prepared(r, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(used, clean * (k / s)[:, None], np.nan)


def additive(r: FloatArray, n: IntArray, k: FloatArray) -> FloatArray:
    """Takes the same margin (S − k)/n off every outcome; a long shot can fall to 0, never below (nor above 1)."""
    clean, used, s = _prepared(r, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = clean - ((s - k) / n)[:, None]
    return np.where(used, np.clip(p, 0.0, 1.0), np.nan)


def power(r: FloatArray, n: IntArray, k: FloatArray) -> FloatArray:
    """p_i = r_i^c with Σ r_i^c = k.  f(c) = Σ r^c − k is convex and decreasing, so Newton from c = 1
    converges monotonically without overshooting."""
    return power_exponent(r, n, k)[1]


def power_exponent(r: FloatArray, n: IntArray, k: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The exponent c per row, and the probabilities."""
    clean, used, s = _prepared(r, n)
    ok = ~np.isnan(s)
    logs = np.log(np.where(used & ok[:, None], clean, 1.0))
    live = np.where(used & ok[:, None], 1.0, 0.0)
    c = np.ones(len(r))
    active = np.flatnonzero(ok)
    for _ in range(MAX_ITERATIONS):
        if active.size == 0:
            break
        lg = logs[active]
        powered = np.exp(lg * c[active, None]) * live[active]
        f = row_sum(powered) - k[active]
        df = row_sum(powered * lg)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(df != 0, f / df, 0.0)
        c[active] -= step
        active = active[np.abs(step) > CONVERGED]
    p = np.exp(logs * c[:, None])
    return np.where(ok, c, np.nan), np.where(used & ok[:, None], p, np.nan)


def shin_z(r: FloatArray, n: IntArray, k: FloatArray | None = None) -> FloatArray:
    """Shin's insider share z per row: closed form for two outcomes, Newton for more; NaN where k > 1."""
    clean, used, s = _prepared(r, n)
    if k is not None:
        s = np.where(k == 1.0, s, np.nan)
    z = np.full(len(r), np.nan)
    two = (n == 2) & ~np.isnan(s)
    if two.any():
        # For two outcomes Shin's probabilities equal the additive ones; z follows from either.
        r0, s2 = clean[two, 0], s[two]
        p0 = r0 - (s2 - 1.0) / 2.0
        with np.errstate(invalid="ignore", divide="ignore"):
            z[two] = (r0 * r0 / s2 - p0 * p0) / (p0 * (1.0 - p0))
    more = np.flatnonzero((n > 2) & ~np.isnan(s))
    if more.size:
        # Newton on g(z) = Σ √(z² + 4(1−z) q_i) − 2 − (n−2) z with q_i = r_i²/S: the plain fixed point
        # z ← (Σ√ − 2)/(n − 2) oscillates and needs hundreds of steps; Newton needs about five.
        q = np.where(used[more], clean[more] ** 2 / s[more, None], 0.0)
        mask = used[more]
        extra = n[more].astype(np.float64) - 2.0
        zz = np.zeros(more.size)
        active = np.arange(more.size)
        for _ in range(MAX_ITERATIONS):
            if active.size == 0:
                break
            za = zz[active][:, None]
            roots = np.sqrt(za * za + 4.0 * (1.0 - za) * q[active])
            g = row_sum(np.where(mask[active], roots, 0.0)) - 2.0 - extra[active] * za[:, 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                dg = row_sum(np.where(mask[active], (za - 2.0 * q[active]) / roots, 0.0)) - extra[active]
                step = np.where(dg != 0, g / dg, 0.0)
            zz[active] = za[:, 0] - step
            active = active[np.abs(step) > CONVERGED]
        z[more] = zz
    return z


def shin(r: FloatArray, n: IntArray, k: FloatArray) -> FloatArray:
    """Shin's model (one winner): NaN for rows with k > 1."""
    clean, used, s = _prepared(r, n)
    z = shin_z(r, n, k)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (np.sqrt(z * z + 4.0 * (1.0 - z) * clean * clean / s[:, None]) - z) / (2.0 * (1.0 - z))
    return np.where(used, p, np.nan)


def worst(r: FloatArray, n: IntArray, k: FloatArray) -> FloatArray:
    """Per outcome the lowest of the four (of the three for k > 1, where Shin has no meaning): the fair price a
    value bet must beat under every method."""
    lowest: FloatArray = np.fmin.reduce([multiplicative(r, n, k), additive(r, n, k), power(r, n, k),
                                         shin(r, n, k)])
    return lowest


def devig(method: str, r: FloatArray, n: NDArray[np.integer], k: NDArray[np.number] | None = None) -> FloatArray:
    """Fair probabilities per row, summing to ``k`` (winners per row; default 1)."""
    if method not in _BY_NAME:
        raise ValueError(f"unknown de-vig method {method!r}; expected one of {', '.join(METHODS)}")
    rows = np.asarray(r, dtype=np.float64)
    winners = np.ones(len(rows)) if k is None else np.asarray(k, dtype=np.float64)
    return _BY_NAME[method](rows, np.asarray(n, dtype=np.int16), winners)


def devig_prices(method: str, decimals: list[float], winners: int = 1) -> list[float]:
    """One market from decimal prices: the convenience form for backtests and single markets."""
    r = np.zeros((1, max(len(decimals), 2)))
    r[0, : len(decimals)] = [1.0 / d for d in decimals]
    p = devig(method, r, np.array([len(decimals)]), np.array([winners]))
    return [float(x) for x in p[0, : len(decimals)]]


_BY_NAME = {MULTIPLICATIVE: multiplicative, ADDITIVE: additive, POWER: power, SHIN: shin, WORST: worst}
