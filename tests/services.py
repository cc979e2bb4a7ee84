"""Real Redis and PostgreSQL servers for the tests that need them.

Redis: each test starts its own ``redis-server`` on a free port, so it may stop
and restart it.  PostgreSQL: the machine's server on 127.0.0.1:5432 when it
answers, otherwise a private cluster made with ``initdb`` on a free port; each
test gets a fresh database.  Without the binaries the tests skip with the
reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import atexit
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.serverproc import free_port

IN_CI = os.environ.get("CI") == "true"


def need(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI must run this test: {reason}")
    pytest.skip(reason)


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            need("needs redis-server (apt-get install redis-server)")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pg_binaries() -> tuple[str, str] | None:
    for initdb in [shutil.which("initdb"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)]:
        if initdb:
            pg_ctl = str(Path(initdb).with_name("pg_ctl"))
            if Path(pg_ctl).exists():
                return initdb, pg_ctl
    return None


class Postgres:
    """A PostgreSQL server to make test databases in."""

    def __init__(self) -> None:
        self.admin_dsn: str | None = None
        self.private: tuple[str, str] | None = None

    async def _answers(self, dsn: str) -> bool:
        try:
            import asyncpg

            conn = await asyncio.wait_for(asyncpg.connect(dsn), 3)
            await conn.close()
            return True
        except Exception:
            return False

    async def ensure(self) -> str:
        if self.admin_dsn:
            return self.admin_dsn
        try:
            import asyncpg  # noqa: F401
        except ImportError:
            need("needs asyncpg (pip install 'sbws[scale]')")
        machine = "postgresql://postgres@127.0.0.1:5432/postgres"
        if not os.environ.get("SBWS_TEST_PRIVATE_PG") and await self._answers(machine):
            self.admin_dsn = machine
            return machine
        binaries = _pg_binaries()
        if binaries is None:
            need("needs a PostgreSQL server on 127.0.0.1:5432 or initdb (apt-get install postgresql)")
        assert binaries is not None
        initdb, pg_ctl = binaries
        data = tempfile.mkdtemp(prefix="sbws-pg-")
        port = free_port()
        user = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use the postgres account when there is one
            user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(data, "postgres")
        subprocess.run([*user, initdb, "-D", data, "-U", "postgres", "--auth=trust"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        # The server inherits pg_ctl's output: send it to a log file, never to a pipe we would wait on.
        subprocess.run([*user, pg_ctl, "-D", data, "-l", f"{data}/server.log", "-o",
                        f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        self.private = (pg_ctl, data)
        atexit.register(self.stop_private, user)
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        return self.admin_dsn

    def stop_private(self, user: list[str]) -> None:
        if self.private is not None:
            pg_ctl, data = self.private
            subprocess.run([*user, pg_ctl, "-D", data, "-m", "fast", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            shutil.rmtree(data, ignore_errors=True)

    async def new_database(self) -> str:
        import asyncpg

        admin = await self.ensure()
        name = "sbws_test_" + secrets.token_hex(4)
        conn = await asyncpg.connect(admin)
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()
        return admin.rsplit("/", 1)[0] + "/" + name

    async def drop(self, dsn: str) -> None:
        import asyncpg

        name = dsn.rsplit("/", 1)[1]
        conn = await asyncpg.connect(await self.ensure())
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


POSTGRES = Postgres()
