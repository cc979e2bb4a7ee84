"""Start-up failures a user can cause: one line `sbws: …` naming the problem and the fix, exit 1, nothing created."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serverproc import free_port


def sbws(*args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "sbws", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def one_line(out: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("sbws: "), out.stderr
    for fragment in fragments:
        assert fragment in last, out.stderr


def test_port_in_use_creates_nothing(tmp_path):
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        db = tmp_path / "ledger.db"
        out = sbws("serve", "--port", str(port), "--db", str(db))
        one_line(out, f"port {port}", "already in use", "--port")
        assert not db.exists() and '"started"' not in out.stderr


@pytest.mark.parametrize("db, fragments", [
    ("{tmp}/missing/ledger.db", ("does not exist", "create it")),
    ("{tmp}", ("is a directory", "name a file")),
    ("/proc/sbws-ledger.db", ("cannot open the ledger", "writable")),
    ("postgresql://sbws@127.0.0.1:1/sbws", ("cannot reach PostgreSQL", "is it running")),
])
def test_a_ledger_that_cannot_open(tmp_path, db, fragments):
    out = sbws("serve", "--port", str(free_port()), "--db", db.format(tmp=tmp_path))
    one_line(out, *fragments)


def test_unreachable_redis_creates_nothing(tmp_path):
    db = tmp_path / "r.db"
    out = sbws("serve", "--broker", "redis://127.0.0.1:1/0", "--port", str(free_port()), "--db", str(db))
    one_line(out, "cannot reach Redis at redis://127.0.0.1:1/0", "is it running")
    assert not db.exists()


def test_bad_host_and_log_level(tmp_path):
    one_line(sbws("serve", "--host", "no-such-host.invalid", "--port", str(free_port()), "--db", str(tmp_path / "a.db")),
             "--host 'no-such-host.invalid'")
    one_line(sbws("serve", "--log-level", "verbose", "--db", str(tmp_path / "b.db")), "--log-level must be one of")
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


def test_empty_user_name_creates_nothing(tmp_path):
    db = tmp_path / "users.db"
    one_line(sbws("users", "add", "", "--db", str(db)), "user name must not be empty")
    one_line(sbws("users", "add", " padded ", "--db", str(db)), "printable characters")
    assert not db.exists()


def test_broker_without_the_scale_extra_says_how_to_install_it(tmp_path):
    hide_redis = "import sys; sys.modules['redis'] = None; from sbws.cli import main; sys.exit(main(sys.argv[1:]))"
    out = sbws("serve", "--broker", "redis://127.0.0.1:6379/0", "--port", str(free_port()),
               "--db", str(tmp_path / "c.db"), code=hide_redis)
    one_line(out, "pip install 'sbws[scale]'")
    assert not Path(tmp_path / "c.db").exists()
