"""Translation of real codex app-server 0.169.0 transcripts into codeswarm.router.v1 events."""

from __future__ import annotations

from typing import Any

import pytest

from router.translate import (
    APPROVAL_REQUESTS,
    IGNORED_METHODS,
    REFUSED_REQUESTS,
    RUNTIME_METHODS,
    activity_after,
    translate_record,
    translate_runtime,
)
from services.node.records import (
    NODE_APPROVAL_ANSWERED,
    NODE_INJECTION_QUEUED,
    NODE_ITEM_ABANDONED,
    NODE_STEER_REJECTED,
    NODE_TURN_ABORTED,
)
from services.protocol import EventName, NodeStatus
from tests.support.fixtures import as_records, codex_out_messages, scenario_files, schema_methods


def events_of(scenario: str) -> list[tuple[EventName, dict[str, Any]]]:
    return [event for record in as_records(codex_out_messages(scenario)) for event in translate_record(record)]


def named(events: list[tuple[EventName, dict[str, Any]]], name: EventName) -> list[dict[str, Any]]:
    return [fields for event, fields in events if event is name]


@pytest.mark.parametrize("scenario", scenario_files())
def test_every_codex_message_is_mapped_or_deliberately_ignored(scenario: str) -> None:
    unknown = [f["message"] for f in named(events_of(scenario), EventName.AGENT_ERROR) if "unknown" in f["message"]]
    assert unknown == []


def test_plain_turn_streams_reasoning_and_answer_that_add_up() -> None:
    events = events_of("plain.jsonl")
    names = [event for event, _ in events]
    assert names[0] is EventName.THREAD_STATUS
    assert names.index(EventName.TURN_STARTED) < names.index(EventName.REASONING_DELTA)
    assert names[-1] is EventName.TURN_COMPLETE
    reasoning = named(events, EventName.REASONING)[0]["text"]
    assert "".join(f["delta"] for f in named(events, EventName.REASONING_DELTA)) == reasoning
    answer = named(events, EventName.ASSISTANT)[0]["text"]
    assert answer == "Hello from the fake model! 2 + 2 = 4."
    assert "".join(f["delta"] for f in named(events, EventName.ASSISTANT_DELTA)) == answer
    assert named(events, EventName.USAGE)[0]["total"]["totalTokens"] == 1282
    assert named(events, EventName.TURN_COMPLETE)[0]["status"] == "completed"


def test_failing_command_keeps_exit_code_and_merged_output() -> None:
    events = events_of("shell_nonzero_exit.jsonl")
    started = named(events, EventName.COMMAND_STARTED)[0]
    completed = named(events, EventName.COMMAND_COMPLETED)[0]
    assert started["call_id"] == completed["call_id"]
    assert completed["exit_code"] == 3
    assert completed["status"] == "failed"
    assert "partial" in completed["output"] and "oops" in completed["output"]
    streamed = "".join(f["delta"] for f in named(events, EventName.COMMAND_OUTPUT_DELTA))
    assert streamed == completed["output"]


def test_usage_is_cumulative_in_the_last_report() -> None:
    usages = named(events_of("shell_never.jsonl"), EventName.USAGE)
    assert [u["total"]["totalTokens"] for u in usages] == [1282, 2594]


def test_approval_request_offers_the_decisions_codex_offers() -> None:
    events = events_of("shell_onrequest_accept.jsonl")
    [required] = named(events, EventName.EXEC_APPROVAL_REQUIRED)
    assert required["call_id"].startswith("call_") and required["request_id"] == 0
    assert "hello.txt" in required["command"] and required["cwd"] == "/workspace"
    assert required["reason"] == "Allow writing hello.txt in the workspace?"
    assert required["available_decisions"] == ["accept", "acceptWithExecpolicyAmendment", "decline", "cancel"]
    assert named(events, EventName.EXEC_APPROVAL_RESOLVED) == []  # codex's resolved names no call


def test_the_nodes_answer_is_the_resolution_with_call_and_decision() -> None:
    message = {"method": NODE_APPROVAL_ANSWERED, "params": {"callId": "call_1", "requestId": 0, "decision": "accept"}}
    assert translate_runtime(message) == [
        (EventName.EXEC_APPROVAL_RESOLVED, {"call_id": "call_1", "request_id": 0, "decision": "accept"})
    ]


def test_every_server_notification_and_request_of_the_schema_is_mapped_or_ignored() -> None:
    known = set(RUNTIME_METHODS) | IGNORED_METHODS | {"item/started", "item/completed"}
    assert sorted(set(schema_methods("ServerNotification")) - known) == []
    assert sorted(set(schema_methods("ServerRequest")) - set(APPROVAL_REQUESTS) - REFUSED_REQUESTS) == []


def test_a_retried_model_error_is_a_warning_and_the_final_one_an_error() -> None:
    events = events_of("error_http500_retry.jsonl")
    warnings = named(events, EventName.AGENT_WARNING)
    assert len(warnings) == 2 and all(w["will_retry"] for w in warnings)
    [error] = named(events, EventName.AGENT_ERROR)
    assert error["will_retry"] is False


def test_the_node_programs_own_messages() -> None:
    item = {"type": "commandExecution", "id": "call_9", "command": "sleep 30", "cwd": "/w", "aggregatedOutput": "x"}
    [(event, fields)] = translate_runtime(
        {"method": NODE_ITEM_ABANDONED, "params": {"item": item, "status": "interrupted"}}
    )
    assert event is EventName.COMMAND_COMPLETED
    assert (fields["call_id"], fields["status"], fields["exit_code"]) == ("call_9", "interrupted", None)
    aborted = translate_runtime({"method": NODE_TURN_ABORTED, "params": {"turnId": "t", "message": "codex exited"}})
    assert [e for e, _ in aborted] == [EventName.AGENT_ERROR, EventName.TURN_COMPLETE]
    assert aborted[1][1]["status"] == "failed" and aborted[1][1]["error"] == {"message": "codex exited"}
    [(event, fields)] = translate_runtime({"method": NODE_STEER_REJECTED, "params": {"message": "no active turn"}})
    assert event is EventName.INJECT_FAILED and "no active turn" in fields["reason"]
    [(event, fields)] = translate_runtime({"method": NODE_INJECTION_QUEUED, "params": {"position": 2}})
    assert (event, fields) == (EventName.INJECT_QUEUED, {"position": 2})


def test_refused_server_requests_are_visible() -> None:
    [(event, fields)] = translate_runtime({"id": 3, "method": "item/tool/requestUserInput", "params": {}})
    assert event is EventName.AGENT_ERROR and "requestUserInput" in fields["message"]


def test_activity_comes_from_the_normalized_turn_events() -> None:
    assert activity_after(EventName.TURN_STARTED) is NodeStatus.BUSY
    assert activity_after(EventName.TURN_COMPLETE) is NodeStatus.IDLE
    assert activity_after(EventName.ASSISTANT_DELTA) is None


def test_model_failure_is_an_agent_error_and_a_failed_turn() -> None:
    events = events_of("error_http500.jsonl")
    error = named(events, EventName.AGENT_ERROR)[0]
    assert error["code"] == "internalServerError" and error["will_retry"] is False
    assert named(events, EventName.TURN_COMPLETE)[0]["status"] == "failed"


def test_unknown_method_and_record_kind_become_visible_errors() -> None:
    [(event, fields)] = translate_record(
        {"seq": 1, "kind": "runtime", "payload": {"method": "brand/new", "params": {}}}
    )
    assert event is EventName.AGENT_ERROR and "brand/new" in fields["message"]
    [(event, fields)] = translate_record({"seq": 2, "kind": "mystery", "payload": {}})
    assert event is EventName.AGENT_ERROR and "mystery" in fields["message"]
