"""Price history: every price change the feed delivered, and the steam seen, kept for ``--history-days``."""
