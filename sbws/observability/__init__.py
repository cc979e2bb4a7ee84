"""Logs, metrics and event-loop lag: what an operator reads."""
