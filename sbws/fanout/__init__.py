"""Frames out to many sockets: who gets what, per-socket budgets, and the push cycles."""
