"""API tokens: ``tok_<id>.<secret>``, only a SHA-256 of the secret at rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

from ..clock import now_ms
from .models import Identity


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_token() -> tuple[str, str, bytes]:
    """(token id, the whole token to hand out once, the hash to store)."""
    token_id = "tok_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, f"{token_id}.{secret}", hash_secret(secret)


def split_token(token: str) -> tuple[str, str] | None:
    token_id, sep, secret = token.partition(".")
    if not sep or not token_id.startswith("tok_") or len(token) > 200:
        return None
    return token_id, secret


REVOKED, EXPIRED = "token revoked", "token expired"


def token_problem(revoked_at: int | None, expires_at: int | None, now: int) -> str | None:
    """Why a token no longer grants anything (``REVOKED``, ``EXPIRED``), or None while it does."""
    if revoked_at is not None:
        return REVOKED
    if expires_at is not None and expires_at <= now:
        return EXPIRED
    return None


def inactive(token_ids: Iterable[str], rows: Iterable[Any], now: int) -> dict[str, str]:
    """From ``rows`` of (id, revoked_at, expires_at): the ids that grant nothing, with why (unknown: revoked).

    The empty id (an identity from --trust-user-id, no token behind it) is never inactive.
    """
    problems = {row[0]: token_problem(row[1], row[2], now) for row in rows}
    out = {}
    for token_id in token_ids:
        problem = problems.get(token_id, REVOKED) if token_id else None
        if problem is not None:
            out[token_id] = problem
    return out


def check_token(row: Any, secret: str, token_id: str) -> Identity | None:
    """``row`` is (secret_hash, revoked_at, user_id, username, expires_at) or None; the hash
    comparison runs even for an unknown id so both paths cost the same."""
    expected = bytes(row[0]) if row else hash_secret("")
    ok = hmac.compare_digest(expected, hash_secret(secret))
    if row is None or not ok or token_problem(row[1], row[4], now_ms()) is not None:
        return None
    return Identity(row[2], row[3], token_id)
