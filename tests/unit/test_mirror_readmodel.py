"""The mirror's read model: built from the router's events, reconciled against the router's list."""

from __future__ import annotations

from typing import Any

from mirror.readmodel import ReadModel
from services.protocol import make_envelope


def swarm(swarm_id: str, status: str = "running", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "swarm_id": swarm_id,
        "job_id": f"job-{swarm_id}",
        "alias": None,
        "provider": "local",
        "runtime": "mock",
        "node_count": 1,
        "status": status,
        "health": "ok",
        "reason": None,
        "created_at": "2026-11-24T10:00:00.000Z",
        "terminated_at": None,
        "nodes": [{"node_id": 0, "status": "idle", "last_heartbeat_at": None}],
    }
    return {**base, **fields}


class Feed:
    """Applies events to a model with increasing entry keys."""

    def __init__(self, model: ReadModel) -> None:
        self.model = model
        self.ms = 1000

    def __call__(self, event: str, **data: Any) -> tuple[int, int]:
        self.ms += 1
        key = (self.ms, 0)
        self.model.apply(event, make_envelope(event, data), key)
        self.model.advance(f"{key[0]}-{key[1]}", key)
        return key


def test_events_build_the_model_without_inventing_anything() -> None:
    model = ReadModel()
    feed = Feed(model)
    feed("swarm_status", swarm_id="sw-x", status="running", health="ok", reason=None)
    feed("node_status", swarm_id="sw-x", node_id=0, status="busy")
    assert model.swarms == {}  # an unknown swarm is not made up from a partial event

    feed("swarm_launch_progress", swarm_id="sw-a", request_id="rq-1", phase="submitted", message="m")
    assert model.swarms == {}  # progress without the swarm itself: nothing to show yet
    feed("swarm_launched", swarm_id="sw-a", request_id="rq-1", swarm=swarm("sw-a", "pending", job_id=None))
    assert model.swarms["sw-a"]["status"] == "pending"

    feed("swarm_status", swarm_id="sw-a", job_id="job-a", status="running", health="unknown", reason="probe timed out")
    feed("node_status", swarm_id="sw-a", node_id=1, status="busy", last_heartbeat_at="t1")
    feed("node_status", swarm_id="sw-a", node_id=0, status="stale", last_heartbeat_at="t0")
    state = model.state()
    (only,) = state["swarms"]
    assert (only["status"], only["health"], only["reason"], only["job_id"]) == (
        "running",
        "unknown",
        "probe timed out",
        "job-a",
    )
    assert [(n["node_id"], n["status"]) for n in only["nodes"]] == [(0, "stale"), (1, "busy")]
    assert state["last_event_id"] == model.position

    feed("swarm_terminated", swarm_id="sw-a", status="terminated", reason="terminated by user")
    assert model.swarms["sw-a"]["status"] == "terminated" and model.swarms["sw-a"]["terminated_at"]
    feed("swarm_removed", swarm_id="sw-a", reason="ttl")
    assert model.swarms == {}


def test_a_rejected_or_removed_status_hides_the_swarm() -> None:
    model = ReadModel()
    feed = Feed(model)
    feed("swarm_launch_progress", swarm_id="sw-r", request_id="rq", phase="p", message="m", swarm=swarm("sw-r"))
    feed("swarm_status", swarm_id="sw-r", status="rejected", health="ok", reason="sbatch: invalid partition")
    assert "sw-r" not in model.swarms


def test_execution_events_only_move_the_position() -> None:
    model = ReadModel()
    feed = Feed(model)
    version = model.version
    key = feed("assistant_delta", swarm_id="sw-a", node_id=0, item_id="i", delta="x")
    assert model.version == version and model.position_key == key


def test_reconcile_the_router_wins() -> None:
    model = ReadModel()
    feed = Feed(model)
    feed("swarm_launched", swarm_id="sw-a", swarm=swarm("sw-a", "running"))
    feed("swarm_launched", swarm_id="sw-gone", swarm=swarm("sw-gone", "running"))
    feed("swarm_launched", swarm_id="sw-same", swarm=swarm("sw-same", "running"))
    asked_at = model.position_key
    listed = [
        swarm("sw-a", "terminated", reason="job ended", terminated_at="2026-11-24T10:05:00.000Z"),
        swarm("sw-new", "pending"),
        swarm("sw-same", "running", nodes=[{"node_id": 0, "status": "idle", "last_heartbeat_at": "later"}]),
        swarm("sw-hidden", "removed"),
    ]
    outcome = model.reconcile(listed, asked_at)
    assert [s["swarm_id"] for s in outcome.removed] == ["sw-gone"]
    # heartbeat times alone are not worth an event, but the router's fields are taken all the same
    assert sorted(s["swarm_id"] for s in outcome.changed) == ["sw-a", "sw-new"]
    assert model.swarms["sw-a"] == listed[0]
    assert model.swarms["sw-same"]["nodes"][0]["last_heartbeat_at"] == "later"
    assert set(model.swarms) == {"sw-a", "sw-new", "sw-same"}
    again = model.reconcile(listed, model.position_key)
    assert again.removed == [] and again.changed == []


def test_reconcile_keeps_what_an_event_changed_after_the_list_was_asked_for() -> None:
    model = ReadModel()
    feed = Feed(model)
    feed("swarm_launched", swarm_id="sw-a", swarm=swarm("sw-a", "running"))
    asked_at = model.position_key
    # while the list request is in flight: sw-a terminates, sw-b is launched
    feed("swarm_status", swarm_id="sw-a", status="terminated", health="ok", reason="terminated by user")
    feed("swarm_launched", swarm_id="sw-b", swarm=swarm("sw-b", "launching"))
    stale_answer = [swarm("sw-a", "running")]  # taken before either change
    outcome = model.reconcile(stale_answer, asked_at)
    assert outcome.removed == [] and outcome.changed == []
    assert model.swarms["sw-a"]["status"] == "terminated" and "sw-b" in model.swarms
    # the next answer, asked after those events, settles it
    outcome = model.reconcile([swarm("sw-a", "terminated", reason="terminated by user")], model.position_key)
    assert [s["swarm_id"] for s in outcome.removed] == ["sw-b"]


def test_a_swarm_removed_by_an_event_is_not_brought_back_by_an_older_list() -> None:
    model = ReadModel()
    feed = Feed(model)
    feed("swarm_launched", swarm_id="sw-a", swarm=swarm("sw-a", "terminated"))
    asked_at = model.position_key
    feed("swarm_removed", swarm_id="sw-a", reason="ttl")
    outcome = model.reconcile([swarm("sw-a", "terminated")], asked_at)
    assert "sw-a" not in model.swarms and outcome.changed == []


def test_load_restores_position_and_swarms() -> None:
    model = ReadModel()
    model.load("1234-5", [swarm("sw-a"), {"no": "id"}])
    assert model.position == "1234-5" and model.position_key == (1234, 5) and list(model.swarms) == ["sw-a"]
