"""Fan-out: how many market updates reach how many sockets, how fast, at what cost.

    python benchmarks/fanout.py [--sockets 100,1000,5000] [--duration 10] [--protocol 1,2] [--json]

For each socket count it starts the server (``sbws serve``, simulator feed
with a fixed seed) and, in separate processes, a load generator that opens
the sockets with a realistic mix of subscriptions and measures, over the
measurement window: frames/s and market updates/s delivered, latency from
the server's publish time (``publishedAt`` in each message) to the client's
receive (p50/p99/max), and the server's CPU and RSS.  The naive baseline
(``benchmarks/naive_server.py``: the seed's per-socket encode-and-send with
default compression) runs the same load in the same run.  Then a
slow-consumer run (10% of sockets stop reading) against the same run
without them, and the memory per idle connection at 10,000 idle sockets.
``--protocol 1,2`` runs sbws with each protocol version in the same run
(v2: ``?v=2``, images and deltas) and reports bytes per market update and
server CPU seconds per million delivered updates beside the other figures.

When ``bun`` is found (on PATH, or ``--bun PATH``; ``npm install bun`` brings
it), the design document's server on Bun (``../shared/anchors/bun-server.ts``)
runs the same socket counts in the same run, once as the document writes it
(``MODE=seed``, a stringify per socket) and once with Bun's native topic
publish (``MODE=publish``): the platform's anchors.  The report says when
they were not run.  Upgrades per second are timed over the connect phase
(each load process opens ``--connect-concurrency`` sockets at a time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer"]
MARKET_ENTRY = re.compile(r'\{"id":"[^"]*:')
"""A v2 delta entry: market ids hold a colon, selection ids never do."""
BOOKS = ["pinnacle", "draftkings", "fanduel", "betmgm", "caesars", "bet365", "williamhill", "pointsbet", "betrivers", "unibet"]


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def subscription(i: int, mix: str = "realistic") -> dict:
    """``realistic``: single sports, sport pairs by market type, book-restricted, totals, arbitrage (about 10
    updates a frame); ``trader``: every sport and arbitrage, as the dashboard subscribes (several times more)."""
    if mix == "trader":
        return {"sports": list(SPORTS), "arbitrage": True}
    kind = i % 20
    sport = SPORTS[i % len(SPORTS)]
    if kind < 7:
        return {"sports": [sport]}
    if kind < 12:
        return {"sports": [sport, SPORTS[(i + 1) % len(SPORTS)]], "marketTypes": ["moneyline", "spread"]}
    if kind < 16:
        return {"sportsbooks": [BOOKS[i % len(BOOKS)], BOOKS[(i + 3) % len(BOOKS)]], "marketTypes": ["moneyline"], "arbitrage": True}
    if kind < 18:
        return {"marketTypes": ["total"], "sports": [sport]}
    return {"arbitrage": True, "sports": [sport]}


# -- load generator (runs in child processes) ------------------------------------------------
def client_main(url: str, indices: list[int], stall: set[int], idle: bool, start_at: float, stop_at: float, out,
                protocol: int = 1, mix: str = "realistic", stamp: str = '"publishedAt":', concurrency: int = 32) -> None:
    raise_nofile()
    import orjson

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    import aiohttp

    async def run() -> None:
        stats = {"frames": 0, "updates": 0, "latencies": [], "connected": 0, "closed": 0, "errors": 0, "update_bytes": 0}
        width = len(stamp)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as http:
            sockets = []

            async def reader(ws) -> None:
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            stats["closed"] += 1
                            return
                        continue
                    now = time.time()
                    if now < start_at:
                        continue
                    if now > stop_at:
                        return
                    stats["frames"] += 1
                    text = msg.data
                    # Cheap on purpose: the generator must not be the bottleneck. Every server puts its
                    # publish time last ("publishedAt"; Bun's "timestamp") and every market has one "eventId".
                    if text.startswith('{"type":"market_update"') or text.startswith('{"type": "market_update"'):
                        at = text.rfind(stamp)
                        if at > 0:
                            if protocol == 2:  # deltas carry only what changed: count the market entries
                                if '"image":true' in text:
                                    continue
                                stats["updates"] += len(MARKET_ENTRY.findall(text))
                            else:
                                stats["updates"] += text.count('"eventId":')
                            stats["update_bytes"] += len(text)
                            stats["latencies"].append(now * 1000 - float(text[at + width:].strip(" }")))

            gate = asyncio.Semaphore(concurrency)
            tasks: list[asyncio.Task] = []

            async def connect(i: int) -> None:
                async with gate:
                    try:
                        ws = await http.ws_connect(url, max_msg_size=0, autoping=True, heartbeat=None)
                    except Exception:
                        stats["errors"] += 1
                        return
                    if not idle:
                        await ws.send_str(orjson.dumps({"type": "subscribe", "payload": subscription(i, mix)}).decode())
                    sockets.append((i, ws))
                    if i not in stall and not idle:  # read at once (what arrives before start_at is not counted)
                        tasks.append(asyncio.create_task(reader(ws)))

            began = time.time()
            await asyncio.gather(*(connect(i) for i in indices))
            stats["connect_began"], stats["connect_ended"] = began, time.time()
            stats["connected"] = len(sockets)
            # A connect phase that runs past the warm-up is measured with the sockets still arriving,
            # so the report flags such a run.
            stats["late_connect_s"] = round(max(0.0, time.time() - start_at), 2)
            await asyncio.sleep(max(0.0, stop_at - time.time()))
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            out.put(stats)  # the figures first: a slow teardown must not lose the run
            # Close every socket at once, and give up after a few seconds: one by one, thousands of close
            # handshakes took minutes at 5,000 sockets and the run was lost.
            closing = asyncio.gather(*(ws.close() for _, ws in sockets), return_exceptions=True)
            try:
                await asyncio.wait_for(closing, 5.0)
            except asyncio.TimeoutError:
                pass

    asyncio.run(run())


# -- the server under test -------------------------------------------------------------------
def tree(pid: int) -> list[int]:
    """The server and its children (``--workers`` runs a supervisor and N processes)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out += tree(int(child))
    return out


def proc_cpu(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def proc_rss(pid: int) -> int:
    total = 0
    for p in tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def start_server(kind: str, port: int, args: argparse.Namespace, workdir: str, n: int) -> subprocess.Popen:
    sim = ["--sim-events", str(args.sim_events), "--sim-tick-ms", str(args.sim_tick_ms), "--seed", "1",
           "--market-interval", str(args.market_interval)]
    if kind == "sbws":
        cmd = [sys.executable, "-m", "sbws", "serve", "--port", str(port), "--db", os.path.join(workdir, f"{port}.db"),
               "--arbitrage-interval", "1", "--heartbeat-interval", "30", "--log-level", args.log_level, *sim,
               # every load-generator socket comes from 127.0.0.1: lift the per-address limit (default 100)
               "--max-connections-per-ip", str(max(100, 2 * n)), "--max-connections", str(max(10_000, 2 * n)),
               # ... and the per-address image budget: every socket subscribes at once
               "--address-snapshots", str(max(20, 10 * n))]
        if args.workers > 1:
            cmd += ["--workers", str(args.workers), "--broker", args.broker]
        if args.compress:
            cmd += ["--compress"]
    elif kind.startswith("bun-"):
        cmd = [args.bun, str(args.bun_server)]
        env = {**os.environ, "PORT": str(port), "MODE": kind[4:], "TICK_MS": str(args.bun_tick_ms),
               "CHANGES": str(args.bun_changes)}
    else:
        cmd = [sys.executable, str(ROOT / "benchmarks" / "naive_server.py"), "--port", str(port), *sim]
    log = open(os.path.join(tempfile.gettempdir(), f"fanout-{kind}-{port}.log"), "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, preexec_fn=raise_nofile, stdout=log, stderr=subprocess.STDOUT,
                            env=env if kind.startswith("bun-") else None)
    return wait_ready(proc, port, kind, "/healthz" if kind.startswith("bun-") else "/readyz")


def wait_ready(proc: subprocess.Popen, port: int, name: str, path: str = "/readyz") -> subprocess.Popen:
    """The started server once ``path`` answers (killed, and an error, after 30 s)."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{name} server did not start")


def bun_load(bun: str, url: str, indices: list[int], start_at: float, stop_at: float, protocol: int, mix: str,
             stamp: str, concurrency: int, idle: bool) -> list[str]:
    """The command of one Bun load process (``benchmarks/fanout_load.ts``), its settings as one JSON argument."""
    config = {"url": url.replace("http://", "ws://"), "indices": indices, "startAt": start_at, "stopAt": stop_at,
              "protocol": protocol, "mix": mix, "stamp": stamp, "concurrency": concurrency, "idle": idle}
    return [bun, str(ROOT / "benchmarks" / "fanout_load.ts"), json.dumps(config)]


def load_generator(args: argparse.Namespace, stalls: bool) -> str:
    """Bun's generator when bun is found (the Python one cannot read 5,000 busy sockets on this machine); the
    Python one with ``--load python``, without bun, and for stalled sockets (a Bun client cannot stop reading)."""
    if args.load == "python" or not args.bun or stalls:
        return "python"
    return "bun"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def scenario(kind: str, n: int, args: argparse.Namespace, stall_share: float = 0.0, idle: bool = False,
             protocol: int = 1) -> dict:
    workdir = tempfile.mkdtemp(prefix="fanout-")
    port = free_port()
    server = start_server(kind, port, args, workdir, n)
    try:
        time.sleep(1.0)
        rss_before = proc_rss(server.pid)
        procs = max(1, min(args.client_procs, n // 50 or 1))
        connect_budget = 5 + n / 1000
        start_at = time.time() + connect_budget + args.warmup
        stop_at = start_at + args.duration
        stall = {i for i in range(n) if stall_share and (i * 7919) % 100 < stall_share * 100}
        url = f"http://127.0.0.1:{port}/ws/sportsbooks" + ("?v=2" if protocol == 2 else "")
        stamp = '"timestamp":' if kind.startswith("bun-") else '"publishedAt":'
        load = load_generator(args, bool(stall))
        queue: mp.Queue = mp.Queue()
        workers: list = []
        for k in range(procs):
            indices = list(range(k, n, procs))
            if load == "bun":
                command = bun_load(args.bun, url, indices, start_at, stop_at, protocol, args.mix, stamp,
                                   args.connect_concurrency, idle)
                workers.append(subprocess.Popen(command, stdout=subprocess.PIPE, preexec_fn=raise_nofile))
            else:
                workers.append(mp.Process(target=client_main, args=(url, indices, stall, idle, start_at, stop_at, queue,
                                                                    protocol, args.mix, stamp, args.connect_concurrency)))
                workers[-1].start()
        time.sleep(max(0.0, start_at - time.time()))
        cpu0, t0 = proc_cpu(server.pid), time.time()
        spy = None
        if args.profile and kind == "sbws":  # where the time goes: py-spy's collapsed stacks of the measured window
            out_file = Path(args.profile) / f"sbws-v{protocol}-{n}.txt"
            out_file.parent.mkdir(parents=True, exist_ok=True)
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--duration", str(int(args.duration)),
                                    "--format", "raw", "--nonblocking", "--rate", "500", "--output", str(out_file)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rss_connected = proc_rss(server.pid)
        rss_peak = rss_connected
        while time.time() < stop_at:
            time.sleep(0.5)
            rss_peak = max(rss_peak, proc_rss(server.pid))
        cpu1, t1 = proc_cpu(server.pid), time.time()
        if spy is not None:
            spy.wait(30)
        if load == "bun":
            results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
        else:
            results = [queue.get(timeout=120) for _ in workers]
            for w in workers:
                w.join(15)
                if w.is_alive():  # its figures are in; its teardown may not hold the run up
                    w.terminate()
    finally:
        pids = tree(server.pid)
        stopping = time.time()
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        exit_s = round(time.time() - stopping, 2)
        left = []
        for pid in pids[1:]:  # --workers children must not outlive the run
            try:
                os.kill(pid, 9)
                left.append(pid)
            except ProcessLookupError:
                pass
        shutil.rmtree(workdir, ignore_errors=True)
    latencies = [x for r in results for x in r["latencies"]]
    frames = sum(r["frames"] for r in results)
    updates = sum(r["updates"] for r in results)
    cpu_seconds = cpu1 - cpu0
    connect_s = max(r["connect_ended"] for r in results) - min(r["connect_began"] for r in results)
    return {
        "server": kind,
        "protocol": protocol,
        "load": load,
        "cpu_us_per_socket_frame": round(cpu_seconds / frames * 1e6, 1) if frames else None,
        "upgrades_per_s": round(sum(r["connected"] for r in results) / connect_s) if connect_s > 0 else None,
        "bytes_per_update": round(sum(r["update_bytes"] for r in results) / updates, 1) if updates else None,
        "cpu_s_per_million_updates": round(cpu_seconds / updates * 1e6, 2) if updates else None,
        "sockets": n,
        "connected": sum(r["connected"] for r in results),
        "stalled": len(stall),
        "closed_by_server": sum(r["closed"] for r in results),
        "connect_overran_s": max(r["late_connect_s"] for r in results),
        "frames_per_s": round(frames / args.duration),
        "updates_per_s": round(updates / args.duration),
        "latency_ms": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2) if latencies else None,
        },
        "server_cpu_percent": round((cpu1 - cpu0) / (t1 - t0) * 100, 1),
        "server_rss_mb": round(rss_connected / 2**20, 1),
        "server_rss_peak_mb": round(rss_peak / 2**20, 1),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "per_connection_kib": round((rss_connected - rss_before) / max(1, n) / 1024, 1) if idle else None,
        "exit_s": exit_s,
        "processes_left_after_sigterm": len(left),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", default="100,1000,5000")
    ap.add_argument("--naive", default="100,1000,5000", help="socket counts for the naive baseline ('' to skip)")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--sim-events", type=int, default=6)
    ap.add_argument("--sim-tick-ms", type=int, default=500)
    ap.add_argument("--market-interval", type=float, default=0.25)
    ap.add_argument("--slow", type=int, default=1000, help="socket count of the slow-consumer comparison (0 skips)")
    ap.add_argument("--idle", type=int, default=10000, help="idle sockets for the memory figure (0 skips)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--broker", default="")
    ap.add_argument("--compress", action="store_true", help="run sbws with per-message deflate")
    ap.add_argument("--log-level", default="warning", help="server log level (logs go to $TMPDIR/fanout-*.log)")
    ap.add_argument("--protocol", default="1", help="protocol versions to run sbws with, in one run (1, 2 or 1,2)")
    ap.add_argument("--mix", choices=("realistic", "trader"), default="realistic",
                    help="subscriptions: a realistic mix, or every sport and arbitrage on every socket")
    ap.add_argument("--connect-concurrency", type=int, default=32, help="sockets each load process opens at a time")
    ap.add_argument("--bun", default=shutil.which("bun") or "", help="the bun binary for the anchors ('' skips them)")
    ap.add_argument("--anchors", action=argparse.BooleanOptionalAction, default=True,
                    help="run the two Bun servers beside sbws (when bun is found)")
    ap.add_argument("--bun-server", type=Path, default=ROOT.parent / "shared" / "anchors" / "bun-server.ts")
    ap.add_argument("--bun-tick-ms", type=int, default=100)
    ap.add_argument("--bun-changes", type=int, default=50, help="markets the Bun servers change per tick")
    ap.add_argument("--load", choices=("bun", "python"), default="bun",
                    help="the load generator: benchmarks/fanout_load.ts on Bun when bun is found, else Python's")
    ap.add_argument("--profile", default="", help="a directory for py-spy's collapsed stacks of each sbws run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    bun = args.anchors and bool(args.bun) and args.bun_server.exists()
    if args.anchors and not bun:
        print(f"Bun anchors not run: {'no bun (npm install bun)' if not args.bun else f'no {args.bun_server}'}",
              file=sys.stderr, flush=True)

    runs = []
    naive = {int(x) for x in args.naive.split(",") if x}
    protocols = [int(x) for x in args.protocol.split(",") if x]
    for n in [int(x) for x in args.sockets.split(",") if x]:
        for protocol in protocols:
            runs.append(scenario("sbws", n, args, protocol=protocol))
            report(runs[-1:], args.json)
        if n in naive:
            runs.append(scenario("naive", n, args))
            report(runs[-1:], args.json)
        for mode in ("seed", "publish") if bun else ():
            runs.append(scenario(f"bun-{mode}", n, args))
            report(runs[-1:], args.json)
    slow = []
    if args.slow:
        slow = [scenario("sbws", args.slow, args), scenario("sbws", args.slow, args, stall_share=0.10)]
        report(slow, args.json)
    idle = []
    if args.idle:
        idle = [scenario("sbws", args.idle, args, idle=True, protocol=p) for p in protocols]
        report(idle, args.json)
    if args.json:
        print(json.dumps({"runs": runs, "slow_consumers": slow, "idle": idle, "bun": bun,
                          "settings": {k: str(v) for k, v in vars(args).items() if k != "json"}}))


def report(rows: list[dict], quiet: bool) -> None:
    if quiet:
        return
    for r in rows:
        lat = r["latency_ms"]
        extra = f" per-idle-conn {r['per_connection_kib']} KiB" if r["per_connection_kib"] is not None else ""
        if r["processes_left_after_sigterm"]:
            extra += f"  {r['processes_left_after_sigterm']} PROCESSES DID NOT EXIT ON SIGTERM (killed)"
        if r["connect_overran_s"]:
            extra += f"  CONNECTING OVERRAN THE WARM-UP BY {r['connect_overran_s']} s: figures include the connect phase"
        print(f"{r['server']:>11} v{r['protocol']} n={r['sockets']:>5} [{r['load']} load] (connected {r['connected']}, stalled {r['stalled']}, closed {r['closed_by_server']}): "
              f"{r['frames_per_s']:>7} frames/s {r['updates_per_s']:>8} updates/s  p50 {lat['p50']} p99 {lat['p99']} max {lat['max']} ms  "
              f"cpu {r['server_cpu_percent']}% ({r['cpu_s_per_million_updates']} cpu-s per million updates, "
              f"{r['cpu_us_per_socket_frame']} us per socket-frame) {r['upgrades_per_s']} upgrades/s "
              f"{r['bytes_per_update']} B/update rss {r['server_rss_mb']} MB (peak {r['server_rss_peak_mb']}){extra}", flush=True)


if __name__ == "__main__":
    mp.set_start_method("spawn")
    main()
