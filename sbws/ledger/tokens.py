"""API tokens: ``tok_<id>.<secret>``, only a SHA-256 of the secret at rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

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


def check_token(row: Any, secret: str, token_id: str) -> Identity | None:
    """``row`` is (secret_hash, revoked_at, user_id, username) or None; the hash comparison
    runs even for an unknown id so both paths cost the same."""
    expected = bytes(row[0]) if row else hash_secret("")
    ok = hmac.compare_digest(expected, hash_secret(secret))
    if row is None or not ok or row[1] is not None:
        return None
    return Identity(row[2], row[3], token_id)
