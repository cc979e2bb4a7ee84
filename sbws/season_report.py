"""What the backtests report about their files and seasons, shared by both strategies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .feeds.football_data import Season


def by_season(rows: Sequence[tuple[str, float | None]]) -> dict[str, dict[str, Any]]:
    """Per season (a file of the extra-leagues layout spans many): how many, and what they returned."""
    out: dict[str, dict[str, Any]] = {}
    for season, profit in rows:
        entry = out.setdefault(season, {"count": 0, "settled": 0, "profit": 0.0})
        entry["count"] += 1
        if profit is not None:
            entry["settled"] += 1
            entry["profit"] = round(entry["profit"] + profit, 4)
    return dict(sorted(out.items()))


def sources(seasons: Sequence[Season]) -> dict[str, Any]:
    """How each file was read, for the report: layout, encoding, convention, seasons, skips."""
    reports = [s.report() for s in seasons]
    return {"sources": reports, "conventions": sorted({r["convention"] for r in reports if r["convention"]})}


def render_sources(report: Mapping[str, Any]) -> list[str]:
    """One line per file (how it was read, what was skipped and why), then one per season."""
    lines = []
    for s in report["sources"]:
        if s["problem"]:
            lines.append(f"  {s['file']}: not used: {s['problem']}")
            continue
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(s["skipped"].items())) or "none"
        ignored = ", ".join(f"{n} {reason}" for reason, n in sorted(s["ignoredPrices"].items()))
        lines.append(f"  {s['file']}: {s['layout']} layout, {s['encoding']}, {s['matches']} matches "
                     f"({s['fixtures']} without a result), rows skipped: {skipped}"
                     + (f", prices ignored: {ignored}" if ignored else ""))
        lines.extend(f"    note: {note}" for note in s["notes"])
    for convention in report["conventions"]:
        lines.append(f"books:          {convention}")
    for season, entry in report["bySeason"].items():
        lines.append(f"  season {season or '?'}: {entry['count']} ({entry['settled']} settled), "
                     f"profit {entry['profit']:+.2f}")
    return lines
