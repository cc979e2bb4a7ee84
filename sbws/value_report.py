"""The value backtest as one self-contained HTML page: inline SVG charts, no script, no CDN."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 760, 260, 40


def _scale(values: Sequence[float], lo_px: float, hi_px: float) -> tuple[float, float, Any]:
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    return lo, hi, lambda v: hi_px - (v - lo) / (hi - lo) * (hi_px - lo_px)


def profit_chart(bets: Sequence[Mapping[str, Any]], start: float) -> str:
    """Cumulative profit, flat (units) and Kelly (percent of the starting bankroll), bet by bet."""
    settled = [b for b in bets if b["won"] is not None]
    flat, kelly = [0.0], [0.0]
    for b in settled:
        flat.append(flat[-1] + b["flatProfit"])
        kelly.append(kelly[-1] + b["kellyProfit"] / start * 100)
    lo, hi, y = _scale(flat + kelly, PAD, HEIGHT - PAD)
    n = max(len(flat) - 1, 1)

    def points(series: list[float]) -> str:
        return " ".join(f"{PAD + i / n * (WIDTH - 2 * PAD):.1f},{y(v):.1f}" for i, v in enumerate(series))

    zero = y(0.0)
    return (
        f'<svg role="img" aria-label="cumulative profit" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#999" stroke-dasharray="4"/>'
        f'<polyline class="flat" fill="none" stroke="#1f77b4" stroke-width="1.5" points="{points(flat)}"/>'
        f'<polyline class="kelly" fill="none" stroke="#d62728" stroke-width="1.5" points="{points(kelly)}"/>'
        f'<text x="{PAD}" y="16">max {hi:+.1f}</text><text x="{PAD}" y="{HEIGHT - 8}">min {lo:+.1f}</text>'
        f'<text x="{WIDTH - PAD}" y="16" text-anchor="end" fill="#1f77b4">flat, units ({flat[-1]:+.2f})</text>'
        f'<text x="{WIDTH - PAD}" y="32" text-anchor="end" fill="#d62728">Kelly, % of bankroll ({kelly[-1]:+.2f})</text>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{len(settled)} settled bets in kickoff order</text>'
        "</svg>"
    )


def clv_chart(bets: Sequence[Mapping[str, Any]], bins: int = 24) -> str:
    """How the bets' closing line values spread: one bar per CLV range, beaten closes right of zero."""
    clvs = [b["clv"] for b in bets if b["clv"] is not None]
    if not clvs:
        return "<p>No bet has a Pinnacle closing price.</p>"
    lo, hi = min(clvs + [0.0]), max(clvs + [0.0])
    width = (hi - lo) / bins or 1.0
    counts = [0] * bins
    for c in clvs:
        counts[min(int((c - lo) / width), bins - 1)] += 1
    bar = (WIDTH - 2 * PAD) / bins
    top = max(counts)
    rects = []
    for i, count in enumerate(counts):
        h = count / top * (HEIGHT - 2 * PAD)
        colour = "#2ca02c" if lo + (i + 0.5) * width > 0 else "#d62728"
        rects.append(f'<rect x="{PAD + i * bar:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                     f'fill="{colour}"><title>{lo + i * width:+.2f}% to {lo + (i + 1) * width:+.2f}%: {count}</title></rect>')
    zero_x = PAD + (0 - lo) / (hi - lo or 1) * (WIDTH - 2 * PAD)
    return (
        f'<svg role="img" aria-label="CLV distribution" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        + "".join(rects)
        + f'<line x1="{zero_x:.1f}" x2="{zero_x:.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>'
        f'<text x="{PAD}" y="{HEIGHT - 8}">{lo:+.1f}%</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{hi:+.1f}%</text>'
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle">CLV of {len(clvs)} bets (0 marked)</text>'
        "</svg>"
    )


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def page(report: Mapping[str, Any]) -> str:
    s = report["summary"]
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(b['date'])}</td><td>{e(b['home'])} v {e(b['away'])}</td><td>{e(b['selection'])}</td>"
        f"<td>{e(b['bookmaker'])}</td><td>{b['decimal']}</td><td>{b['ev']:.2f}</td>"
        f"<td>{_cell(b['clv'])}</td><td>{'' if b['won'] is None else ('won' if b['won'] else 'lost')}</td></tr>"
        for b in report["bets"]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>sbws value backtest</title>
<style>body{{font:14px system-ui,sans-serif;margin:24px;max-width:820px}}table{{border-collapse:collapse;font-size:12px}}
td,th{{padding:2px 6px;border-bottom:1px solid #eee;text-align:left}}svg{{display:block;margin:8px 0 24px}}
.k{{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}}.k div{{background:#f4f4f4;padding:8px}}</style></head>
<body><h1>Value backtest</h1>
<p>{e(', '.join(report['files']))}: {report['matches']} matches; fair line Pinnacle opening, de-vig {e(report['method'])},
min EV {report['minEv']}%.</p>
<div class="k"><div>bets <b>{s['bets']}</b> (won {s['won']})</div>
<div>flat profit <b>{s['flat']['profit']:+.2f}</b> units, ROI {s['flat']['roi']}%</div>
<div>Kelly {s['kelly']['start']:g} → <b>{s['kelly']['end']:g}</b>, max drawdown {s['kelly']['maxDrawdown']}%</div>
<div>mean CLV <b>{s['clv']['mean']}%</b>, beat the close {s['clv']['positiveShare']}</div></div>
<h2>Cumulative profit</h2>{profit_chart(report['bets'], s['kelly']['start'])}
<h2>Closing line value</h2>{clv_chart(report['bets'])}
<h2>Bets</h2><table><tr><th>date</th><th>match</th><th>selection</th><th>book</th><th>price</th><th>EV %</th>
<th>CLV %</th><th>result</th></tr>{rows}</table></body></html>
"""
