"""The signal-kind table and the one opened/changed/closed mechanism, without a server."""

from __future__ import annotations

from sbws import signals
from sbws.market.finders import FINDERS
from sbws.market.signals import LiveSet
from sbws.wire import commands
from sbws.wire.limits import Limits


def test_every_finder_has_one_kind_and_every_kind_its_request():
    assert [k.finder for k in signals.KINDS] == list(FINDERS)
    for field in ("name", "push", "key", "query"):
        values = [getattr(k, field) for k in signals.KINDS]
        assert len(set(values)) == len(values), f"{field} must be unique per kind"
    for kind in signals.KINDS:
        assert kind.query in commands.SIGNAL_PARSERS and kind.query in commands.KNOWN_TYPES
        assert commands.SIGNAL_PARSERS[kind.query]({}, Limits()).kind == kind.name


def test_reconcile_opens_changes_and_closes_within_what_the_rescan_covered():
    live: LiveSet[tuple[str, int]] = LiveSet()
    live.reconcile(lambda item: True, {"a": ("m1", 1), "b": ("m2", 1)}, now=1.0)
    assert set(live) == {"a", "b"} and live.changed and live.take() == set() and not live.changed
    # A rescan of m1 alone: b is not covered and stays; a changes.
    live.reconcile(lambda item: item[0] == "m1", {"a": ("m1", 2)}, now=2.0)
    assert live["a"].item == ("m1", 2) and (live["a"].detected_at, live["a"].updated_at) == (1.0, 2.0)
    assert set(live) == {"a", "b"} and live.changed
    live.take()
    live.reconcile(lambda item: item[0] == "m2", {}, now=3.0)
    assert set(live) == {"a"} and live.closed == {"b"}
    # Unchanged findings change nothing.
    live.take()
    live.reconcile(lambda item: True, {"a": ("m1", 2)}, now=4.0)
    assert not live.changed and live["a"].updated_at == 2.0


def test_an_item_that_reopens_before_the_push_is_not_also_listed_closed():
    live: LiveSet[str] = LiveSet()
    live.reconcile(lambda item: True, {"a": "x"}, now=1.0)
    live.take()
    live.reconcile(lambda item: True, {}, now=2.0)
    live.reconcile(lambda item: True, {"a": "x"}, now=3.0)
    assert live.take() == set() and set(live) == {"a"}


def test_clear_closes_everything_live():
    live: LiveSet[str] = LiveSet()
    live.reconcile(lambda item: True, {"a": "x", "b": "y"}, now=1.0)
    live.take()
    live.clear()
    assert len(live) == 0 and live.take() == {"a", "b"}
