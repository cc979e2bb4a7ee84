"""The ledger's tables, written once for both SQLite and PostgreSQL.

Each migration is one template; ``{int64}``, ``{bytes}``, ``{real}`` and
``{bool}`` become each dialect's type, so the two stores cannot drift.
"""

from __future__ import annotations

SQLITE = {"int64": "INTEGER", "bytes": "BLOB", "real": "REAL", "bool": "INTEGER", "insertion_column": "",
          "insertion_order": "rowid"}
POSTGRES = {"int64": "BIGINT", "bytes": "BYTEA", "real": "DOUBLE PRECISION", "bool": "BOOLEAN",
            "insertion_column": "ALTER TABLE bets ADD COLUMN seq BIGSERIAL;", "insertion_order": "seq"}
"""Each dialect's types, and how it keeps the order rows were inserted in (SQLite's rowid; a sequence)."""

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
    """
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at {int64} NOT NULL
    );
    CREATE TABLE alert_rules (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL,
        min_edge {real},
        min_ev {real},
        sports TEXT NOT NULL,
        bookmakers TEXT NOT NULL,
        webhook_id TEXT REFERENCES webhooks(id),
        muted_until {int64},
        created_at {int64} NOT NULL
    );
    CREATE INDEX alert_rules_user ON alert_rules (user_id);
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        item_id TEXT NOT NULL,
        body {bytes} NOT NULL,
        created_at {int64} NOT NULL
    );
    CREATE INDEX alerts_user ON alerts (user_id, created_at);
    CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status INTEGER,
        error TEXT,
        at {int64} NOT NULL
    );
    CREATE INDEX deliveries_hook ON webhook_deliveries (webhook_id, at);
    """,
    """
    {insertion_column}
    """,
    """
    CREATE TABLE webhook_outbox (
        delivery_id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        body {bytes} NOT NULL,
        attempts INTEGER NOT NULL,
        created_at {int64} NOT NULL
    );
    CREATE INDEX outbox_time ON webhook_outbox (created_at);
    """,
    """
    ALTER TABLE bets ADD COLUMN winners INTEGER NOT NULL DEFAULT 1;
    """,
    """
    ALTER TABLE bets ADD COLUMN side TEXT NOT NULL DEFAULT 'back';
    ALTER TABLE bets ADD COLUMN liability_cents {int64};
    ALTER TABLE bets ADD COLUMN commission_cents {int64} NOT NULL DEFAULT 0;
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
    "requested_price, fair_probability, closing_fair_probability, clv, side, liability_cents, commission_cents"
)
"""The columns of ``models.Bet``, in its field order."""

CLOSING_COLUMNS = "id, market_id, selection_id, odds, price"
"""What recording the closing line reads of each bet still without one."""

SETTLE_COLUMNS = ("id, user_id, market_id, bookmaker, market_type, line, three_way, winners, selection_id, stake_cents, "
                  "potential_payout_cents, side, liability_cents")
"""What settlement reads of each open bet."""


def migrations(dialect: dict[str, str]) -> tuple[str, ...]:
    return tuple(script.format(**dialect) for script in _MIGRATIONS)


INSERTION_ORDER = "{insertion_order}"
"""Stands in a statement for the dialect's insertion order (``in_dialect`` puts it in)."""


def in_dialect(sql: str, dialect: dict[str, str]) -> str:
    return sql.replace(INSERTION_ORDER, dialect["insertion_order"])


# -- alert rules, webhooks, alerts and deliveries: one statement each, ``?`` placeholders ------------
RULE_COLUMNS = "id, user_id, kind, min_edge, min_ev, sports, bookmakers, webhook_id, muted_until, created_at"
ADD_WEBHOOK = "INSERT INTO webhooks (id, user_id, url, secret, created_at) VALUES (?, ?, ?, ?, ?)"
WEBHOOK = "SELECT id, user_id, url, secret, created_at FROM webhooks WHERE id = ?"
WEBHOOKS = "SELECT id, user_id, url, secret, created_at FROM webhooks WHERE user_id = ? ORDER BY created_at"
ADD_RULE = f"INSERT INTO alert_rules ({RULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
RULE = f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = ? AND user_id = ?"
RULES = f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE user_id = ? ORDER BY created_at, id"
ALL_RULES = f"SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY created_at, id"
DELETE_RULE = "DELETE FROM alert_rules WHERE id = ? AND user_id = ?"
MUTE_RULE = "UPDATE alert_rules SET muted_until = ? WHERE id = ? AND user_id = ?"
ADD_ALERT = "INSERT INTO alerts (id, rule_id, user_id, kind, item_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
RECENT_ALERTS = "SELECT body FROM alerts WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
ADD_DELIVERY = (
    "INSERT INTO webhook_deliveries (id, webhook_id, delivery_id, alert_id, attempt, status, error, at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
OUTBOX_COLUMNS = "delivery_id, webhook_id, user_id, alert_id, body, attempts, created_at"
ADD_OUTBOX = f"INSERT INTO webhook_outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
OUTBOX = f"SELECT {OUTBOX_COLUMNS} FROM webhook_outbox ORDER BY created_at, delivery_id LIMIT ?"
OUTBOX_ATTEMPTED = "UPDATE webhook_outbox SET attempts = ? WHERE delivery_id = ?"
OUTBOX_DONE = "DELETE FROM webhook_outbox WHERE delivery_id = ?"
DELIVERIES = (
    "SELECT d.id, d.webhook_id, d.delivery_id, d.alert_id, d.attempt, d.status, d.error, d.at "
    "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE d.webhook_id = ? AND w.user_id = ? ORDER BY d.at DESC, d.id DESC LIMIT ?"
)


def numbered(sql: str) -> str:
    """PostgreSQL's ``$1, $2, …`` for the ``?`` placeholders of a statement above."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" if i < len(parts) else part for i, part in enumerate(parts, start=1))
