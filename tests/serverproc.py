"""Run ``sbws serve`` as a real process on a free port, for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, db: Path | str, *args: str, port: int | None = None, env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.port = port or free_port()
        self.args = [*(command or [sys.executable, "-m", "sbws"]), "serve", "--port", str(self.port), "--db", str(db), *args]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(str(db) + f".{self.port}.log")
        self.cwd: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server not ready: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()


ALL_SPORTS = ["NBA", "NFL", "MLB", "NHL", "Soccer"]


async def subscribe_and_bet(ws, stake: float = 5, timeout: float = 10) -> dict:  # type: ignore[no-untyped-def]
    """On a live simulator: subscribe to everything, back the best price of an open market, return bet_placed."""
    await ws.send_json({"type": "subscribe", "payload": {"sports": ALL_SPORTS}})
    market = None
    while market is None:
        msg = await ws.receive_json(timeout=timeout)
        if msg["type"] == "market_update":
            market = next((m for m in msg["markets"] if m["status"] == "open" and m["bestOdds"]), None)
    selection, best = next(iter(market["bestOdds"].items()))
    await ws.send_json({"type": "place_bet", "payload": {"marketId": market["id"], "selectionId": selection,
                        "bookmaker": best["bookmaker"], "stake": stake, "odds": -100000}})
    while (msg := await ws.receive_json(timeout=timeout))["type"] not in ("bet_placed", "error"):
        pass
    assert msg["type"] == "bet_placed", msg
    return msg
