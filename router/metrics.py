"""The router's Prometheus metrics: one registry per router app (README "Metrics").

Recorded as things happen: events ingested from the nodes and published by the outbox relay (by event
name), ingest lag (the node's record timestamp → on the bus), launches and their rejections by provider,
inject → delivered to the inbox, probe duration and failures per cluster, database transaction time.
Read when scraped: swarms and nodes by status, records ingested, the relay backlog, SSH reconnects.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from services.metrics import LAG_BUCKETS, event_counts, lag_histogram

if TYPE_CHECKING:
    from router.core import RouterCore

PROBE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TRANSACTION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# Why a launch was refused, as a label: a few fixed words (the full reason is in the swarm and its event).
REFUSED = "refused"  # the provider said no (sbatch's own message, an invalid request)
FAILED = "failed"  # the launch broke (an error talking to the provider)
TIMED_OUT = "timed_out"  # still pending after the launch timeout; cancelled


class RouterMetrics:
    def __init__(self, enabled: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_ingested = event_counts(
            enabled, "codeswarm_router_events_ingested", "Events made from node records and put on the bus, by name."
        )
        self.events_published = event_counts(
            enabled, "codeswarm_router_events_published", "Lifecycle events the outbox relay put on the bus, by name."
        )
        self.ingest_lag = lag_histogram(
            enabled,
            "codeswarm_router_ingest_lag_seconds",
            "From a node record's own timestamp to its events on the bus.",
        )
        for recorder in (self.events_ingested, self.events_published, self.ingest_lag):
            self.registry.register(recorder)
        registry = self.registry
        self.launches = Counter(
            "codeswarm_router_launches", "Launches accepted, by provider.", ["provider"], registry=registry
        )
        self.launch_rejections = Counter(
            "codeswarm_router_launch_rejections",
            "Launches that ended without a running job, by provider and reason (refused, failed, timed_out).",
            ["provider", "reason"],
            registry=registry,
        )
        self.inject_delivery = Histogram(
            "codeswarm_router_inject_delivery_seconds",
            "From an injection's acceptance to its delivery to every target node's inbox, by provider.",
            ["provider"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.probe_seconds = Histogram(
            "codeswarm_router_probe_seconds",
            "How long one batched probe of a cluster's jobs took.",
            ["cluster"],
            buckets=PROBE_BUCKETS,
            registry=registry,
        )
        self.probe_failures = Counter(
            "codeswarm_router_probe_failures",
            "Probes that gave no answer, per cluster.",
            ["cluster"],
            registry=registry,
        )
        self.transaction_seconds = Histogram(
            "codeswarm_router_db_transaction_seconds",
            "Database transactions, from opening to commit or rollback.",
            buckets=TRANSACTION_BUCKETS,
            registry=registry,
        )
        self.swarms_by_status: dict[str, int] = {}  # set by the /metrics route from the database

    def rejected(self, provider: str, reason: str) -> None:
        self.launch_rejections.labels(provider, reason).inc()

    def watch(self, core: RouterCore) -> None:
        """Add the families read from ``core`` when scraped."""
        self.registry.register(_RouterState(core, self))


class _RouterState(Collector):
    def __init__(self, core: RouterCore, metrics: RouterMetrics) -> None:
        self.core = core
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        swarms = GaugeMetricFamily("codeswarm_swarms", "Swarms known to the router, by status.", labels=["status"])
        for status, count in sorted(self.metrics.swarms_by_status.items()):
            swarms.add_metric([status], count)
        yield swarms
        nodes = GaugeMetricFamily("codeswarm_nodes", "Nodes of live swarms, by status.", labels=["status"])
        for status, count in sorted(Tally(str(n.status) for n in self.core.ingest.nodes.values()).items()):
            nodes.add_metric([status], count)
        yield nodes
        yield CounterMetricFamily(
            "codeswarm_ingested_records",
            "Outbox records ingested since the router started.",
            value=self.core.ingest.records_ingested,
        )
        yield GaugeMetricFamily(
            "codeswarm_router_relay_backlog",
            "Committed lifecycle events handed to the outbox relay and not yet on the bus.",
            value=self.core.relay.backlog,
        )
        reconnects = CounterMetricFamily(
            "codeswarm_router_ssh_reconnects",
            "SSH connections opened to a cluster after its first one (each one a reconnect).",
            labels=["cluster"],
        )
        by_cluster: dict[str, int] = {}
        for provider in self.core.providers.values():
            ssh = getattr(getattr(provider, "cluster", None), "ssh", None)  # Slurm providers only
            if ssh is not None:
                by_cluster[provider.config.cluster] = max(ssh.connects - 1, 0)
        for cluster, count in sorted(by_cluster.items()):
            reconnects.add_metric([cluster], count)
        yield reconnects
