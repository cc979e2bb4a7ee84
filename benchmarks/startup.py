"""Start-up time to the first accepted WebSocket connection: the binary against the venv.

    python benchmarks/startup.py [--binary dist/sbws] [--venv .venv/bin/sbws] [--runs 5]

Build the binary first (python3 scripts/build.py binary).  Prints the median
and the best of several runs, and the binary's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def first_connection(url: str, deadline: float) -> float:
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() < deadline:
            try:
                ws = await http.ws_connect(url)
                await ws.receive_json(timeout=5)
                end = time.perf_counter()
                await ws.close()
                return end
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(0.005)
    raise RuntimeError("server never accepted a connection")


def measure(command: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "TMPDIR": tmp}
        start = time.perf_counter()
        proc = subprocess.Popen([command, "serve", "--port", str(port), "--db", f"{tmp}/l.db"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            end = asyncio.run(first_connection(f"http://127.0.0.1:{port}/ws/sportsbooks", start + 60))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
        return end - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "dist" / "sbws"))
    ap.add_argument("--venv", default=str(ROOT / ".venv" / "bin" / "sbws"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for name, command in (("binary", args.binary), ("venv", args.venv)):
        times = [measure(command) for _ in range(args.runs)]
        size = f", size {Path(command).stat().st_size / 2**20:.1f} MiB" if name == "binary" else ""
        print(f"{name:>6}: median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
              f"over {args.runs} runs to the first accepted WebSocket{size}")


if __name__ == "__main__":
    main()
