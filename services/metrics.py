"""What the router's and the mirror's metrics share: one registry per app, the hot-path recorders and
the exposition.

Every app gets its own ``CollectorRegistry`` (the embedded mode runs router and mirror in one process,
and tests build many apps): nothing is registered in prometheus-client's global default registry.

Two recorders are made for the path every event takes, where a prometheus-client ``Counter.inc`` or
``Histogram.observe`` (a lock and a Python-level bucket walk, about a microsecond each) would cost more
than the rest of an event's handling in the mirror: :class:`EventCounts` (plain integers per event name)
and :class:`LagHistogram` (a bisect into plain bucket counts).  Both are collectors: prometheus-client
turns them into the same text at scrape time.  They are touched only from the event loop's thread.
With metrics off (``CODESWARM_METRICS=false``) the null variants record nothing, so that the cost of
metrics can be measured against the same build.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

from fastapi.responses import Response
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

# The text format every Prometheus (2.x and 3.x) scrapes.
TEXT_FORMAT = CONTENT_TYPE_PLAIN_0_0_4

disable_created_metrics()  # no `_created` series: nothing here needs them and they double the text

# Seconds: 1 ms to 30 s, for ingest lag, delivery lag and inject → delivered.
LAG_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class EventCounts(Collector):
    """A counter labelled by event name, kept as plain integers (the event names are few and known)."""

    def __init__(self, name: str, documentation: str, label: str = "event") -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.counts: dict[str, int] = {}

    def add(self, event: str, amount: int = 1) -> None:
        counts = self.counts
        counts[event] = counts.get(event, 0) + amount

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for event, count in sorted(self.counts.items()):
            family.add_metric([str(event)], count)
        yield family


class LagHistogram(Collector):
    """A histogram without labels whose ``observe`` is a bisect and two additions."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...] = LAG_BUCKETS) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = list(buckets)
        self.buckets = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, seconds: float, times: int = 1) -> None:
        self.buckets[bisect.bisect_left(self.bounds, seconds)] += times
        self.sum += seconds * times

    def observe_since(self, now: float, stamps: Iterable[float]) -> None:
        """One observation of ``now - stamp`` per stamp (epoch seconds; 0 = unknown, not observed).
        Runs of equal stamps (the events of one record) are observed at once."""
        last, run = 0.0, 0
        for stamp in stamps:
            if stamp != last:
                if run and last:
                    self.observe(now - last, run)
                last, run = stamp, 0
            run += 1
        if run and last:
            self.observe(now - last, run)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation)
        cumulative, rows = 0, []
        for bound, count in zip([*self.bounds, float("inf")], self.buckets, strict=True):
            cumulative += count
            rows.append((_bound_text(bound), cumulative))
        family.add_metric([], rows, self.sum)
        yield family


class NullEventCounts(EventCounts):
    def add(self, event: str, amount: int = 1) -> None:
        return None


class NullLagHistogram(LagHistogram):
    def observe(self, seconds: float, times: int = 1) -> None:
        return None

    def observe_since(self, now: float, stamps: Iterable[float]) -> None:
        return None


def event_counts(enabled: bool, name: str, documentation: str) -> EventCounts:
    return EventCounts(name, documentation) if enabled else NullEventCounts(name, documentation)


def lag_histogram(enabled: bool, name: str, documentation: str) -> LagHistogram:
    return LagHistogram(name, documentation) if enabled else NullLagHistogram(name, documentation)


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


def exposition(registry: CollectorRegistry) -> Response:
    """The Prometheus text of one app's registry."""
    return Response(generate_latest(registry), media_type=TEXT_FORMAT)
