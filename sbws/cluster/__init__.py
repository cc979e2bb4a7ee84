"""Between the feed and the node: one process (``local``), or many nodes sharing one market over Redis."""
