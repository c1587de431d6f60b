"""The cheap recorders of services/metrics.py, the metrics switch, and one registry per app."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mirror.items import StreamItem
from mirror.metrics import MirrorMetrics
from router.metrics import RouterMetrics
from services.metrics import LagHistogram


def samples(registry_text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(registry_text.decode())
        for s in family.samples
    }


def item(ms: int, seq: int, event: str, synthetic: bool = False) -> StreamItem:
    return StreamItem(
        id=None if synthetic else f"{ms}-{seq}",
        key=(ms, seq),
        event=event,
        swarm_id="sw-1",
        node_id=0,
        payload=b"{}",
        frame=b"",
    )


def test_the_lag_histogram_is_cumulative_and_observes_runs_of_equal_stamps_once_each() -> None:
    lag = LagHistogram("codeswarm_test_lag_seconds", "test", buckets=(0.01, 0.1, 1.0))
    now = 1000.0
    lag.observe_since(now, [now - 0.005, now - 0.005, 0.0, now - 0.05, now - 5.0])  # 0.0: no stamp
    registry = CollectorRegistry()
    registry.register(lag)
    got = samples(generate_latest(registry))
    bucket = "codeswarm_test_lag_seconds_bucket"
    assert [got[(bucket, (("le", le),))] for le in ("0.01", "0.1", "1.0", "+Inf")] == [2, 3, 3, 4]
    assert got[("codeswarm_test_lag_seconds_count", ())] == 4
    assert abs(got[("codeswarm_test_lag_seconds_sum", ())] - 5.06) < 1e-6


def test_the_mirror_counts_each_event_and_observes_live_entries_only() -> None:
    metrics = MirrorMetrics()
    now_ms = int(time.time() * 1000)
    live = [item(now_ms, 0, "assistant_delta"), item(now_ms, 1, "assistant_delta"), item(now_ms, 1, "swarm_x", True)]
    metrics.delivered(live, live=True)
    metrics.delivered([item(now_ms - 60_000, 0, "turn_complete")], live=False)  # a replay: no lag
    got = samples(generate_latest(metrics.registry))
    delivered = "codeswarm_mirror_events_delivered_total"
    assert got[(delivered, (("event", "assistant_delta"),))] == 2
    assert got[(delivered, (("event", "swarm_x"),))] == 1 and got[(delivered, (("event", "turn_complete"),))] == 1
    assert got[("codeswarm_mirror_delivery_lag_seconds_count", ())] == 2
    assert got[("codeswarm_mirror_delivery_lag_seconds_bucket", (("le", "1.0"),))] == 2


def test_with_metrics_off_the_per_event_series_stay_at_zero_and_the_rest_still_count() -> None:
    router, mirror = RouterMetrics(enabled=False), MirrorMetrics(enabled=False)
    router.events_ingested.add("turn_complete")
    router.ingest_lag.observe_since(time.time(), [time.time() - 0.01])
    router.launches.labels("local").inc()
    mirror.delivered([item(int(time.time() * 1000), 0, "turn_complete")], live=True)
    got = samples(generate_latest(router.registry)) | samples(generate_latest(mirror.registry))
    assert not any(name.endswith("events_ingested_total") or name.endswith("delivered_total") for name, _ in got)
    assert got[("codeswarm_router_ingest_lag_seconds_count", ())] == 0
    assert got[("codeswarm_mirror_delivery_lag_seconds_count", ())] == 0
    assert got[("codeswarm_router_launches_total", (("provider", "local"),))] == 1


def test_every_app_has_its_own_registry_and_the_global_one_is_untouched() -> None:
    first, second = RouterMetrics(), RouterMetrics()  # would raise "Duplicated timeseries" if shared
    first.launches.labels("local").inc()
    assert (
        samples(generate_latest(second.registry)).get(("codeswarm_router_launches_total", (("provider", "local"),)))
        is None
    )
    assert b"codeswarm_" not in generate_latest(REGISTRY)
