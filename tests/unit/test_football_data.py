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
from sbws.errors import FeedError
from sbws.feeds.football_data import read_season
from tests.helpers import SHARED

SEASONS = sorted((SHARED / "data" / "football-data").glob("*.csv"))
CODES = ("B365", "BW", "IW", "PS", "WH", "VC")  # the bookmaker columns these files carry; Max/Avg are not books


def iso(date: str) -> str:
    day, month, year = date.split("/")
    return f"{int(year) + (2000 if len(year) == 2 else 0):04d}-{int(month):02d}-{int(day):02d}"


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
                        found.add((iso(row["Date"]), row["HomeTeam"], phase, kind))
    return found


@pytest.mark.parametrize("path", SEASONS, ids=[p.name for p in SEASONS])
def test_engine_finds_exactly_the_brute_force_arbitrages(path):
    matches = read_season(path).matches
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
    kinds = {(phase, mk.market_type) for m in read_season(SEASONS[0]).matches for phase, ms in m.phases.items() for mk in ms}
    assert kinds == {(p, t) for p in ("opening", "closing") for t in ("moneyline", "total", "spread")}


def test_reader_follows_the_header(tmp_path):
    """An older layout: Ladbrokes present, no Pinnacle, no Asian handicap, no closing odds."""
    path = tmp_path / "old.csv"
    path.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,B365H,B365D,B365A,LBH,LBD,LBA,MaxH,MaxD,MaxA\n"
        "E0,14/08/04,Aston Villa,Southampton,2,0,2.2,3.2,3.6,1.9,3.1,4.2,9,9,9\n"
    )
    [m] = read_season(path).matches
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


def test_every_date_format_in_circulation_reads_the_same(tmp_path):
    source = SEASONS[0].read_text(encoding="utf-8-sig").splitlines()
    header, first = source[0], source[1].split(",")
    day, month, year = first[1].split("/")
    variants = {f"{day}/{month}/{year}", f"{day}/{month}/{year[-2:]}", f"{day}-{month}-{year}",
                f"{day}-{month}-{year[-2:]}", f"{year}-{month}-{day}"}
    dates = set()
    for n, variant in enumerate(sorted(variants)):
        path = tmp_path / f"v{n}.csv"
        path.write_text("\n".join([header, ",".join([first[0], variant, *first[2:]])]) + "\n")
        [match] = read_season(path).matches
        dates.add((match.date, match.kickoff_ms, match.id.split("-")[0]))
    assert dates == {(f"{year}-{month}-{day}", read_season(SEASONS[0]).matches[0].kickoff_ms, "fd")}


def test_an_unreadable_row_is_skipped_with_its_line_unless_strict(tmp_path, capsys):
    lines = SEASONS[0].read_text(encoding="utf-8-sig").splitlines()
    broken = lines[2].split(",")
    broken[1] = "31/02/2023"
    path = tmp_path / "broken.csv"
    path.write_text("\n".join([lines[0], lines[1], ",".join(broken), lines[3]]) + "\n")
    assert len(read_season(path).matches) == 2
    with pytest.raises(FeedError, match=r"broken.csv:3: unreadable date '31/02/2023'"):
        read_season(path, strict=True)
    report = run([str(path)], ArbConfig(max_age=0.0))
    assert report["matches"] == 2 and all(o["date"].count("-") == 2 for o in report["opportunities"])


def test_a_single_book_arbitrage_in_a_season_is_flagged_not_recommended(tmp_path):
    lines = SEASONS[0].read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    for code in CODES:  # every other book well below, one book at 2.9 / 3.6 / 2.65 (S = 0.99996)
        for outcome, price in zip("HDA", ("1.5", "2.0", "1.5")):
            for prefix in ("", "C"):
                if f"{code}{prefix}{outcome}" in header:
                    row[header.index(f"{code}{prefix}{outcome}")] = price
    for outcome, price in zip("HDA", ("2.9", "3.6", "2.65")):
        row[header.index(f"BW{outcome}")] = price
    path = tmp_path / "one-book.csv"
    path.write_text("\n".join([lines[0], ",".join(row)]) + "\n")
    [opp] = [o for o in run([str(path)], ArbConfig(max_age=0.0))["opportunities"] if o["marketType"] == "moneyline"]
    assert {leg["bookmaker"] for leg in opp["legs"]} == {"betwin"}
    assert opp["suspect"] is True and opp["suspectReason"] == "single book"
