"""Users, API tokens and bets: one interface, a SQLite and a PostgreSQL store sharing one schema."""
