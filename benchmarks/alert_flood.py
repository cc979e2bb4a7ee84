"""Bet latency on the SQLite ledger while alerts flood it: alone, under the flood, and under the flood with
alert writes as ordinary writes (how they were before the ledger's lanes).

    python benchmarks/alert_flood.py [--seconds 5] [--alerts 500] [--body 2000] [--json]

One client places bets one after another (each committed with synchronous=FULL before the next); a flood
task keeps the ledger's background lane full of alert writes of ``--alerts`` alerts of ``--body`` bytes each
(one alert tick of many rules), as fast as the ledger takes them.  Prints bet latency p50/p99/max and the
alerts stored per second in each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbws.errors import LedgerUnavailable  # noqa: E402
from sbws.ledger import plans  # noqa: E402
from sbws.ledger.factory import open_ledger  # noqa: E402
from sbws.ledger.models import AlertRecord, NewBet, NewRule  # noqa: E402


def bet(user_id: str, ref: str) -> NewBet:
    return NewBet(user_id=user_id, client_ref=ref, market_id="ev:moneyline", event_id="ev", market_type="moneyline",
                  line=None, three_way=False, selection_id="home", bookmaker="pinnacle", stake_cents=1000, odds=120,
                  requested_odds=120, notes="")


async def run(mode: str, seconds: float, alerts: int, body: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = await open_ledger(str(Path(tmp) / "bench.db"))
        user = await ledger.add_user("alice")
        rule = await ledger.add_rule(NewRule(user, "steam"), 10)
        assert rule is not None
        stored = 0
        stop = time.perf_counter() + seconds

        async def flood(lane: int) -> None:
            nonlocal stored
            n = 0
            while time.perf_counter() < stop:
                records = [AlertRecord(f"alr_{lane}_{n}_{i}", rule.id, user, "steam", "s", b"x" * body, i)
                           for i in range(alerts)]
                n += 1
                plan = plans.add_alerts(records)
                if mode == "flood-as-bets":
                    plan = plans.Plan(plan.steps, True)  # an ordinary write, as before the lanes
                try:
                    await ledger.driver.run(plan)
                    stored += alerts
                except LedgerUnavailable:
                    await asyncio.sleep(0.01)

        floods = [asyncio.create_task(flood(k)) for k in range(8 if mode != "alone" else 0)]
        latencies: list[float] = []
        i = 0
        started = time.perf_counter()
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await ledger.place_bet(bet(user, f"ref-{i}"))
            latencies.append((time.perf_counter() - t0) * 1000)
            i += 1
        await asyncio.gather(*floods)
        elapsed = time.perf_counter() - started
        await ledger.close()
    latencies.sort()
    return {"bets": len(latencies), "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2), "max_ms": round(latencies[-1], 2),
            "alerts_per_s": round(stored / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--body", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {mode: asyncio.run(run(mode, args.seconds, args.alerts, args.body))
               for mode in ("alone", "flood", "flood-as-bets")}
    if args.json:
        print(json.dumps(results))
        return
    print(f"{'run':<15}{'bets':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'alerts/s':>10}")
    for mode, r in results.items():
        print(f"{mode:<15}{r['bets']:>7}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}{r['alerts_per_s']:>10}")


if __name__ == "__main__":
    main()
