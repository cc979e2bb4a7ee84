"""Pure domain state: the normalized records feeds produce and the market they build."""
