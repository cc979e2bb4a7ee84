"""The sbws command line: users, tokens, help, and a real server process."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import aiohttp
import orjson

from sbws.settings import SERVE_OPTIONS, markdown_table
from tests.serverproc import ServerProcess, subscribe_and_bet


def sbws(*args: str, db=None) -> subprocess.CompletedProcess[str]:
    extra = ["--db", str(db)] if db else []
    return subprocess.run([sys.executable, "-m", "sbws", *args, *extra], capture_output=True, text=True, timeout=60)


def test_users_add_prints_token_last_and_it_works(tmp_path):
    db = tmp_path / "l.db"
    out = sbws("users", "add", "alice", db=db)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("tok_") and len(token.split(".")[1]) >= 22  # >= 128 bits
    from sbws.ledger import plans
    from sbws.ledger.sqlite import SqliteDriver

    store = SqliteDriver(str(db))
    assert store.run(plans.verify_token(token)).username == "alice"
    assert store.run(plans.verify_token(token + "x")) is None
    raw = store.conn.execute("SELECT secret_hash FROM tokens").fetchone()[0]
    assert token.split(".")[1].encode() not in raw  # only a hash is stored
    store.close()
    assert sbws("users", "add", "alice", db=db).returncode == 1
    listed = sbws("users", "list", "--json", db=db)
    assert [u["username"] for u in orjson.loads(listed.stdout)] == ["alice"]
    second = sbws("tokens", "issue", "alice", db=db).stdout.strip().splitlines()[-1]
    assert second != token
    revoked = sbws("tokens", "revoke", token.split(".")[0], db=db)
    assert revoked.returncode == 0
    store = SqliteDriver(str(db))
    assert store.run(plans.verify_token(token)) is None and store.run(plans.verify_token(second)) is not None
    store.close()
    assert sbws("tokens", "revoke", "tok_missing", db=db).returncode == 1


def test_tokens_issue_with_an_expiry(tmp_path):
    db = tmp_path / "e.db"
    assert sbws("users", "add", "dave", db=db).returncode == 0
    out = sbws("tokens", "issue", "dave", "--expires", "30d", db=db)
    assert out.returncode == 0 and "expires" in out.stderr
    from sbws.ledger.sqlite import SqliteDriver

    store = SqliteDriver(str(db))
    token_id = out.stdout.strip().split(".")[0]
    expires_at = store.conn.execute("SELECT expires_at FROM tokens WHERE id = ?", (token_id,)).fetchone()[0]
    store.close()
    import time

    assert abs(expires_at - (time.time() + 30 * 86400) * 1000) < 60_000
    bad = sbws("tokens", "issue", "dave", "--expires", "soon", db=db)
    assert bad.returncode == 2 and "30d" in bad.stderr


def test_help_is_self_explanatory():
    out = sbws("--help").stdout
    for word in ("serve", "users", "tokens"):
        assert word in out
    serve_help = sbws("serve", "--help").stdout
    for opt in SERVE_OPTIONS:
        assert opt.flag in serve_help and opt.env in serve_help
    assert sbws("--version").stdout.startswith("sbws ")


def test_readme_table_matches_settings():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme


def test_bad_flag_values_fail_clearly(tmp_path):
    out = sbws("serve", "--port", "0", db=tmp_path / "x.db")
    assert out.returncode != 0 and "--port" in out.stderr
    out = sbws("serve", "--commission", "betfair", db=tmp_path / "x.db")
    assert out.returncode != 0 and "BOOK=PERCENT" in out.stderr


def test_library_errors_reach_the_user_as_one_line_and_exit_1(tmp_path):
    cases = (
        (("serve", "--port", "0"), "sbws: --port must be 1..65535"),
        (("serve", "--feed", "nope"), "sbws: unknown feed 'nope'"),
        (("serve", "--feed", "replay:missing.jsonl"), "sbws: no such recording missing.jsonl"),
        (("serve", "--broker", "http://127.0.0.1:1"), "sbws: --broker must be a redis:// URL"),
    )
    for args, message in cases:
        out = sbws(*args, db=tmp_path / "x.db")
        assert out.returncode == 1, out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith(message), out.stderr
        assert "Traceback" not in out.stderr


def test_env_twins_apply(tmp_path):
    from argparse import Namespace

    from sbws.settings import resolve

    s = resolve(Namespace(), {"SBWS_PORT": "4000", "SBWS_COMMISSION": "betfair=5,matchbook=2", "SBWS_TRUST_USER_ID": "true"})
    assert s.port == 4000 and s.commission == {"betfair": 0.05, "matchbook": 0.02} and s.trust_user_id is True
    s = resolve(Namespace(port="4001"), {"SBWS_PORT": "4000"})
    assert s.port == 4001


async def _trade_then_terminate(server: ServerProcess, token: str) -> aiohttp.WSMessage:
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(server.url + f"/ws/sportsbooks?token={token}")
        assert (await ws.receive_json(timeout=5))["authenticated"] is True
        await subscribe_and_bet(ws, stake=10)
        assert server.proc is not None
        server.proc.send_signal(15)
        closing = await ws.receive(timeout=10)
        while closing.type == aiohttp.WSMsgType.TEXT:
            closing = await ws.receive(timeout=10)
        return closing


def test_serve_process_end_to_end_and_sigterm(tmp_path):
    db = tmp_path / "serve.db"
    token = sbws("users", "add", "trader", db=db).stdout.strip().splitlines()[-1]
    with ServerProcess(db, "--sim-speed", "50", "--sim-tick-ms", "100", "--market-interval", "0.2") as server:
        close = asyncio.run(_trade_then_terminate(server, token))
        assert close.type == aiohttp.WSMsgType.CLOSE and close.data == 1001
        assert server.proc.wait(15) == 0
        assert b'"stopped"' in server.log_path.read_bytes()
        from sbws.ledger.sqlite import SqliteDriver

        store = SqliteDriver(str(db))
        assert len(store.conn.execute("SELECT id FROM bets").fetchall()) == 1
        store.close()
