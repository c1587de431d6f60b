"""The mirror's Prometheus metrics: one registry per mirror app (README "Metrics").

Recorded as things happen: events delivered to SSE clients by event name, delivery lag (the bus entry's
time → the SSE write), replays (clients resuming with Last-Event-ID) and resets.  Read when scraped: SSE
clients, bus entries read, clients lapped and cut off, swarms in the read model, failed reconciles and
readiness.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mirror.items import StreamItem
from services.metrics import EventCounts, LagHistogram

if TYPE_CHECKING:
    from mirror.core import MirrorCore


class MirrorMetrics:
    def __init__(self, enabled: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.enabled = enabled
        self.events_delivered = EventCounts(
            "codeswarm_mirror_events_delivered", "Events written to SSE clients (replays included), by name."
        )
        self.delivery_lag = LagHistogram(
            "codeswarm_mirror_delivery_lag_seconds", "From an event's entry on the bus to its SSE write (live)."
        )
        self.registry.register(self.events_delivered)
        self.registry.register(self.delivery_lag)
        self.replays = Counter(
            "codeswarm_mirror_sse_replays", "SSE clients that resumed after a Last-Event-ID.", registry=self.registry
        )
        self.resets = Counter(
            "codeswarm_mirror_sse_resets",
            "Resuming clients told to reload /v1/state (their id was trimmed from, or newer than, the stream).",
            registry=self.registry,
        )

    def delivered(self, items: Sequence[StreamItem], live: bool) -> None:
        """``items`` are being written to one client (``live``: as they arrived, not replayed).  One pass;
        the lag is observed once per run of entries of the same millisecond (their lag is the same)."""
        if not self.enabled:
            return
        counts = self.events_delivered.counts
        now_ms = time.time() * 1000
        observe = self.delivery_lag.observe
        last_ms, run = -1, 0
        for item in items:
            event = item.event
            counts[event] = counts.get(event, 0) + 1
            if live and item.id is not None:
                ms = item.key[0]
                if ms != last_ms:
                    if run:
                        observe((now_ms - last_ms) / 1000, run)
                    last_ms, run = ms, 0
                run += 1
        if run:
            observe((now_ms - last_ms) / 1000, run)

    def watch(self, core: MirrorCore) -> None:
        """Add the families read from ``core`` when scraped."""
        self.registry.register(_MirrorState(core))


class _MirrorState(Collector):
    def __init__(self, core: MirrorCore) -> None:
        self.core = core

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        core = self.core
        yield GaugeMetricFamily(
            "codeswarm_mirror_sse_clients", "SSE clients connected.", value=len(core.hub.subscribers)
        )
        yield CounterMetricFamily(
            "codeswarm_mirror_bus_entries", "Bus entries read and fanned out.", value=core.hub.events_in
        )
        yield CounterMetricFamily(
            "codeswarm_mirror_clients_lapped",
            "SSE clients a whole queue behind, sent on from the bus.",
            value=core.hub.clients_lapped,
        )
        yield CounterMetricFamily(
            "codeswarm_mirror_clients_cut", "SSE clients cut off for reading nothing.", value=core.hub.clients_cut
        )
        yield GaugeMetricFamily("codeswarm_mirror_swarms", "Swarms in the read model.", value=len(core.model.swarms))
        yield CounterMetricFamily(
            "codeswarm_mirror_reconcile_failures",
            "Reconciles the router did not answer.",
            value=core.reconciler.failures,
        )
        yield GaugeMetricFamily(
            "codeswarm_mirror_ready", "1 when nothing is degraded.", value=0 if core.problems() else 1
        )
