"""Prometheus metrics, one registry per application (tests build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.sockets = Gauge("sbws_connected_sockets", "Open WebSocket connections", registry=r)
        self.messages_in = Counter("sbws_messages_in_total", "Client messages by type", ["type"], registry=r)
        self.messages_out = Counter("sbws_messages_out_total", "Frames sent by message type", ["type"], registry=r)
        self.errors = Counter("sbws_errors_total", "Error replies by code", ["code"], registry=r)
        self.scan_seconds = Histogram(
            "sbws_engine_scan_seconds", "Engine update+scan time per feed batch", registry=r,
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
        )
        self.feed_lag = Gauge("sbws_feed_lag_seconds", "Seconds since the feed last delivered a batch", registry=r)
        self.loop_lag = Gauge("sbws_event_loop_lag_seconds", "Event-loop scheduling delay, last sample", registry=r)
        self.loop_lag_max = Gauge("sbws_event_loop_lag_max_seconds", "Worst event-loop delay in the last minute", registry=r)
        self.markets = Gauge("sbws_markets", "Markets on the board", registry=r)
        self.opportunities = Gauge("sbws_arbitrage_opportunities", "Live arbitrage opportunities", registry=r)
        self.refused = Counter("sbws_connections_refused_total", "WebSocket upgrades refused, by limit",
                               ["limit"], registry=r)
        self.head_timeouts = Counter("sbws_header_timeouts_total", "Connections closed before sending a request head",
                                     registry=r)
        self.slow_closed = Counter("sbws_slow_consumers_closed_total", "Sockets closed for not reading", registry=r)
        self.conflated = Counter("sbws_conflated_updates_total", "Market updates conflated for slow sockets", registry=r)
        self.bets = Counter("sbws_bets_placed_total", "Bets written to the ledger", registry=r)
        self.history_failures = Gauge("sbws_history_write_failures", "Price-history writes that failed since start "
                                      "(each rolled back whole; later writes go on)", registry=r)
        self.leader = Gauge("sbws_is_leader", "1 when this node runs the feed", registry=r)
        self.broker_up = Gauge("sbws_broker_connected", "1 when the broker (Redis) is reachable or local", registry=r)
        self.quota = Gauge("sbws_odds_api_requests_remaining", "The Odds API quota left", registry=r)
        self.quota_used = Gauge("sbws_odds_api_requests_used", "The Odds API requests used", registry=r)
