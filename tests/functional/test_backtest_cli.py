"""`sbws backtest` on a season file with a broken row: it warns and carries on, or stops with --strict."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.helpers import SHARED

SEASONS = sorted((SHARED / "data" / "football-data").glob("*.csv"))


def test_backtest_command_warns_and_carries_on(tmp_path):
    lines = SEASONS[0].read_text(encoding="utf-8-sig").splitlines()
    broken = lines[1].split(",")
    broken[1] = "someday"
    path = tmp_path / "broken.csv"
    path.write_text("\n".join([lines[0], ",".join(broken), *lines[2:]]) + "\n")
    out = subprocess.run([sys.executable, "-m", "sbws", "backtest", str(path), "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["matches"] == 379
    warning = json.loads(out.stderr.strip().splitlines()[0])
    assert warning["event"] == "row_skipped" and warning["line"] == 2 and warning["file"].endswith("broken.csv")
    strict = subprocess.run([sys.executable, "-m", "sbws", "backtest", str(path), "--strict"], capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1 and strict.stderr.startswith("sbws: ") and "broken.csv:2: unreadable date 'someday'" in strict.stderr


# -- the value strategy ---------------------------------------------------------------------
CODES = {"B365": "bet365", "BW": "betwin", "IW": "interwetten", "WH": "williamhill", "VC": "vcbet", "LB": "ladbrokes",
         "1XB": "1xbet", "BV": "betvictor", "CL": "coral", "GB": "gamebookers", "SJ": "stanjames", "SB": "sportingbet",
         "BS": "bluesquare", "SO": "sportingodds", "BF": "betfair_sportsbook", "BFE": "betfair"}
"""The 1X2 bookmaker columns other than Pinnacle's, written out again here so the check does not share the reader."""


def _float(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value > 1 else None


def brute_force_value(path, method, min_ev):
    """The strategy of issue 14 straight from the CSV rows: the bets it must take, keyed by match and selection."""
    import csv

    from tests.reference import ref_devig

    want = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            sharp = [_float(row.get(c) or "") for c in ("PSH", "PSD", "PSA")]
            if None in sharp or sum(1 / d for d in sharp) < 1:
                continue
            fair = ref_devig(method, sharp)
            close = [_float(row.get(c) or "") for c in ("PSCH", "PSCD", "PSCA")]
            closing = None if None in close or sum(1 / d for d in close) < 1 else ref_devig(method, close)
            for o, (suffix, selection, won) in enumerate((("H", "home", "H"), ("D", "draw", "D"), ("A", "away", "A"))):
                offers = {book: p for code, book in CODES.items() if (p := _float(row.get(code + suffix) or ""))}
                if not offers:
                    continue
                best = max(offers.values())
                ev = (fair[o] * best - 1) * 100
                if ev >= min_ev:
                    day = datetime.strptime(row["Date"], "%d/%m/%Y").date().isoformat()
                    key = (day, row["HomeTeam"], row["AwayTeam"], selection)
                    clv = None if closing is None else (closing[o] * best - 1) * 100
                    tied = {b for b, p in offers.items() if p == best}
                    want[key] = (tied, best, fair[o], ev, clv, row["FTR"] == won)
    return want


@pytest.mark.parametrize("method", ["multiplicative", "additive", "power", "shin", "worst"])
def test_value_backtest_matches_brute_force(method, tmp_path):
    report_path = tmp_path / "report.html"
    out = subprocess.run(
        [sys.executable, "-m", "sbws", "backtest", "--strategy", "value", "--devig", method, "--min-ev", "1",
         "--json", "--report", str(report_path), *map(str, SEASONS)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["strategy"] == "value" and len(SEASONS) == 3
    want = {}
    for season in SEASONS:
        want.update(brute_force_value(season, method, 1.0))
    got = {(b["date"], b["home"], b["away"], b["selection"]): b for b in report["bets"]}
    assert set(got) == set(want) and want
    for key, (books, price, fair, ev, clv, won) in want.items():
        bet = got[key]
        assert bet["bookmaker"] in books and bet["decimal"] == price and bet["won"] == won
        assert bet["fairProbability"] == pytest.approx(fair, abs=1e-6)
        assert bet["ev"] == pytest.approx(ev, abs=1e-4)
        assert (bet["clv"] is None) == (clv is None) and (clv is None or bet["clv"] == pytest.approx(clv, abs=1e-4))
        assert bet["flatProfit"] == pytest.approx(price - 1 if won else -1.0, abs=1e-4)
    summary = report["summary"]
    assert summary["bets"] == len(want) and summary["won"] == sum(1 for w in want.values() if w[5])
    assert summary["flat"]["profit"] == pytest.approx(sum(w[1] - 1 if w[5] else -1 for w in want.values()), abs=1e-3)
    kelly_end = summary["kelly"]["start"] + sum(b["kellyProfit"] for b in report["bets"])
    assert summary["kelly"]["end"] == pytest.approx(kelly_end, abs=0.05)
    page = report_path.read_text()
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page.split("<body>")[1]
    assert page.count("<svg") == 2 and 'class="kelly"' in page and "CLV of" in page


def test_team_names_cannot_send_terminal_escapes(tmp_path):
    """Issue 22, item 14: text output strips control characters from what the files say."""
    lines = SEASONS[0].read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    home = header.index("HomeTeam")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        cells[home] = "\x1b]0;pwned\x07\x1b[2J" + cells[home]
        rows.append(",".join(cells))
    path = tmp_path / "crafted.csv"
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    out = subprocess.run([sys.executable, "-m", "sbws", "backtest", str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "]0;pwned" in out.stdout, "the row's name is still shown"
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout
