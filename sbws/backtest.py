"""Backtest: run historical football-data.co.uk seasons through the engine.

Every match is priced twice (opening and closing odds).  For each phase the
whole season goes onto one quote board and is scanned in one vectorized pass.
Each opportunity is then "taken" with the engine's stakes for a fixed total
stake and settled against the real result, so the report says what the
strategy would have returned, not just how many edges there were.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.arbitrage import ArbConfig, Opportunity, Scanner
from engine.board import Quote, QuoteBoard
from engine.markets import MarketKey

from .ledger.models import PUSH, VOID, WON
from .ledger.rules import outcome
from .feeds.football_data import PHASES, Match, read_seasons
from .season_report import by_season, render_sources, sources


def find_opportunities(matches: Sequence[Match], config: ArbConfig) -> list[tuple[Match, str, MarketKey, Opportunity]]:
    found = []
    for phase in PHASES:
        board = QuoteBoard(market_capacity=max(16, 4 * len(matches)))
        owner: dict[str, tuple[Match, MarketKey]] = {}
        quotes: list[Quote] = []
        for match in matches:
            for market in match.phases.get(phase, ()):
                key = MarketKey(match.id, market.market_type, market.line, market.three_way)
                board.add_market(key)
                owner[key.id] = (match, key)
                for o, prices in enumerate(market.prices):
                    quotes.extend(Quote(key.id, o, book, price, 0.0) for book, price in prices.items())
        board.update(quotes)
        for opp in Scanner(board, config).scan(now=0.0):
            match, key = owner[opp.market_id]
            found.append((match, phase, key, opp))
    return found


def settle_opportunity(match: Match, key: MarketKey, opp: Opportunity) -> float | None:
    """Net profit of taking the opportunity, or None when the result is unknown."""
    score = match.score(key.market_type)
    if score is None:
        return None
    paid = 0.0
    for leg in opp.legs:
        status = outcome(key.market_type, key.line, key.outcomes[leg.outcome], *score, key.three_way)
        if status == WON:
            paid += leg.stake * leg.effective
        elif status in (PUSH, VOID):
            paid += leg.stake
    return paid - sum(leg.stake for leg in opp.legs)


def run(paths: Sequence[str], config: ArbConfig, strict: bool = False) -> dict[str, Any]:
    seasons = read_seasons(paths, strict)
    matches = [m for s in seasons for m in s.matches]
    found = find_opportunities(matches, config)
    markets = sum(len(ms) for m in matches for ms in m.phases.values())
    edges = np.array([opp.edge for _, _, _, opp in found]) if found else np.zeros(0)
    books: Counter[str] = Counter(leg.book for _, _, _, opp in found for leg in opp.legs)
    profits = [settle_opportunity(m, k, o) for m, _, k, o in found]
    settled = [p for p in profits if p is not None]
    staked = config.total_stake * len(settled)
    opportunities = [
        {
            "date": m.date,
            "home": m.home,
            "away": m.away,
            "phase": phase,
            "marketType": key.market_type,
            "line": key.line,
            "edge": round(opp.edge, 6),
            "roi": round(opp.roi, 6),
            "suspect": opp.suspect,
            "suspectReason": opp.suspect_reason,
            "profit": None if profit is None else round(profit, 4),
            "legs": [
                {"bookmaker": leg.book, "selection": key.outcomes[leg.outcome], "decimal": leg.price, "stake": round(leg.stake, 4)}
                for leg in opp.legs
            ],
        }
        for (m, phase, key, opp), profit in zip(found, profits)
    ]
    return {
        "files": list(paths),
        **sources(seasons),
        "matches": len(matches),
        "bySeason": by_season([(m.season, p) for (m, _, _, _), p in zip(found, profits)]),
        "markets": markets,
        "opportunities": opportunities,
        "byMarketType": dict(Counter(o["marketType"] for o in opportunities)),
        "byPhase": dict(Counter(o["phase"] for o in opportunities)),
        "edge": {
            "min": float(edges.min()) if edges.size else None,
            "median": float(np.median(edges)) if edges.size else None,
            "p90": float(np.percentile(edges, 90)) if edges.size else None,
            "max": float(edges.max()) if edges.size else None,
            "buckets": {
                label: int(((edges >= lo) & (edges < hi)).sum())
                for label, lo, hi in (("<0.5%", 0, 0.5), ("0.5-1%", 0.5, 1), ("1-2%", 1, 2), ("2-5%", 2, 5), (">=5%", 5, np.inf))
            },
        },
        "books": dict(books.most_common()),
        "totalStakePerOpportunity": config.total_stake,
        "staked": round(staked, 2),
        "profit": round(sum(settled), 2),
        "roi": round(sum(settled) / staked * 100, 4) if staked else None,
    }


def render(report: dict[str, Any]) -> str:
    e = report["edge"]
    lines = [
        f"files:          {', '.join(report['files'])}",
        *render_sources(report),
        f"matches:        {report['matches']}",
        f"markets:        {report['markets']} (opening and closing prices counted separately)",
        f"opportunities:  {len(report['opportunities'])}  by type {report['byMarketType']}  by phase {report['byPhase']}",
    ]
    if e["max"] is not None:
        lines.append(f"edge %:         min {e['min']:.3f}  median {e['median']:.3f}  p90 {e['p90']:.3f}  max {e['max']:.3f}")
        lines.append(f"edge buckets:   {e['buckets']}")
        lines.append(f"books in legs:  {report['books']}")
        lines.append(
            f"taking all at {report['totalStakePerOpportunity']:g} each: staked {report['staked']:.2f}, "
            f"profit {report['profit']:.2f}, roi {report['roi']}%"
        )
    for o in report["opportunities"][:20]:
        legs = ", ".join(f"{leg['selection']}@{leg['bookmaker']} {leg['decimal']}" for leg in o["legs"])
        lines.append(f"  {o['date']} {o['home']} v {o['away']} [{o['phase']}] {o['marketType']} {o['line'] or ''} edge {o['edge']:.3f}%: {legs}")
    if len(report["opportunities"]) > 20:
        lines.append(f"  ... {len(report['opportunities']) - 20} more (use --json for all)")
    return "\n".join(lines)
