"""A plain-loop reference of the arbitrage maths, written for clarity, not speed."""

from __future__ import annotations

import math


def reference_scan(markets, books, commission, now, max_age, total, unit, winners=None):
    """markets: list of (market_id, n_outcomes, quotes) with quotes[outcome][book] = (price, ts); ``winners``:
    {market_id: k} where more than one outcome wins (S < k is then the arbitrage, returning T·k/S).

    Returns {market_id: (books per outcome, s, profit, stakes)} for every arbitrage.
    """
    found = {}
    for market_id, n_out, quotes in markets:
        k = (winners or {}).get(market_id, 1)
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
        if not s < k * (1 - 1e-9):
            continue
        stakes = [total * (1 / t[0]) / s for t in best]
        profit = total * k / s - total
        if unit > 0:
            stakes = [math.floor(x / unit + 0.5) * unit for x in stakes]
            profit = sum(sorted(x * t[0] for x, t in zip(stakes, best))[:k]) - sum(stakes)  # the k that pay least
        if profit > 1e-9:
            found[market_id] = (tuple(t[1] for t in best), s, profit, stakes)
    return found


# -- de-vig and value, one market at a time -------------------------------------------
def ref_devig(method, prices, k=1):
    """Fair probabilities of one market's decimal prices, summing to ``k`` winners, by the formulas of issues 14
    and 23, in plain loops (Shin has one winner: NaN for k > 1)."""
    r = [1 / d for d in prices]
    n = len(r)
    s = sum(r)
    if method == "multiplicative":
        return [k * x / s for x in r]
    if method == "additive":
        return [min(1.0, max(x - (s - k) / n, 0.0)) for x in r]
    if method == "power":
        lo, hi = 0.01, 100.0  # bisection on c: Σ r^c decreases in c
        for _ in range(200):
            c = (lo + hi) / 2
            if sum(x ** c for x in r) > k:
                lo = c
            else:
                hi = c
        return [x ** ((lo + hi) / 2) for x in r]
    if method == "shin" and k != 1:
        return [math.nan] * n
    if method == "shin":
        def probs(z):
            return [(math.sqrt(z * z + 4 * (1 - z) * x * x / s) - z) / (2 * (1 - z)) for x in r]
        lo, hi = -0.5, 0.99  # bisection on z: Σ p(z) falls as z grows
        for _ in range(200):
            z = (lo + hi) / 2
            if sum(probs(z)) > 1:
                lo = z
            else:
                hi = z
        return probs((lo + hi) / 2)
    if method == "worst":
        each = [ref_devig(m, prices, k) for m in ("multiplicative", "additive", "power", "shin")]
        return [min(x for x in col if not math.isnan(x)) for col in zip(*each)]
    raise ValueError(method)


def reference_value(markets, books, sharp, method, commission, min_ev, now=0.0, max_age=0.0):
    """markets: list of (market_id, n_outcomes, quotes) with quotes[outcome][book] = (price, ts).

    Returns {(market_id, outcome, book): (fair p, ev percent, full kelly)} for every value bet.
    """
    found = {}
    for market_id, n_out, quotes in markets:
        def fresh(book, o):
            q = quotes[o].get(book)
            return q is not None and (max_age <= 0 or q[1] >= now - max_age)
        sharp_book = next((b for b in sharp if all(fresh(b, o) for o in range(n_out))), None)
        if sharp_book is None:
            continue
        sharp_prices = [quotes[o][sharp_book][0] for o in range(n_out)]
        if sum(1 / d for d in sharp_prices) < 1:
            continue  # a sharp line under 100 % is a data error: no fair price
        fair = ref_devig(method, sharp_prices)
        for o in range(n_out):
            for book in books:
                if book == sharp_book or not fresh(book, o):
                    continue
                d = 1 + (quotes[o][book][0] - 1) * (1 - commission.get(book, 0.0))
                ev = fair[o] * d - 1
                if ev * 100 >= min_ev:
                    found[(market_id, o, book)] = (fair[o], ev * 100, ev / (d - 1))
    return found


def documented_reducer():
    """The v2 client reducer exactly as docs/protocol.md prints it (its ``**Reducer**`` code block), so the
    tests check the server against the document, not against the server's own copy."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text()
    block = re.search(r"\*\*Reducer\*\*.*?```python\n(.*?)```", doc, re.S)
    assert block is not None, "docs/protocol.md has no Reducer code block"
    scope: dict = {}
    exec(compile(block.group(1), "docs/protocol.md#reducer", "exec"), scope)  # noqa: S102 - our own document
    return scope["apply"]
