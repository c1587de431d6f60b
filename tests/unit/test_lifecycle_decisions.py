"""Every lifecycle decision of router/lifecycle.py, row by row (pure functions: no database, no process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router import lifecycle
from router.ingest_nodes import TrackedNode, disbelieve_exit, mark_stale, stale_nodes
from router.lifecycle import EXIT_REASON_MAX, TERMINATED_BY_USER, Decision, JobEnd, ProbeVerdict
from router.providers.base import JobReport, JobState
from services.protocol import Health, NodeStatus, SwarmStatus

S = SwarmStatus
MOMENT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def node(
    node_id: int, activity: NodeStatus = NodeStatus.EXITED, code: int | None = 0, why: str | None = None
) -> TrackedNode:
    return TrackedNode(
        swarm_id="s",
        cluster="local",
        job_id="j",
        node_id=node_id,
        committed_seq=0,
        committed_offset=0,
        published_seq=0,
        activity=activity,
        exit_code=code if activity is NodeStatus.EXITED else None,
        exit_reason=why,
    )


def test_launch_accepted_starts_launching_and_healthy() -> None:
    assert lifecycle.on_launch_accepted() == {"status": "launching", "health": "ok"}


def test_provider_missing_only_makes_health_unknown() -> None:
    assert lifecycle.on_provider_missing("provider 'x' is not in the providers file") == (
        Health.UNKNOWN,
        "provider 'x' is not in the providers file",
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.LAUNCHING, Decision(S.REJECTED, "no")),
        (S.TERMINATING, Decision(S.FAILED, "no")),  # a terminate came first: no rejected from there
        (S.PENDING, Decision(S.FAILED, "no")),
        (S.TERMINATED, None),
        (S.FAILED, None),
        (S.REJECTED, None),
        (S.REMOVED, None),
    ],
)
def test_launch_refused(status: SwarmStatus, expected: Decision | None) -> None:
    assert lifecycle.on_launch_refused(status, "no") == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.LAUNCHING, Decision(S.FAILED, "gone")),
        (S.RUNNING, Decision(S.FAILED, "gone")),
        (S.TERMINATING, Decision(S.FAILED, "gone")),
        (S.FAILED, None),
        (S.TERMINATED, None),
    ],
)
def test_launch_abandoned(status: SwarmStatus, expected: Decision | None) -> None:
    assert lifecycle.on_launch_abandoned(status, "gone") == expected


@pytest.mark.parametrize(
    ("status", "report", "expected"),
    [
        (S.LAUNCHING, JobReport(JobState.PENDING, "Priority"), Decision(S.PENDING, "Priority")),
        (S.LAUNCHING, JobReport(JobState.RUNNING), Decision(S.RUNNING)),
        (S.LAUNCHING, JobReport(JobState.ENDED), Decision(S.RUNNING)),  # the probes confirm the end
        (S.LAUNCHING, JobReport(JobState.UNKNOWN), Decision(S.RUNNING)),
        (S.LAUNCHING, None, Decision(S.RUNNING)),
        (S.TERMINATING, JobReport(JobState.RUNNING), None),  # terminated while launching: stays
        (S.RUNNING, JobReport(JobState.RUNNING), None),  # after a restart: already past launching
    ],
)
def test_job_started(status: SwarmStatus, report: JobReport | None, expected: Decision | None) -> None:
    assert lifecycle.on_job_started(status, report) == expected


@pytest.mark.parametrize("status", list(SwarmStatus))
def test_job_id_reused(status: SwarmStatus) -> None:
    decision = lifecycle.on_job_id_reused(status, "c1", "42", "new")
    if status in (S.TERMINATED, S.FAILED, S.REJECTED, S.REMOVED):
        assert decision is None
    else:
        assert decision is not None and decision.target is S.FAILED
        assert "c1 gave job id 42 to swarm new" in (decision.reason or "")


@pytest.mark.parametrize(
    ("status", "reason", "report", "expected"),
    [
        (S.RUNNING, None, None, ProbeVerdict(Health.UNKNOWN, "no answer")),
        (S.RUNNING, None, JobReport(JobState.UNKNOWN, "ssh timeout"), ProbeVerdict(Health.UNKNOWN, "ssh timeout")),
        (S.PENDING, None, JobReport(JobState.UNKNOWN), ProbeVerdict(Health.UNKNOWN, None)),
        (
            S.RUNNING,
            None,
            JobReport(JobState.ENDED, "TIMEOUT", failed=True),
            ProbeVerdict(Health.OK, ended=JobEnd(True, "TIMEOUT")),
        ),
        (S.PENDING, None, JobReport(JobState.ENDED), ProbeVerdict(Health.OK, ended=JobEnd(False, "job ended"))),
        (S.PENDING, "Priority", JobReport(JobState.RUNNING), ProbeVerdict(Health.OK, change=Decision(S.RUNNING))),
        (S.RUNNING, None, JobReport(JobState.RUNNING), ProbeVerdict(Health.OK)),
        (S.TERMINATING, None, JobReport(JobState.RUNNING), ProbeVerdict(Health.OK)),
        (
            S.PENDING,
            "Priority",
            JobReport(JobState.PENDING, "Resources"),
            ProbeVerdict(Health.OK, pending_reason="Resources"),
        ),
        (S.PENDING, "Priority", JobReport(JobState.PENDING, "Priority"), ProbeVerdict(Health.OK)),
        (S.PENDING, "Priority", JobReport(JobState.PENDING), ProbeVerdict(Health.OK)),
    ],
)
def test_probe_report(
    status: SwarmStatus, reason: str | None, report: JobReport | None, expected: ProbeVerdict
) -> None:
    assert lifecycle.on_probe_report(status, reason, report, "no answer") == expected


def test_failed_exits_groups_nodes_with_the_same_words() -> None:
    nodes = [node(0, code=2, why="no binary"), node(1, code=0), node(2, code=2, why="no binary"), node(3, code=1)]
    assert (
        lifecycle.failed_exits(nodes)
        == "node 0, 2 exited with code 2: no binary; node 3 exited with code 1: no reason given"
    )
    assert lifecycle.failed_exits([node(0), node(1)]) is None


def test_failed_exits_is_bounded() -> None:
    summary = lifecycle.failed_exits([node(0, code=1, why="x" * 3 * EXIT_REASON_MAX)])
    assert summary is not None and len(summary) == EXIT_REASON_MAX and summary.endswith("…")


CLEAN = [node(0), node(1)]
ONE_FAILED = [node(0), node(1, code=3, why="boom")]


@pytest.mark.parametrize(
    ("status", "reason", "nodes", "probe_tells_why", "expected"),
    [
        (S.RUNNING, None, [node(0)], False, None),  # one of two nodes tracked
        (S.RUNNING, None, [node(0), node(1, NodeStatus.IDLE)], False, None),  # one still runs
        (S.RUNNING, None, [node(0), node(1, NodeStatus.STARTING)], False, None),
        (S.RUNNING, None, CLEAN, False, Decision(S.TERMINATED, "every node program exited")),
        (S.RUNNING, None, CLEAN, True, None),  # the backend's probe says why the job ended
        (S.RUNNING, None, ONE_FAILED, False, Decision(S.FAILED, "node 1 exited with code 3: boom")),
        (S.RUNNING, None, ONE_FAILED, True, Decision(S.FAILED, "node 1 exited with code 3: boom")),
        (S.PENDING, None, ONE_FAILED, False, Decision(S.FAILED, "node 1 exited with code 3: boom")),
        (S.TERMINATING, "bye", ONE_FAILED, False, Decision(S.TERMINATED, "bye")),
        (S.TERMINATING, None, CLEAN, True, Decision(S.TERMINATED, TERMINATED_BY_USER)),
    ],
)
def test_exit_records(
    status: SwarmStatus,
    reason: str | None,
    nodes: list[TrackedNode],
    probe_tells_why: bool,
    expected: Decision | None,
) -> None:
    assert lifecycle.on_exit_records(status, reason, 2, nodes, probe_tells_why) == expected


BY_RECORDS = Decision(S.FAILED, "node 0 exited with code 1: boom")


@pytest.mark.parametrize(
    ("status", "reason", "end", "by_records", "expected"),
    [
        (
            S.TERMINATING,
            "terminated by user",
            JobEnd(False, "job ended"),
            None,
            Decision(S.TERMINATED, "terminated by user"),
        ),
        (S.TERMINATING, None, JobEnd(True, "CANCELLED"), BY_RECORDS, Decision(S.TERMINATED, "CANCELLED")),
        (S.RUNNING, None, JobEnd(False, "COMPLETED"), BY_RECORDS, BY_RECORDS),
        (S.RUNNING, None, JobEnd(False, "COMPLETED"), None, Decision(S.TERMINATED, "COMPLETED")),
        (S.RUNNING, None, JobEnd(True, "TIMEOUT"), None, Decision(S.FAILED, "TIMEOUT")),
        (S.PENDING, "Priority", JobEnd(True, "still pending"), None, Decision(S.FAILED, "still pending")),
        (S.LAUNCHING, None, JobEnd(False, TERMINATED_BY_USER), None, Decision(S.TERMINATED, TERMINATED_BY_USER)),
        (S.TERMINATED, None, JobEnd(True, "late"), None, None),
        (S.FAILED, None, JobEnd(False, "late"), BY_RECORDS, None),
        (S.REJECTED, None, JobEnd(False, "late"), None, None),
        (S.REMOVED, None, JobEnd(False, "late"), None, None),
    ],
)
def test_confirmed_end(
    status: SwarmStatus, reason: str | None, end: JobEnd, by_records: Decision | None, expected: Decision | None
) -> None:
    assert lifecycle.on_confirmed_end(status, reason, end, by_records) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.LAUNCHING, Decision(S.TERMINATING, TERMINATED_BY_USER)),
        (S.PENDING, Decision(S.TERMINATING, TERMINATED_BY_USER)),
        (S.RUNNING, Decision(S.TERMINATING, TERMINATED_BY_USER)),
        (S.TERMINATING, None),  # a second terminate is answered with the first one's id
        (S.TERMINATED, None),
        (S.FAILED, None),
        (S.REJECTED, None),
        (S.REMOVED, None),
    ],
)
def test_terminate(status: SwarmStatus, expected: Decision | None) -> None:
    assert lifecycle.on_terminate(status) == expected
    if expected is not None:
        assert lifecycle.can_transition(status, expected.target)


TTL_S = 900.0


@pytest.mark.parametrize(
    ("status", "ended_ago_s", "expected"),
    [
        (S.TERMINATED, TTL_S, Decision(S.REMOVED)),  # at the TTL exactly
        (S.FAILED, TTL_S + 1, Decision(S.REMOVED)),
        (S.TERMINATED, TTL_S - 1, None),
        (S.FAILED, 0.0, None),
        (S.TERMINATED, None, None),  # no end time recorded
        (S.RUNNING, TTL_S * 2, None),
        (S.REJECTED, TTL_S * 2, None),  # rejected launches are never listed: nothing to remove
        (S.REMOVED, TTL_S * 2, None),
    ],
)
def test_ttl(status: SwarmStatus, ended_ago_s: float | None, expected: Decision | None) -> None:
    ended = None if ended_ago_s is None else MOMENT - timedelta(seconds=ended_ago_s)
    assert lifecycle.on_ttl(status, ended, MOMENT, TTL_S) == expected


def test_ttl_reads_a_naive_time_as_utc() -> None:  # SQLite hands back naive datetimes
    ended = (MOMENT - timedelta(seconds=TTL_S)).replace(tzinfo=None)
    assert lifecycle.on_ttl(S.TERMINATED, ended, MOMENT, TTL_S) == Decision(S.REMOVED)


TIMEOUT_S = 60.0


@pytest.mark.parametrize(
    ("status", "reason", "age_s", "expected"),
    [
        (
            S.PENDING,
            "Priority",
            TIMEOUT_S + 1,
            JobEnd(True, "still pending after the launch timeout of 60s (Priority); cancelled"),
        ),
        (
            S.PENDING,
            None,
            TIMEOUT_S * 2,
            JobEnd(True, "still pending after the launch timeout of 60s (no reason given); cancelled"),
        ),
        (S.PENDING, "Priority", TIMEOUT_S, None),  # at the timeout exactly: not yet past it
        (S.PENDING, "Priority", 1.0, None),
        (S.RUNNING, None, TIMEOUT_S * 2, None),
        (S.LAUNCHING, None, TIMEOUT_S * 2, None),
    ],
)
def test_pending_timeout(status: SwarmStatus, reason: str | None, age_s: float, expected: JobEnd | None) -> None:
    created = MOMENT - timedelta(seconds=age_s)
    assert lifecycle.on_pending_timeout(status, reason, created, MOMENT, TIMEOUT_S) == expected


def test_every_decision_is_a_legal_transition() -> None:
    """Each target a decision names is legal from the status it was decided on."""
    for status in SwarmStatus:
        for decision in (
            lifecycle.on_launch_refused(status, "r"),
            lifecycle.on_launch_abandoned(status, "r"),
            lifecycle.on_job_started(status, None),
            lifecycle.on_job_id_reused(status, "c", "j", "s"),
            lifecycle.on_terminate(status),
            lifecycle.on_ttl(status, MOMENT - timedelta(seconds=TTL_S), MOMENT, TTL_S),
        ):
            assert decision is None or lifecycle.can_transition(status, decision.target), (status, decision)
    for status in (S.PENDING, S.RUNNING, S.TERMINATING):  # nodes are tracked once the job started
        for nodes in ([node(0, code=1)], [node(0)]):
            decision = lifecycle.on_exit_records(status, None, 1, nodes, False)
            assert decision is not None and lifecycle.can_transition(status, decision.target), (status, decision)


def test_staleness_of_nodes() -> None:
    idle, busy = node(0, NodeStatus.IDLE), node(1, NodeStatus.BUSY)
    starting, exited = node(2, NodeStatus.STARTING), node(3, NodeStatus.EXITED)
    for tracked in (idle, busy, starting, exited):
        tracked.last_seen = 10.0
    assert {n.node_id for n in stale_nodes([idle, busy, starting, exited], limit=11.0)} == {idle.node_id, busy.node_id}
    assert stale_nodes([idle], limit=10.0) == []  # heard from at the limit: not stale
    mark_stale(idle)
    assert idle.status is NodeStatus.STALE
    assert stale_nodes([idle], limit=11.0) == []  # already stale


def test_an_exit_not_believed_counts_as_running_again() -> None:
    exited = node(0, code=2, why="forged")
    disbelieve_exit(exited)
    assert (exited.status, exited.exit_code, exited.exit_reason) == (NodeStatus.IDLE, None, None)
