"""Translation of real codex app-server 0.169.0 transcripts into codeswarm.router.v1 events."""

from __future__ import annotations

from typing import Any

import pytest

from router.translate import translate_record
from services.protocol import EventName
from tests.support.fixtures import as_records, codex_out_messages, scenario_files


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


def test_approval_request_and_its_resolution() -> None:
    events = events_of("shell_untrusted_accept.jsonl")
    required = named(events, EventName.EXEC_APPROVAL_REQUIRED)[0]
    assert required["call_id"].startswith("call_")
    assert "hello.txt" in required["command"]
    assert named(events, EventName.EXEC_APPROVAL_RESOLVED)[0]["request_id"] == required["request_id"]


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
