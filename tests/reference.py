"""A plain-loop reference of the arbitrage maths, written for clarity, not speed."""

from __future__ import annotations

import math


def reference_scan(markets, books, commission, now, max_age, total, unit):
    """markets: list of (market_id, n_outcomes, quotes) with quotes[outcome][book] = (price, ts).

    Returns {market_id: (books per outcome, s, profit, stakes)} for every arbitrage.
    """
    found = {}
    for market_id, n_out, quotes in markets:
        best = []
        for o in range(n_out):
            top = None
            for b, book in enumerate(books):
                q = quotes[o].get(book)
                if q is None:
                    continue
                price, ts = q
                if max_age > 0 and ts < now - max_age:
                    continue
                eff = 1 + (price - 1) * (1 - commission.get(book, 0.0))
                if top is None or eff > top[0]:
                    top = (eff, book)
            best.append(top)
        if any(t is None for t in best):
            continue
        s = sum(1 / t[0] for t in best)
        if not s < 1 - 1e-9:
            continue
        stakes = [total * (1 / t[0]) / s for t in best]
        profit = total / s - total
        if unit > 0:
            stakes = [math.floor(x / unit + 0.5) * unit for x in stakes]
            profit = min(x * t[0] for x, t in zip(stakes, best)) - sum(stakes)
        if profit > 1e-9:
            found[market_id] = (tuple(t[1] for t in best), s, profit, stakes)
    return found
