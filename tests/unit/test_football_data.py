"""Known answers from real data: every football-data.co.uk season in ../shared."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import pytest

from engine.arbitrage import ArbConfig
from sbws.backtest import find_opportunities, run
from sbws.feeds.football_data import read_season
from tests.helpers import SHARED

SEASONS = sorted((SHARED / "data" / "football-data").glob("*.csv"))
CODES = ("B365", "BW", "IW", "PS", "WH", "VC")  # the bookmaker columns these files carry; Max/Avg are not books


def brute_force(path) -> set[tuple[str, str, str, str]]:
    """Try every combination of one bookmaker per outcome; keep (date, home, phase, type) with S < 1."""
    found = set()
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            for phase, c in (("opening", ""), ("closing", "C")):
                markets = {
                    "moneyline": [[row.get(f"{code}{c}{o}") for code in CODES] for o in "HDA"],
                    "total": [[row.get(f"{'P' if code == 'PS' else code}{c}{o}2.5") for code in CODES] for o in "><"],
                }
                ah_line = row.get("AHCh" if c else "AHh") or ""
                if ah_line and float(ah_line) * 2 == int(float(ah_line) * 2):
                    markets["spread"] = [[row.get(f"{'P' if code == 'PS' else code}{c}AH{o}") for code in CODES] for o in "HA"]
                for kind, outcomes in markets.items():
                    prices = [[float(p) for p in col if p not in (None, "") and float(p) > 1] for col in outcomes]
                    if any(not col for col in prices):
                        continue
                    if any(sum(1 / p for p in combo) < 1 - 1e-9 for combo in itertools.product(*prices)):
                        found.add((row["Date"], row["HomeTeam"], phase, kind))
    return found


@pytest.mark.parametrize("path", SEASONS, ids=[p.name for p in SEASONS])
def test_engine_finds_exactly_the_brute_force_arbitrages(path):
    matches = read_season(path)
    assert len(matches) == 380
    found = find_opportunities(matches, ArbConfig(max_age=0.0, max_edge=100.0))
    engine = {(m.date, m.home, phase, key.market_type) for m, phase, key, _ in found}
    assert engine == brute_force(path)
    assert len(engine) == len(found)  # one opportunity per (match, phase, market)
    for m, phase, key, opp in found:
        payouts = [leg.stake * leg.price for leg in opp.legs]
        assert max(payouts) - min(payouts) < 1e-9
        assert sum(leg.stake for leg in opp.legs) == pytest.approx(100.0)
        assert opp.profit == pytest.approx(payouts[0] - 100.0)


def test_reader_reads_every_market_kind():
    kinds = {(phase, mk.market_type) for m in read_season(SEASONS[0]) for phase, ms in m.phases.items() for mk in ms}
    assert kinds == {(p, t) for p in ("opening", "closing") for t in ("moneyline", "total", "spread")}


def test_reader_follows_the_header(tmp_path):
    """An older layout: Ladbrokes present, no Pinnacle, no Asian handicap, no closing odds."""
    path = tmp_path / "old.csv"
    path.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,B365H,B365D,B365A,LBH,LBD,LBA,MaxH,MaxD,MaxA\n"
        "E0,14/08/04,Aston Villa,Southampton,2,0,2.2,3.2,3.6,1.9,3.1,4.2,9,9,9\n"
    )
    [m] = read_season(path)
    [ml] = m.phases["opening"]
    assert m.phases["closing"] == ()
    assert ml.prices[0] == {"bet365": 2.2, "ladbrokes": 1.9} and ml.prices[2] == {"bet365": 3.6, "ladbrokes": 4.2}
    assert m.home_goals == 2 and m.away_goals == 0


def test_backtest_json_counts_equal_brute_force():
    out = subprocess.run([sys.executable, "-m", "sbws", "backtest", "--json", *map(str, SEASONS)], capture_output=True,
                         text=True, timeout=120, check=True)
    report = json.loads(out.stdout)
    expected = set().union(*(brute_force(p) for p in SEASONS))
    assert report["matches"] == 1140 and report["markets"] > 1140 * 2
    assert len(report["opportunities"]) == len(expected)
    got = {(o["date"], o["home"], o["phase"], o["marketType"]) for o in report["opportunities"]}
    assert got == expected
    o = report["opportunities"][0]
    assert set(o) >= {"date", "home", "away", "phase", "marketType", "line", "edge", "roi", "legs"}
    assert set(o["legs"][0]) >= {"bookmaker", "selection", "decimal"}
    # Taking every opportunity never loses money (each settles to a non-negative profit).
    assert all(x["profit"] >= -1e-6 for x in report["opportunities"])
    assert report["profit"] > 0


def test_backtest_commission_and_rounding_apply():
    base = run([str(SEASONS[0])], ArbConfig(max_age=0.0))
    with_commission = run([str(SEASONS[0])], ArbConfig(max_age=0.0, commission={"pinnacle": 0.05}))
    rounded = run([str(SEASONS[0])], ArbConfig(max_age=0.0, stake_rounding=5.0))
    assert len(with_commission["opportunities"]) < len(base["opportunities"])
    assert len(rounded["opportunities"]) <= len(base["opportunities"])
    for o in rounded["opportunities"]:
        assert all(abs(leg["stake"] / 5 - round(leg["stake"] / 5)) < 1e-9 for leg in o["legs"])
