"""The wheel and the single binary, built from this checkout and smoke-tested in fresh environments."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import venv
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import SHARED
from tests.serverproc import ServerProcess, subscribe_and_bet

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def built():
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build.py"), "binary"], check=True, timeout=900,
                   capture_output=True)
    [wheel] = sorted((ROOT / "dist").glob("sbws-*.whl"))
    return {"binary": ROOT / "dist" / "sbws", "wheel": wheel}


async def _exercise(url: str, token: str) -> None:
    async with aiohttp.ClientSession() as http:
        page = await http.get(url + "/")
        assert page.status == 200 and "<title>sbws" in await page.text()
        ws = await http.ws_connect(url + f"/ws/sportsbooks?token={token}")
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "connected" and hello["authenticated"] is True
        await subscribe_and_bet(ws)
        await ws.close()


def smoke(command: list[str], workdir: Path, env: dict[str, str]) -> None:
    db = workdir / "ledger.db"
    add = subprocess.run([*command, "users", "add", "smoke", "--db", str(db)], capture_output=True, text=True,
                         cwd=workdir, env=env, timeout=120)
    assert add.returncode == 0, add.stderr
    token = add.stdout.strip().splitlines()[-1]
    server = ServerProcess(db, command=command, env=env)
    server.log_path = workdir.parent / f"{workdir.name}.log"
    server.cwd = str(workdir)
    with server:
        asyncio.run(_exercise(server.url, token))
        assert server.terminate() == 0
    # Nothing but the ledger it was told to use, and the price history beside it.
    allowed = {f"{name}{suffix}" for name in ("ledger.db", "ledger.history.db") for suffix in ("", "-wal", "-shm")}
    assert {p.name for p in workdir.iterdir()} <= allowed


def test_binary_runs_without_python(built, tmp_path):
    work = tmp_path / "bin-run"
    work.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    version = subprocess.run([str(built["binary"]), "--version"], capture_output=True, text=True, env=env, cwd=work)
    assert version.stdout.startswith("sbws ")
    for sub in ("serve", "users", "tokens", "backtest"):
        assert subprocess.run([str(built["binary"]), sub, "--help"], capture_output=True, env=env, cwd=work).returncode == 0
    smoke([str(built["binary"])], work, env)


def test_wheel_installs_and_serves_in_a_clean_venv(built, tmp_path):
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", str(built["wheel"])],
                   check=True, timeout=600)
    work = tmp_path / "wheel-run"
    work.mkdir()
    env = {"PATH": f"{target / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    smoke([str(target / "bin" / "sbws")], work, env)


def test_backtest_from_the_binary(built, tmp_path):
    season = SHARED / "data" / "football-data" / "epl2021.csv"
    out = subprocess.run([str(built["binary"]), "backtest", "--json", str(season)], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)}, timeout=120)
    assert out.returncode == 0 and '"matches":380' in out.stdout
