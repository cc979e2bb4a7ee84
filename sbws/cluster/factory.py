"""Choosing the broker a ``--broker`` value names."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..feeds.base import Feed
from .base import Broker
from .local import LocalBroker


def make_broker(url: str, feed_factory: Callable[[], Feed], first_feed: Feed, ttl: float, node_id: str,
                heartbeat_interval: float) -> Broker:
    if not url:
        return LocalBroker(first_feed)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"--broker must be a redis:// URL, got {url!r}")
    try:
        from .redis_broker import RedisBroker
    except ImportError:
        raise ConfigError("--broker needs the scale extra: pip install 'sbws[scale]'") from None
    return RedisBroker(url, feed_factory, first_feed, ttl=ttl, node_id=node_id or None,
                       clients_interval=max(1.0, min(5.0, heartbeat_interval / 2)))
