"""The mock and shell runtimes in-process: codex shapes, determinism, params, interruption; and the
small parts of the node program (inbox parsing, queue, outbox recovery)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from services.node.errors import ConfigError
from services.node.inbox import parse_inbox_line
from services.node.injections import InjectionQueue
from services.node.messages import Approval, BadLine, Injection
from services.node.outbox import Outbox
from services.node.recovery import read_outbox_state
from services.node.runtimes import RUNTIMES, Runtime
from services.node.runtimes.commands import CommandProcess
from services.node.runtimes.mock import MockRuntime, split_evenly
from services.node.runtimes.shell import ShellRuntime
from tests.support.fixtures import codex_out_messages
from tests.support.node_process import wait_for

Message = dict[str, Any]
FIXTURES = ("plain.jsonl", "shell_never.jsonl", "shell_nonzero_exit.jsonl")

# Every method the mock and shell runtimes emit (the router's translator must know each of them).
MOCK_METHODS = {
    "thread/status/changed",
    "turn/started",
    "item/started",
    "item/completed",
    "item/reasoning/summaryPartAdded",
    "item/reasoning/summaryTextDelta",
    "item/commandExecution/outputDelta",
    "item/agentMessage/delta",
    "thread/tokenUsage/updated",
    "turn/completed",
}


class Recorder:
    """The `emit` callback: keeps (injection_id, message) pairs."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str | None, Message]] = []
        self._lock = threading.Lock()

    def __call__(self, injection_id: str | None, message: Message) -> None:
        with self._lock:
            self.emitted.append((injection_id, message))

    def messages(self, injection_id: str | None = None) -> list[Message]:
        with self._lock:
            return [message for i, message in self.emitted if injection_id is None or i == injection_id]


def shape_key(message: Message) -> tuple[str, str | None]:
    item = message["params"].get("item")
    return message["method"], item["type"] if isinstance(item, dict) else None


def shapes_of(messages: list[Message]) -> dict[tuple[str, str | None], set[frozenset[str]]]:
    """For each (method, item type): the key sets of params, item, turn, tokenUsage seen."""
    shapes: dict[tuple[str, str | None], set[frozenset[str]]] = defaultdict(set)
    for message in messages:
        params = message["params"]
        key = shape_key(message)
        shapes[key].add(frozenset(message))
        shapes[key].add(frozenset(f"params.{k}" for k in params))
        for nested in ("item", "turn", "tokenUsage", "status"):
            if isinstance(params.get(nested), dict):
                shapes[key].add(frozenset(f"{nested}.{k}" for k in params[nested]))
        usage = params.get("tokenUsage") or {}
        for part in ("total", "last"):
            if part in usage:
                shapes[key].add(frozenset(f"{part}.{k}" for k in usage[part]))
    return shapes


def fixture_notifications() -> list[Message]:
    return [m for name in FIXTURES for m in codex_out_messages(name) if "method" in m and "id" not in m]


@pytest.fixture(autouse=True)
def quiet_login_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands inherit the environment; an empty HOME keeps `bash -l` from running a user's profile."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def run_mock(tmp_path: Path, prompts: list[str], **params: Any) -> Recorder:
    recorder = Recorder()
    runtime = MockRuntime(str(tmp_path), recorder, {"delay_ms": 0, **params}, system_prompt="be brief")
    runtime.start()
    for number, prompt in enumerate(prompts):
        runtime.run_turn(Injection(f"inj-{number}", prompt))
    return recorder


# -- codex shapes -------------------------------------------------------------------------------------------


def test_mock_messages_have_exactly_the_codex_keys(tmp_path: Path) -> None:
    messages = run_mock(tmp_path, ["hello\n$ echo hello > hello.txt && cat hello.txt\n$ exit 3"]).messages()
    expected = shapes_of(fixture_notifications())
    produced = shapes_of(messages)
    assert {method for method, _ in produced} == MOCK_METHODS
    for key, key_sets in produced.items():
        assert key in expected, f"{key} does not appear in the codex fixtures"
        assert key_sets <= expected[key], f"{key}: {sorted(map(sorted, key_sets - expected[key]))}"


def test_shell_messages_have_exactly_the_codex_keys(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = ShellRuntime(str(tmp_path), recorder)
    runtime.start()
    runtime.run_turn(Injection("inj-1", "echo out; echo err >&2; exit 4"))
    expected = shapes_of(fixture_notifications())
    for key, key_sets in shapes_of(recorder.messages()).items():
        assert key in expected and key_sets <= expected[key], key
    completed = [
        m["params"]["item"] for m in recorder.messages() if shape_key(m) == ("item/completed", "commandExecution")
    ]
    assert len(completed) == 1
    assert completed[0]["exitCode"] == 4 and completed[0]["status"] == "failed"
    assert sorted(completed[0]["aggregatedOutput"].splitlines()) == ["err", "out"]
    assert completed[0]["command"] == "/bin/bash -lc 'echo out; echo err >&2; exit 4'"
    assert completed[0]["commandActions"] == [{"type": "unknown", "command": "echo out; echo err >&2; exit 4"}]
    assert [m["method"] for m in recorder.messages()][-1] == "turn/completed"
    assert {injection_id for injection_id, _ in recorder.emitted} == {"inj-1"}


def test_ids_are_unique_and_shared_where_codex_shares_them(tmp_path: Path) -> None:
    messages = run_mock(tmp_path, ["$ true", "again"]).messages()
    thread_ids = {m["params"]["threadId"] for m in messages}
    assert len(thread_ids) == 1
    turn_ids = [m["params"]["turn"]["id"] for m in messages if m["method"] == "turn/started"]
    assert len(set(turn_ids)) == 2
    item_ids = [m["params"]["item"]["id"] for m in messages if m["method"] == "item/started"]
    assert len(item_ids) == len(set(item_ids)) == 7  # user, reasoning, command, answer; user, reasoning, answer
    for message in messages:
        if "itemId" in message["params"]:
            assert message["params"]["itemId"] in item_ids


# -- the mock's content ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tokens", [1, 3, 8, 200])
def test_the_answer_is_exactly_tokens_deltas_that_add_up(tmp_path: Path, tokens: int) -> None:
    prompt = "say something"
    messages = run_mock(tmp_path, [prompt], tokens=tokens).messages()
    deltas = [m["params"]["delta"] for m in messages if m["method"] == "item/agentMessage/delta"]
    assert len(deltas) == tokens
    assert "".join(deltas) == f"echo: {prompt}"
    answer = [m["params"]["item"]["text"] for m in messages if shape_key(m) == ("item/completed", "agentMessage")]
    assert answer == [f"echo: {prompt}"]


def test_reasoning_deltas_add_up_to_the_summary(tmp_path: Path) -> None:
    messages = run_mock(tmp_path, ["$ true\nthink"]).messages()
    deltas = [m["params"]["delta"] for m in messages if m["method"] == "item/reasoning/summaryTextDelta"]
    assert len(deltas) > 2
    summary = next(m for m in messages if shape_key(m) == ("item/completed", "reasoning"))["params"]["item"]["summary"]
    assert summary == ["".join(deltas)]


def test_usage_is_deterministic_and_cumulative(tmp_path: Path) -> None:
    prompts = ["first prompt", "$ echo $RANDOM\nsecond, longer prompt"]

    def usages() -> list[dict[str, Any]]:
        messages = run_mock(tmp_path, prompts).messages()
        return [m["params"]["tokenUsage"] for m in messages if m["method"] == "thread/tokenUsage/updated"]

    first, second = usages(), usages()
    assert first == second
    assert len(first) == 2
    assert first[0]["total"] == first[0]["last"]
    assert first[1]["total"] == {key: first[0]["last"][key] + first[1]["last"][key] for key in first[1]["last"]}
    assert first[1]["last"]["inputTokens"] > first[0]["last"]["inputTokens"]  # the longer prompt costs more
    for usage in first:
        for part in (usage["total"], usage["last"]):
            assert part["totalTokens"] == part["inputTokens"] + part["outputTokens"]


def test_delay_ms_paces_the_deltas(tmp_path: Path) -> None:
    started = time.monotonic()
    run_mock(tmp_path, ["x"], tokens=5, delay_ms=30)
    assert time.monotonic() - started >= 5 * 0.030  # at least the answer's pauses


def test_split_evenly_keeps_every_character() -> None:
    for text in ("", "a", "hello world", "ünïcödé ✓"):
        for parts in (1, 2, 7, 40):
            chunks = split_evenly(text, parts)
            assert len(chunks) == parts and "".join(chunks) == text


# -- params -------------------------------------------------------------------------------------------------


def test_an_unknown_param_is_refused_with_the_valid_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown runtime_params key\(s\) 'speed'.*valid keys: delay_ms, tokens"):
        MockRuntime(str(tmp_path), Recorder(), {"speed": 3})
    with pytest.raises(ConfigError, match=r"valid keys: \(none\)"):
        ShellRuntime(str(tmp_path), Recorder(), {"tokens": 3})


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"tokens": "8"}, "must be an integer"),
        ({"tokens": True}, "must be an integer"),
        ({"tokens": 0}, "must be between"),
        ({"tokens": 2.5}, "must be an integer"),
        ({"delay_ms": -1}, "must be between"),
        ({"delay_ms": "fast"}, "must be a number"),
    ],
)
def test_a_param_of_the_wrong_type_or_range_is_refused(tmp_path: Path, params: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        MockRuntime(str(tmp_path), Recorder(), params)


def test_defaults_are_documented_values(tmp_path: Path) -> None:
    assert MockRuntime(str(tmp_path), Recorder()).params == {"tokens": 8, "delay_ms": 20}
    assert set(RUNTIMES) == {"mock", "shell", "codex", "openai", "claude"}


# -- interruption and commands ----------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime_class", [MockRuntime, ShellRuntime])
def test_stop_kills_the_running_command_and_interrupts_the_turn(tmp_path: Path, runtime_class: type[Runtime]) -> None:
    recorder = Recorder()
    runtime = runtime_class(str(tmp_path), recorder)
    runtime.start()
    content = "$ echo go; sleep 300" if runtime_class is MockRuntime else "echo go; sleep 300"
    turn = threading.Thread(target=runtime.run_turn, args=(Injection("inj-1", content),))
    turn.start()
    wait_for(
        lambda: any(m["method"] == "item/commandExecution/outputDelta" for m in recorder.messages()), what="output"
    )
    runtime.stop()
    turn.join(timeout=10)
    assert not turn.is_alive()
    messages = recorder.messages()
    assert [m["method"] for m in messages[-2:]] == ["thread/status/changed", "turn/completed"]
    assert messages[-1]["params"]["turn"]["status"] == "interrupted"
    assert messages[-1]["params"]["turn"]["items"] == []
    assert not [m for m in messages if shape_key(m) == ("item/completed", "commandExecution")]


def test_stop_interrupts_the_mock_between_deltas(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = MockRuntime(str(tmp_path), recorder, {"delay_ms": 60_000})
    runtime.start()
    turn = threading.Thread(target=runtime.run_turn, args=(Injection("inj-1", "slow"),))
    turn.start()
    wait_for(lambda: any(m["method"] == "item/reasoning/summaryPartAdded" for m in recorder.messages()), what="start")
    runtime.stop()
    turn.join(timeout=10)
    assert not turn.is_alive()
    assert recorder.messages()[-1]["params"]["turn"]["status"] == "interrupted"


@pytest.mark.parametrize("runtime_class", [MockRuntime, ShellRuntime])
def test_interrupt_ends_the_turn_and_the_runtime_takes_the_next(tmp_path: Path, runtime_class: type[Runtime]) -> None:
    recorder = Recorder()
    runtime = runtime_class(str(tmp_path), recorder)
    runtime.start()
    assert runtime.interrupt() is False  # nothing runs yet
    content = "$ echo go; sleep 300" if runtime_class is MockRuntime else "echo go; sleep 300"
    turn = threading.Thread(target=runtime.run_turn, args=(Injection("inj-1", content),))
    turn.start()
    wait_for(lambda: any(m["method"] == "item/commandExecution/outputDelta" for m in recorder.messages()), what="go")
    assert runtime.interrupt() is True
    turn.join(timeout=10)
    assert not turn.is_alive() and recorder.messages()[-1]["params"]["turn"]["status"] == "interrupted"
    runtime.run_turn(Injection("inj-2", "$ echo again" if runtime_class is MockRuntime else "echo again"))
    last = recorder.messages()[-1]
    assert last["method"] == "turn/completed" and last["params"]["turn"]["status"] == "completed"


def codex_requests(scenario: str) -> dict[str, Message]:
    """The server → client requests codex wrote in one scenario, by method."""
    return {m["method"]: m for m in codex_out_messages(scenario) if "id" in m and "method" in m}


def mock_approval(recorder: Recorder, injection_id: str = "inj-1") -> Message:
    def requests() -> list[Message]:
        return [m for m in recorder.messages(injection_id) if "id" in m]

    return wait_for(requests, what=f"the approval request of {injection_id}")[-1]


@pytest.mark.parametrize(
    ("decision", "ran", "status"), [("accept", True, "completed"), ("decline", False, "completed")]
)
def test_mock_asks_before_a_question_mark_line_in_codexs_request_shape(
    tmp_path: Path, decision: str, ran: bool, status: str
) -> None:
    recorder = Recorder()
    runtime = MockRuntime(str(tmp_path), recorder, {"delay_ms": 0})
    runtime.start()
    turn = threading.Thread(target=runtime.run_turn, args=(Injection("inj-1", "$? touch asked.txt"),))
    turn.start()
    request = mock_approval(recorder)
    expected = codex_requests("shell_onrequest_accept.jsonl")  # the request with every key (a reason too)
    assert request["method"] == "item/commandExecution/requestApproval" and request["id"] == 0
    assert set(request["params"]) == set(expected["item/commandExecution/requestApproval"]["params"])
    assert request["params"]["availableDecisions"] == ["accept", "acceptForSession", "decline", "cancel"]
    assert runtime.resolve_approval(request["params"]["itemId"], "maybe") is not None
    assert runtime.resolve_approval(request["params"]["itemId"], decision) is None
    turn.join(timeout=10)
    assert (tmp_path / "asked.txt").exists() is ran
    messages = recorder.messages()
    assert messages[-1]["params"]["turn"]["status"] == status
    answered = [m for m in messages if m["method"] == "codeswarm/approvalAnswered"]
    assert answered[0]["params"] == {"callId": request["params"]["itemId"], "requestId": 0, "decision": decision}
    commands = [m["params"]["item"] for m in messages if shape_key(m) == ("item/completed", "commandExecution")]
    assert [c["status"] for c in commands] == (["completed"] if ran else ["declined"])


def test_mock_cancel_declines_and_ends_the_turn_and_interrupt_ends_a_wait(tmp_path: Path) -> None:
    recorder = Recorder()
    runtime = MockRuntime(str(tmp_path), recorder, {"delay_ms": 0})
    runtime.start()
    for name, answer in (("inj-1", "cancel"), ("inj-2", None)):
        turn = threading.Thread(
            target=runtime.run_turn, args=(Injection(name, "$? touch never.txt\n$ touch after.txt"),)
        )
        turn.start()
        request = mock_approval(recorder, name)
        if answer is None:
            assert runtime.interrupt()
        else:
            assert runtime.resolve_approval(request["params"]["itemId"], answer) is None
        turn.join(timeout=10)
        assert recorder.messages()[-1]["params"]["turn"]["status"] == "interrupted"
        assert not (tmp_path / "never.txt").exists() and not (tmp_path / "after.txt").exists()
    assert runtime.resolve_approval(request["params"]["itemId"], "accept") is not None  # that request is gone


def test_a_command_that_leaves_a_background_child_does_not_hang(tmp_path: Path) -> None:
    process = CommandProcess("sleep 30 & echo done", str(tmp_path))
    chunks: list[str] = []
    result = process.collect(chunks.append)
    assert result.exit_code == 0 and result.output == "done\n" == "".join(chunks)
    assert result.duration_ms < 10_000


def test_a_command_killed_by_a_signal_reports_128_plus_the_signal(tmp_path: Path) -> None:
    result = CommandProcess("kill -TERM $$", str(tmp_path)).collect(lambda _text: None)
    assert result.exit_code == 128 + 15 and not result.killed


def test_a_command_that_cannot_start_fails_cleanly(tmp_path: Path) -> None:
    result = CommandProcess("true", str(tmp_path / "missing")).collect(lambda _text: None)
    assert result.exit_code == 127 and "cannot start" in result.output


def test_invalid_utf8_output_is_replaced_not_fatal(tmp_path: Path) -> None:
    result = CommandProcess("printf 'a\\377b'", str(tmp_path)).collect(lambda _text: None)
    assert result.output == "a\ufffdb"


# -- inbox, queue, outbox ---------------------------------------------------------------------------------------


def test_inbox_lines_parse_into_values() -> None:
    assert parse_inbox_line(b'{"type": "inject", "injection_id": "i", "content": "c"}') == Injection("i", "c", "queue")
    assert parse_inbox_line(b'{"type": "inject", "injection_id": "i", "content": "", "mode": "steer"}') == Injection(
        "i", "", "steer"
    )
    assert parse_inbox_line(b'{"type": "approval", "call_id": "c", "decision": "decline"}') == Approval("c", "decline")
    assert parse_inbox_line(b"   ") is None
    bad = parse_inbox_line(b'{"type": "inject", "injection_id": "", "content": "c"}')
    assert isinstance(bad, BadLine) and "'injection_id' must be a non-empty string" in bad.error


def test_the_queue_serves_steers_first_then_fifo() -> None:
    queue = InjectionQueue()
    for injection in (
        Injection("q1", ""),
        Injection("s1", "", "steer"),
        Injection("q2", ""),
        Injection("s2", "", "steer"),
    ):
        queue.put(injection)
    assert [getattr(queue.get(), "injection_id", None) for _ in range(4)] == ["s1", "s2", "q1", "q2"]
    queue.close()
    assert queue.get() is None


def test_a_waiting_get_returns_none_when_the_queue_closes() -> None:
    queue = InjectionQueue()
    got: list[Injection | None] = []
    waiter = threading.Thread(target=lambda: got.append(queue.get()))
    waiter.start()
    queue.close()
    waiter.join(timeout=10)
    assert got == [None]


def test_outbox_seq_continues_and_recovery_finds_taken_injections(tmp_path: Path) -> None:
    path = str(tmp_path / "outbox.jsonl")
    first = Outbox(path, "j", 0)
    assert not first.resumed
    assert first.write("hello", {}) == 1
    assert first.write("runtime", {"method": "turn/started"}, 'id "quoted" ✓') == 2
    assert first.close("exit", {"code": 0, "reason": "done"}) == 3
    assert first.write("heartbeat", {}) is None  # nothing after the exit record
    state = read_outbox_state(path)
    assert (state.last_seq, state.ends_with_newline) == (3, True)
    assert state.injection_ids == {'id "quoted" ✓'}
    second = Outbox(path, "j", 0)
    assert second.resumed and second.write("hello", {}) == 4


def test_many_threads_writing_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = Outbox(str(path), "j", 0)
    payload = {"text": "x" * 5000}

    def writer() -> None:
        for _ in range(200):
            outbox.write("runtime", payload)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 1600
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 1601))
