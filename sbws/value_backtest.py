"""Value backtest: bet every +EV opening price against Pinnacle's de-vigged line, judge by CLV and results.

For each match whose Pinnacle opening 1X2 prices (``PSH/PSD/PSA``) are all
present, the fair probabilities are those prices de-vigged by one method.
Each selection is bet once, at the best opening price among the other
bookmakers (after commission), when its EV reaches ``min_ev``.  CLV compares
that price with Pinnacle's closing line (``PSCH/PSCD/PSCA``) de-vigged the
same way.  Flat staking risks one unit per bet; Kelly staking sizes each bet
from the bankroll as it stands, bets taken in kickoff order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import field, frozen

from engine.devig import devig_prices
from engine.markets import MONEYLINE
from engine.value import kelly_stake

from .season_report import by_season, render_sources, sources
from .feeds.football_data import Match, PricedMarket, read_seasons
from .ledger.models import WON
from .ledger.rules import outcome

SHARP = "pinnacle"
SELECTIONS = ("home", "draw", "away")


@frozen
class ValueOptions:
    method: str = "worst"
    min_ev: float = 1.0
    kelly_fraction: float = 0.25
    kelly_cap: float = 5.0
    bankroll: float = 1000.0
    commission: Mapping[str, float] = field(factory=dict)


def _moneyline(match: Match, phase: str) -> PricedMarket | None:
    for market in match.phases.get(phase, ()):
        if market.market_type == MONEYLINE:
            return market
    return None


def _sharp_line(market: PricedMarket | None, method: str) -> list[float] | None:
    if market is None or len(market.prices) != 3 or any(SHARP not in p for p in market.prices):
        return None
    decimals = [p[SHARP] for p in market.prices]
    if sum(1 / d for d in decimals) < 1:
        return None
    return devig_prices(method, decimals)


def value_bets(matches: Sequence[Match], options: ValueOptions) -> list[dict[str, Any]]:
    """Every bet the strategy takes, in kickoff order, with its flat and Kelly results."""
    bets = []
    bankroll = options.bankroll
    for match in sorted(matches, key=lambda m: (m.kickoff_ms, m.home, m.away, m.id)):
        opening = _moneyline(match, "opening")
        fair = _sharp_line(opening, options.method)
        if opening is None or fair is None:
            continue
        closing = _sharp_line(_moneyline(match, "closing"), options.method)
        score = match.score(MONEYLINE)
        for o, selection in enumerate(SELECTIONS):
            # Named books, and the extra-leagues layout's market maximum (a price at some book): the best.
            prices = {**opening.prices[o], **(opening.pseudo[o] if opening.pseudo else {})}
            offers = {
                book: 1 + (price - 1) * (1 - options.commission.get(book, 0.0))
                for book, price in prices.items() if book != SHARP
            }
            if not offers:
                continue
            book = max(offers, key=lambda b: (offers[b], b))
            price, effective = prices[book], offers[book]
            ev = fair[o] * effective - 1
            if ev * 100 < options.min_ev:
                continue
            won = None if score is None else outcome(MONEYLINE, None, selection, *score, True) == WON
            stake = kelly_stake(ev / (effective - 1), bankroll, options.kelly_fraction, options.kelly_cap)
            kelly_profit = None if won is None else (stake * (effective - 1) if won else -stake)
            bankroll += kelly_profit or 0.0
            bets.append({
                "date": match.date,
                "season": match.season,
                "home": match.home,
                "away": match.away,
                "phase": "opening",
                "selection": selection,
                "bookmaker": book,
                "decimal": price,
                "fairProbability": round(fair[o], 6),
                "ev": round(ev * 100, 4),
                "clv": None if closing is None else round((closing[o] * effective - 1) * 100, 4),
                "won": won,
                "flatProfit": None if won is None else round(effective - 1 if won else -1.0, 4),
                "kellyStake": round(stake, 2),
                "kellyProfit": None if kelly_profit is None else round(kelly_profit, 2),
            })
    return bets


def summary(bets: Sequence[Mapping[str, Any]], start: float) -> dict[str, Any]:
    settled = [b for b in bets if b["won"] is not None]
    flat = sum(b["flatProfit"] for b in settled)
    bankroll, peak, drawdown = start, start, 0.0
    for b in settled:
        bankroll += b["kellyProfit"]
        peak = max(peak, bankroll)
        drawdown = max(drawdown, (peak - bankroll) / peak * 100 if peak > 0 else 0.0)
    clvs = [b["clv"] for b in bets if b["clv"] is not None]
    return {
        "bets": len(bets),
        "won": sum(1 for b in settled if b["won"]),
        "flat": {"staked": float(len(settled)), "profit": round(flat, 4),
                 "roi": round(flat / len(settled) * 100, 4) if settled else None},
        "kelly": {"start": start, "end": round(bankroll, 2), "maxDrawdown": round(drawdown, 4)},
        "clv": {"mean": round(sum(clvs) / len(clvs), 4) if clvs else None,
                "positiveShare": round(sum(1 for c in clvs if c > 0) / len(clvs), 4) if clvs else None},
    }


def run(paths: Sequence[str], options: ValueOptions, strict: bool = False) -> dict[str, Any]:
    seasons = read_seasons(paths, strict)
    matches = [m for s in seasons for m in s.matches]
    bets = value_bets(matches, options)
    return {
        "strategy": "value",
        "files": list(paths),
        **sources(seasons),
        "matches": len(matches),
        "bySeason": by_season([(b["season"], b["flatProfit"]) for b in bets]),
        "method": options.method,
        "minEv": options.min_ev,
        "bets": bets,
        "summary": summary(bets, options.bankroll),
    }


def render(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"files:      {', '.join(report['files'])}",
        *render_sources(report),
        f"matches:    {report['matches']}  de-vig {report['method']}  min EV {report['minEv']}%",
        f"bets:       {s['bets']} (won {s['won']})",
        f"flat:       staked {s['flat']['staked']:g} units, profit {s['flat']['profit']:+.2f}, roi {s['flat']['roi']}%",
        f"kelly:      {s['kelly']['start']:g} -> {s['kelly']['end']:g}, max drawdown {s['kelly']['maxDrawdown']}%",
        f"clv:        mean {s['clv']['mean']}%, positive {s['clv']['positiveShare']}",
    ]
    for b in report["bets"][:20]:
        lines.append(f"  {b['date']} {b['home']} v {b['away']} {b['selection']}@{b['bookmaker']} {b['decimal']} "
                     f"ev {b['ev']:.2f}% clv {b['clv']} won {b['won']}")
    if len(report["bets"]) > 20:
        lines.append(f"  ... {len(report['bets']) - 20} more (use --json for all)")
    return "\n".join(lines)
