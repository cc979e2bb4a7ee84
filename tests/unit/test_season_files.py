"""Season files as they come (issue 25): encodings, spreadsheet times, both layouts, every division, results,
files that read nothing, and bytes that must never raise past the CLI.  The fixtures are real rows of the
shared seasons, transformed (re-encoded, times rewritten, columns renamed to the extra-leagues layout)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.arbitrage import ArbConfig
from sbws import backtest, value_backtest
from sbws.cli import main
from sbws.errors import ConfigError, FeedError
from sbws.feeds.football_data import EXTRA, MAIN, PSEUDO_BOOK, parse_time, read_season, read_seasons
from sbws.feeds.replay import SeasonReplay
from sbws.feeds.text import decode_lines
from tests.helpers import SHARED

SEASONS = sorted((SHARED / "data" / "football-data").glob("*.csv"))
VALUE = value_backtest.ValueOptions()
NAMED = ("B365", "BW", "IW", "WH", "VC")
"""The 1X2 books of the shared seasons besides Pinnacle."""


def rows(path: Path) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    return table[0], [r for r in table[1:] if r]


def write(path: Path, header: list[str], body: list[list[str]], encoding: str = "utf-8") -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *body])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def same_results(a: dict, b: dict) -> None:
    """Two reports agree on everything the strategy found (not on how their files were read)."""
    for key in ("sources", "conventions", "files"):
        a.pop(key), b.pop(key)
    assert a == b


# -- encodings ---------------------------------------------------------------------------------------------
def test_each_encoding_is_detected_per_file_and_every_row_reads(tmp_path):
    header, body = rows(SEASONS[0])
    referee = header.index("Referee")
    body = [list(r) for r in body]
    body[0][referee] = "Jos\u00e9\u00a0Mar\u00eda"  # a non-breaking space: byte 0xA0 in Latin-1
    body[1][header.index("HomeTeam")] = "M\u00fcnster"
    latin = write(tmp_path / "latin.csv", header, body, "cp1252")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + write(tmp_path / "plain.csv", header, body).read_bytes())
    mixed = tmp_path / "mixed.csv"
    lines = (tmp_path / "plain.csv").read_bytes().split(b"\r\n")
    lines[1] = lines[1].replace("Jos\u00e9\u00a0Mar\u00eda".encode(), "Jos\u00e9\u00a0Mar\u00eda".encode("cp1252"))
    mixed.write_bytes(b"\r\n".join(lines))
    want = read_season(SEASONS[0])
    for path, encoding in ((latin, "windows-1252"), (bom, "utf-8 with BOM"), (tmp_path / "plain.csv", "utf-8"),
                           (mixed, "utf-8, 1 line windows-1252")):
        season = read_season(path)
        assert season.encoding == encoding and len(season.matches) == len(want.matches), path.name
        assert season.matches[1].home == "M\u00fcnster" and not season.skipped
        assert [m.phases for m in season.matches] == [m.phases for m in want.matches]


def test_decoding_keeps_every_line_and_drops_nul_bytes():
    lines, encoding = decode_lines(b"a,b\r\nc\x00,d\n\xa0,e\r")
    assert lines == ["a,b", "c,d", "\u00a0,e"] and encoding == "windows-1252"
    assert decode_lines(b"\x81\x8d") == (["\x81\x8d"], "windows-1252")  # undefined in cp1252: Latin-1


# -- times -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, want", [
    ("15:00", (15, 0)), ("9:05", (9, 5)), ("15", (15, 0)), ("17.3", (17, 30)), ("20.15", (20, 15)),
    ("12.3", (12, 30)), ("17.05", (17, 5)), ("7", (7, 0)), ("19:45:00", (19, 45)),
    ("24:00", None), ("12:60", None), ("12:3", None), ("tea", None), ("", None), ("1.234", None),
])
def test_times_in_every_form_a_spreadsheet_leaves(text, want):
    assert parse_time(text) == want


def test_spreadsheet_times_read_as_the_original_and_unreadable_ones_fall_back_to_the_date(tmp_path):
    header, body = rows(SEASONS[0])
    at = header.index("Time")
    spreadsheet = {"15:00": "15", "17:30": "17.3", "20:15": "20.15", "12:30": "12.3", "19:45": "19.45"}
    converted = [[*r[:at], spreadsheet.get(r[at], r[at].replace(":", ".")), *r[at + 1:]] for r in body]
    want = read_season(SEASONS[0]).matches
    got = read_season(write(tmp_path / "times.csv", header, converted)).matches
    assert [(m.kickoff_ms, m.home, m.away) for m in got] == [(m.kickoff_ms, m.home, m.away) for m in want]
    broken = [[*r[:at], "after lunch" if i % 2 else r[at], *r[at + 1:]] for i, r in enumerate(body)]
    season = read_season(write(tmp_path / "broken.csv", header, broken))
    assert len(season.matches) == len(want) and not season.skipped
    assert len([n for n in season.notes if "times could not be read" in n]) == 1
    assert season.matches[1].kickoff_ms == season.matches[1].kickoff_ms // 86_400_000 * 86_400_000


# -- layouts -----------------------------------------------------------------------------------------------
def extra_leagues(header: list[str], body: list[list[str]], season: str) -> tuple[list[str], list[list[str]]]:
    """The main layout's rows in the extra-leagues layout: Pinnacle as PH/PD/PA and PSCH…, the market maximum of
    the other named books as MaxH…, their average as AvgH…, bet365's closing as B365CH…."""
    col = {name: i for i, name in enumerate(header)}
    out_header = ["Country", "League", "Season", "Date", "Time", "Home", "Away", "HG", "AG", "Res",
                  "PH", "PD", "PA", "MaxH", "MaxD", "MaxA", "AvgH", "AvgD", "AvgA",
                  "PSCH", "PSCD", "PSCA", "B365CH", "B365CD", "B365CA"]
    out = []
    for r in body:
        line = ["England", "Premier League", season, r[col["Date"]], r[col["Time"]], r[col["HomeTeam"]],
                r[col["AwayTeam"]], r[col["FTHG"]], r[col["FTAG"]], r[col["FTR"]]]
        line += [r[col[f"PS{o}"]] for o in "HDA"]
        others = [[float(r[col[f"{c}{o}"]]) for c in NAMED if r[col[f"{c}{o}"]]] for o in "HDA"]
        line += [repr(max(p)) if p else "" for p in others] + [f"{sum(p) / len(p):.2f}" if p else "" for p in others]
        line += [r[col[f"PSC{o}"]] for o in "HDA"] + [r[col[f"B365C{o}"]] for o in "HDA"]
        out.append(line)
    return out_header, out


def test_the_extra_leagues_layout_spans_seasons_and_bets_the_maximum_against_pinnacle(tmp_path):
    first, second = (rows(p) for p in SEASONS[:2])
    header, body_a = extra_leagues(*first, "2020/2021")
    _, body_b = extra_leagues(*second, "2021/2022")
    path = write(tmp_path / "ENG.csv", header, body_a + body_b, "cp1252")
    season = read_season(path)
    assert season.layout == EXTRA and season.report()["seasons"] == {"2020/2021": 380, "2021/2022": 380}
    [ml] = [m for m in season.matches[0].phases["opening"] if m.market_type == "moneyline"]
    assert set(ml.prices[0]) == {"pinnacle"} and set(ml.pseudo[0]) == {PSEUDO_BOOK}
    assert season.matches[0].league == "England Premier League"
    # Value: the same bets as on the original files, at the maximum of the named books (labelled "max").
    original = value_backtest.run([str(p) for p in SEASONS[:2]], VALUE)
    converted = value_backtest.run([str(path)], VALUE)
    key = ("date", "home", "away", "selection", "decimal", "fairProbability", "ev", "clv", "won", "flatProfit",
           "kellyStake", "kellyProfit", "season")
    assert [{k: b[k] for k in key} for b in converted["bets"]] == [{k: b[k] for k in key} for b in original["bets"]]
    assert {b["bookmaker"] for b in converted["bets"]} == {PSEUDO_BOOK} and len(converted["bets"]) > 20
    assert set(converted["bySeason"]) == {"2020/2021", "2021/2022"}
    assert converted["summary"] == original["summary"]
    assert any("pseudo-book 'max'" in c for c in converted["conventions"])
    # Arbitrage: the maximum is never a leg; Pinnacle opening against bet365 closing are different phases.
    arbs = backtest.run([str(path)], ArbConfig(max_age=0.0))
    assert all(leg["bookmaker"] != PSEUDO_BOOK for o in arbs["opportunities"] for leg in o["legs"])


def test_every_division_and_an_older_main_layout(tmp_path):
    """No Time column, two-digit years, Betbrain aggregates, a book the reader has no name for, and bet365's own
    Asian handicap line: every named book is a book, BbMx/BbAv are not."""
    path = tmp_path / "SP1_0708.csv"
    path.write_text(
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,XYH,XYD,XYA,BbMxH,BbMxD,BbMxA,BbAvH,BbAvD,BbAvA,"
        "B365AH,B365AHH,B365AHA,BbAHh,BbMxAHH,BbMxAHA,GBAHH,GBAHA\n"
        "SP1,26/08/07,Sevilla,Getafe,4,1,H,1.5,3.8,6.0,1.55,3.7,5.5,1.7,4.0,7.0,1.52,3.7,5.8,-1,1.9,1.9,-1.25,2.2,2.2,"
        "1.8,2.0\n"
        "SP1,26/08/07,Betis,Atletico,,,,2.6,3.2,2.7,,,,,,,,,,,,,,,,,\n"
    )
    season = read_season(path)
    assert season.layout == MAIN and not season.skipped
    first, fixture = season.matches
    assert (first.league, first.season, first.date, first.result) == ("La Liga", "2007/2008", "2007-08-26", "H")
    opening = {(m.market_type, m.line): m for m in first.phases["opening"]}
    assert opening[("moneyline", None)].prices[0] == {"bet365": 1.5, "xy": 1.55}
    assert opening[("spread", -1.0)].prices == ({"bet365": 1.9}, {"bet365": 1.9})  # gamebookers is on -1.25
    assert ("spread", -1.25) not in opening  # a quarter line
    assert fixture.result is None and season.fixtures == 1
    assert fixture.phases["opening"][0].prices[1] == {"bet365": 3.2}


def test_results_fixtures_and_a_result_without_a_score(tmp_path):
    header, body = rows(SEASONS[0])
    col = {n: i for i, n in enumerate(header)}
    body = [list(r) for r in body[:4]]
    for c in ("FTHG", "FTAG", "FTR"):
        body[0][col[c]] = ""  # a fixture: priced, never settled
    body[1][col["FTHG"]] = body[1][col["FTAG"]] = ""  # FTR alone: 1X2 settles, totals cannot
    body[2][col["FTR"]] = "H" if body[2][col["FTR"]] != "H" else "A"  # contradicts the score
    season = read_season(write(tmp_path / "results.csv", header, body))
    assert season.fixtures == 1 and season.skipped == {"result contradicts the score": 1}
    fixture, result_only, _fourth = season.matches
    assert fixture.score("moneyline") is None and fixture.phases["opening"]
    assert result_only.score("moneyline") is not None and result_only.score("total") is None


# -- files that read nothing, and input that must never raise ----------------------------------------------
@pytest.mark.parametrize("content, reason", [
    (None, "no such file"),
    ("dir", "is a directory"),
    (b"", "is empty"),
    (b",,,\r\n,,\r\n", "is empty"),
    (b"Div,Date,HomeTeam,AwayTeam,B365H,B365D,B365A\r\n", "has a header and no rows"),
    (b"a,b,c\r\n1,2,3\r\n", "not a football-data.co.uk season file"),
    (b"Div,Date,HomeTeam,AwayTeam,B365H,B365D,B365A\r\nE0,someday,A,B,2,3,4\r\n", "unreadable date"),
    (b"Div,Date,HomeTeam,AwayTeam,B365H,B365D,B365A\r\nE0,01/01/2020,A,B,x,1.0,-2\r\n", "no usable odds"),
])
def test_a_run_that_reads_nothing_is_one_line_and_exit_1(tmp_path, capsys, content, reason):
    path = tmp_path / "season.csv"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    for strategy in ("arbitrage", "value"):
        assert main(["backtest", "--strategy", strategy, str(path)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("sbws: nothing to read: ") and reason in err[-1], err


def test_bad_cells_cost_a_price_or_a_row_never_the_file(tmp_path, capsys):
    """Truncated last row, duplicate columns, non-numeric odds, odds <= 1: counted, the rest is read."""
    header, body = rows(SEASONS[0])
    col = {n: i for i, n in enumerate(header)}
    body = [list(r) for r in body[:5]]
    body[0][col["B365H"]] = "n/a"
    body[1][col["BWD"]] = "0.95"
    body[2][col["IWA"]] = "inf"
    text = write(tmp_path / "x.csv", [*header, "B365H"], body).read_text()
    (tmp_path / "bad.csv").write_text(text[: len(text) - 200])  # cut inside the last row
    season = read_season(tmp_path / "bad.csv")
    assert len(season.matches) == 5 and season.notes == ["duplicate column 'B365H': the first is used"]
    assert season.ignored == {"non-numeric": 1, "odds <= 1 or not finite": 2}
    assert "bet365" not in season.matches[0].phases["opening"][0].prices[0]
    assert main(["backtest", "--json", str(tmp_path / "bad.csv")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sources"][0]["ignoredPrices"] == {"non-numeric": 1, "odds <= 1 or not finite": 2}


def test_skips_are_counted_per_file_and_reason_and_strict_stops_at_the_first(tmp_path, capsys):
    header, body = rows(SEASONS[0])
    body = [list(r) for r in body[:6]]
    body[1][1], body[3][1] = "31/02/2021", "soon"
    path = write(tmp_path / "skips.csv", header, body)
    assert main(["backtest", str(path), str(tmp_path / "missing.csv")]) == 0
    out = capsys.readouterr().out
    assert "rows skipped: 2 unreadable date" in out and "missing.csv: not used: no such file" in out
    with pytest.raises(FeedError, match="skips.csv:3: unreadable date"):
        read_seasons([str(path)], strict=True)


def test_a_replay_reads_season_files_with_the_same_reader(tmp_path):
    header, body = extra_leagues(*rows(SEASONS[0]), "2020/2021")
    replay = SeasonReplay([str(write(tmp_path / "ENG.csv", header, body, "cp1252"))])
    assert len(replay.matches) == 380 and replay.matches[0].league == "England Premier League"
    empty = tmp_path / "empty.csv"
    empty.write_text("Div,Date,HomeTeam,AwayTeam\n")
    with pytest.raises(ConfigError, match="nothing to read: .*has a header and no rows"):
        SeasonReplay([str(empty)])


def test_a_converted_season_gives_the_same_results_as_the_original(tmp_path):
    """Re-encoded to Windows-1252 with spreadsheet times and a BOM-less CRLF file: both strategies agree."""
    header, body = rows(SEASONS[1])
    at = header.index("Time")
    converted = [[*r[:at], r[at].replace(":00", "").replace(":30", ".3").replace(":", "."), *r[at + 1:]]
                 for r in body]
    path = write(tmp_path / "converted.csv", header, converted, "cp1252")
    same_results(backtest.run([str(SEASONS[1])], ArbConfig(max_age=0.0)),
                 backtest.run([str(path)], ArbConfig(max_age=0.0)))
    same_results(value_backtest.run([str(SEASONS[1])], VALUE), value_backtest.run([str(path)], VALUE))


HEADER = rows(SEASONS[0])[0]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(
    st.binary(max_size=3000),
    st.lists(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["", "2.5", "1.0", "-3", "nan", "1e309",
                                                                      "12/09/2020", "15.3", "H", "9"])),
                      max_size=len(HEADER) + 3), max_size=8)
    .map(lambda table: "\r\n".join([",".join(HEADER), *(",".join(r) for r in table)]).encode("utf-8", "replace")),
))
def test_no_bytes_and_no_rows_raise_past_the_cli(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "season.csv"
    path.write_bytes(data)
    for argv in (["backtest", str(path)], ["backtest", "--json", "--strategy", "value", str(path)]):
        assert main(argv) in (0, 1)
