"""`sbws backtest` on a season file with a broken row: it warns and carries on, or stops with --strict."""

from __future__ import annotations

import json
import subprocess
import sys

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
