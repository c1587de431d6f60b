"""request_id ↔ swarm_id memory and request_id on relayed events."""

from __future__ import annotations

import orjson

from mirror.ledger import RequestLedger


def test_launch_and_inject_requests_annotate_what_is_relayed() -> None:
    ledger = RequestLedger()
    ledger.record("rq-launch", "sw-a", "launch")
    ledger.record("rq-inject", "sw-a", "inject", [{"node_id": 0, "injection_id": "in-1"}])

    status = {"swarm_id": "sw-a", "status": "running"}
    assert ledger.annotate("swarm_status", status) and status["request_id"] == "rq-launch"
    delta = {"swarm_id": "sw-a", "node_id": 0, "injection_id": "in-1", "delta": "x"}
    assert ledger.annotate("assistant_delta", delta) and delta["request_id"] == "rq-inject"
    own = {"swarm_id": "sw-a", "request_id": "rq-other"}
    assert not ledger.annotate("swarm_status", own) and own["request_id"] == "rq-other"
    unknown = {"swarm_id": "sw-b", "status": "running"}
    assert not ledger.annotate("swarm_status", unknown) and "request_id" not in unknown

    record = ledger.lookup("rq-inject")
    assert record is not None and record.view() == {
        "request_id": "rq-inject",
        "swarm_id": "sw-a",
        "command": "inject",
        "injections": [{"node_id": 0, "injection_id": "in-1"}],
    }


def test_ids_are_learned_from_events_the_router_sends() -> None:
    ledger = RequestLedger()
    ledger.learn("swarm_launch_progress", {"swarm_id": "sw-a", "request_id": "rq-1", "phase": "submitted"})
    ledger.learn("inject_ack", {"swarm_id": "sw-a", "request_id": "rq-2", "node_id": 1, "injection_id": "in-9"})
    ledger.learn("command_rejected", {"swarm_id": "sw-z", "request_id": "rq-3", "command": "launch"})
    assert ledger.creator_of("sw-a") == "rq-1"
    data = {"swarm_id": "sw-a", "injection_id": "in-9"}
    ledger.annotate("turn_started", data)
    assert data["request_id"] == "rq-2"
    rejected = ledger.lookup("rq-3")
    assert rejected is not None and rejected.command == "launch" and ledger.creator_of("sw-z") == "rq-3"


def test_the_ledger_is_bounded_and_survives_a_snapshot() -> None:
    ledger = RequestLedger(capacity=3)
    for n in range(10):
        ledger.record(f"rq-{n}", f"sw-{n}", "inject", [{"node_id": 0, "injection_id": f"in-{n}"}])
    assert [r["request_id"] for r in orjson.loads(orjson.dumps(ledger.stored()))] == ["rq-7", "rq-8", "rq-9"]
    ledger.record("rq-8", "sw-8", "inject", [{"node_id": 1, "injection_id": "in-8b"}])  # changed after encoding
    stored = orjson.loads(orjson.dumps(ledger.stored()))  # as the mirror's snapshot stores them
    assert [r["request_id"] for r in stored] == ["rq-7", "rq-9", "rq-8"]
    assert stored[2]["injections"] == [{"node_id": 0, "injection_id": "in-8"}, {"node_id": 1, "injection_id": "in-8b"}]
    assert ledger.creator_of("sw-0") is None
    copy = RequestLedger()
    copy.load(stored)
    assert copy.lookup("rq-8") == ledger.lookup("rq-8") and copy.lookup("rq-6") is None
