"""The ledger's tables, written once for both SQLite and PostgreSQL.

Each migration is one template; ``{int64}``, ``{bytes}``, ``{real}`` and
``{bool}`` become each dialect's type, so the two stores cannot drift.
"""

from __future__ import annotations

SQLITE = {"int64": "INTEGER", "bytes": "BLOB", "real": "REAL", "bool": "INTEGER"}
POSTGRES = {"int64": "BIGINT", "bytes": "BYTEA", "real": "DOUBLE PRECISION", "bool": "BOOLEAN"}

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        created_at {int64} NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        secret_hash {bytes} NOT NULL,
        created_at {int64} NOT NULL,
        revoked_at {int64}
    );
    CREATE TABLE bets (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        client_ref TEXT,
        market_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        market_type TEXT NOT NULL,
        line {real},
        three_way {bool} NOT NULL,
        selection_id TEXT NOT NULL,
        bookmaker TEXT NOT NULL,
        stake_cents {int64} NOT NULL CHECK (stake_cents > 0),
        odds INTEGER NOT NULL,
        requested_odds INTEGER NOT NULL,
        potential_payout_cents {int64} NOT NULL,
        status TEXT NOT NULL,
        payout_cents {int64},
        notes TEXT NOT NULL DEFAULT '',
        placed_at {int64} NOT NULL,
        settled_at {int64},
        UNIQUE (user_id, client_ref)
    );
    CREATE INDEX bets_user_time ON bets (user_id, placed_at DESC);
    CREATE INDEX bets_open_event ON bets (event_id) WHERE status = 'placed';
    """,
    """
    ALTER TABLE tokens ADD COLUMN expires_at {int64};
    """,
    """
    CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at {int64} NOT NULL);
    """,
    """
    ALTER TABLE bets ADD COLUMN price TEXT;
    ALTER TABLE bets ADD COLUMN requested_price TEXT;
    """,
    """
    ALTER TABLE bets ADD COLUMN fair_probability {real};
    ALTER TABLE bets ADD COLUMN closing_fair_probability {real};
    ALTER TABLE bets ADD COLUMN clv {real};
    """,
)

HEALTH_PROBE = (
    "INSERT INTO health (id, checked_at) VALUES (1, {now}) "
    "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"
)
"""A real committed write: a full disk or a read-only file fails it, where a read would pass."""

BET_COLUMNS = (
    "id, user_id, client_ref, market_id, event_id, market_type, line, selection_id, bookmaker, stake_cents, "
    "odds, requested_odds, potential_payout_cents, status, payout_cents, notes, placed_at, settled_at, price, "
    "requested_price, fair_probability, closing_fair_probability, clv"
)
"""The columns of ``models.Bet``, in its field order."""

CLOSING_COLUMNS = "id, market_id, selection_id, odds, price"
"""What recording the closing line reads of each bet still without one."""

SETTLE_COLUMNS = "id, market_type, line, three_way, selection_id, stake_cents, potential_payout_cents"
"""What settlement reads of each open bet."""


def migrations(dialect: dict[str, str]) -> tuple[str, ...]:
    return tuple(script.format(**dialect) for script in _MIGRATIONS)
