"""Where an idle socket's memory goes: the server in this process under ``tracemalloc``, N idle sockets from a
separate load process, the growth per socket by allocation site and by package, beside RSS.

    python benchmarks/idle_memory.py [--sockets 10000] [--protocol 2] [--top 20] [--json]

The server runs on the simulator as ``sbws serve`` does (``server.run.serve``'s application), with the
per-address limits lifted.  The sockets come from ``benchmarks/fanout_load.ts`` on Bun when ``bun`` is found,
else from ``fanout.py``'s Python generator.  ``tracemalloc`` counts the Python heap (what a socket's objects
hold); RSS also counts the kernel-side and C allocations it cannot see (uvloop's transports, the HTTP parser),
and allocator slack.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aiohttp import web  # noqa: E402

from fanout import bun_load, client_main, free_port, proc_rss, raise_nofile  # noqa: E402
from sbws.observability import logs  # noqa: E402
from sbws.server.app import make_app  # noqa: E402
from sbws.server.keys import SOCKETS  # noqa: E402
from sbws.settings import Settings  # noqa: E402

PACKAGES = ("aiohttp", "sbws", "asyncio", "structlog", "multidict", "yarl", "uvloop")


def package(filename: str) -> str:
    for name in PACKAGES:
        if f"/{name}/" in filename:
            return name
    return "other"


async def open_sockets(args: argparse.Namespace, port: int) -> Callable[[], None]:
    """Starts the load process and waits while its sockets connect (it holds them until ``--hold`` ends);
    returns how to stop it."""
    url = f"http://127.0.0.1:{port}/ws/sportsbooks" + ("?v=2" if args.protocol == 2 else "")
    start, stop = time.time() + 1, time.time() + args.hold
    indices = list(range(args.sockets))
    if args.bun:
        command = bun_load(args.bun, url, indices, start, stop, args.protocol, "trader", '"publishedAt":', 32, True)
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(args.hold - 2)
        return proc.kill
    worker = mp.Process(target=client_main, args=(url, indices, set(), True, start, stop, mp.Queue(), args.protocol))
    worker.start()
    await asyncio.sleep(args.hold - 2)
    return worker.terminate


async def main(args: argparse.Namespace) -> dict:
    logs.configure("warning")
    workdir = tempfile.mkdtemp(prefix="idle-memory-")
    port = free_port()
    settings = Settings(port=port, db=f"{workdir}/ledger.db", log_level="warning", heartbeat_interval=30.0,
                        max_connections=2 * args.sockets + 100, max_connections_per_ip=2 * args.sockets + 100,
                        address_snapshots=10 * args.sockets)
    app = await make_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.sleep(3)  # the simulator's opening, the first pushes
    gc.collect()
    tracemalloc.start(1)
    before, rss_before = tracemalloc.take_snapshot(), proc_rss(os.getpid())
    stop_load = await open_sockets(args, port)
    gc.collect()
    after, rss_after = tracemalloc.take_snapshot(), proc_rss(os.getpid())
    connected = len(app[SOCKETS])
    tracemalloc.stop()
    sites = after.compare_to(before, "lineno")
    per_package: Counter[str] = Counter()
    for stat in after.compare_to(before, "filename"):
        per_package[package(stat.traceback[0].filename)] += stat.size_diff
    stop_load()
    await runner.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)
    n = max(1, connected)
    return {
        "sockets": connected,
        "protocol": args.protocol,
        "load": "bun" if args.bun else "python",
        "rss_per_socket_kib": round((rss_after - rss_before) / n / 1024, 2),
        "tracemalloc_per_socket_kib": round(sum(s.size_diff for s in sites) / n / 1024, 2),
        "per_package_bytes": {k: round(v / n) for k, v in per_package.most_common()},
        "sites": [{"site": f"{Path(s.traceback[0].filename).name}:{s.traceback[0].lineno}",
                   "bytes_per_socket": round(s.size_diff / n), "blocks_per_socket": round(s.count_diff / n, 2)}
                  for s in sites[: args.top]],
    }


def report(r: dict) -> None:
    print(f"v{r['protocol']}, {r['sockets']} idle sockets ({r['load']} load): RSS {r['rss_per_socket_kib']} KiB "
          f"per socket, Python heap (tracemalloc) {r['tracemalloc_per_socket_kib']} KiB per socket")
    print("  by package (bytes per socket): " + ", ".join(f"{k} {v}" for k, v in r["per_package_bytes"].items()))
    for s in r["sites"]:
        print(f"  {s['bytes_per_socket']:>6} B  {s['blocks_per_socket']:>5} blocks  {s['site']}")


if __name__ == "__main__":
    mp.set_start_method("spawn")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", type=int, default=10000)
    ap.add_argument("--protocol", type=int, choices=(1, 2), default=2)
    ap.add_argument("--hold", type=float, default=20.0, help="seconds the sockets stay open (they connect first)")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--bun", default=shutil.which("bun") or "", help="the bun binary for the load ('' for Python's)")
    ap.add_argument("--json", action="store_true")
    cli = ap.parse_args()
    raise_nofile()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(main(cli))
    if cli.json:
        print(json.dumps(result))
    else:
        report(result)
