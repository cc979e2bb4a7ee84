"""Odds sources behind one interface (``base.Feed``); ``factory.make_feed`` picks one."""
