"""The claude runtime in the node program, driving the real Claude Code against a fake Messages API."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services.node.records import agent_home_path, secret_name
from tests.support.fake_anthropic import THINKING, WRITTEN, FakeAnthropic
from tests.support.node_process import Node, Record, wait_for

KEY = "sk-ant-test-0123456789"
SYSTEM_PROMPT = "You are node zero of a test swarm."
TURN_S = 120  # Claude Code takes seconds per model round trip on a loaded machine


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.stop()


def start_claude(node: Node, binary: Path, fake: FakeAnthropic, **params: Any) -> tuple[Node, Path]:
    """Start a claude node as the router would: key in a 0600 control file, system prompt in another."""
    control = node.base / "control"
    control.mkdir(parents=True, exist_ok=True)
    (control / "system_prompt.txt").write_text(SYSTEM_PROMPT)
    secret = control / secret_name(node.node_id)
    secret.write_text(KEY)
    secret.chmod(0o600)
    args = ["--runtime", "claude", "--system-prompt-file", str(control / "system_prompt.txt")]
    runtime_params = {
        "model": "fake-model",
        "binary": str(binary),
        "base_url": fake.base_url,
        "approval_policy": "never",
        **params,
    }
    node.start(*args, "--secret-dir", str(control), runtime_params=runtime_params)
    return node, control


def method_of(record: Record) -> str | None:
    return record["payload"].get("method") if record["kind"] == "runtime" else None


def messages(node: Node, injection_id: str, method: str) -> list[dict[str, Any]]:
    return [m for m in node.runtime_messages(injection_id) if m.get("method") == method]


def completed_items(node: Node, injection_id: str, item_type: str) -> list[dict[str, Any]]:
    items = [m["params"]["item"] for m in messages(node, injection_id, "item/completed")]
    return [item for item in items if item["type"] == item_type]


def approval_request(node: Node, injection_id: str) -> dict[str, Any]:
    found = node.wait_record(
        lambda r: r["injection_id"] == injection_id and "id" in r["payload"] and "method" in r["payload"],
        "an approval request",
        timeout=TURN_S,
    )
    return dict(found["payload"])


def turn_status(node: Node, injection_id: str) -> str:
    return str(node.wait_turn_completed(injection_id, timeout=TURN_S)["payload"]["params"]["turn"]["status"])


def hello(node: Node) -> Record:
    return node.wait_record(lambda r: r["kind"] == "hello", "hello", timeout=TURN_S)


def claude_pid(node_pid: int) -> int:
    children = Path(f"/proc/{node_pid}/task/{node_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_an_answer_streams_with_usage_and_the_key_reaches_claude_only(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, control = start_claude(new_node(), claude_binary, fake_anthropic)
    thread_id = hello(node)["payload"]["thread_id"]
    assert hello(node)["payload"]["runtime"] == "claude" and thread_id
    injection = node.inject("hello there")
    assert turn_status(node, injection) == "completed"
    answer = "".join(m["params"]["delta"] for m in messages(node, injection, "item/agentMessage/delta"))
    assert answer == "Answer: hello there"
    assert [item["text"] for item in completed_items(node, injection, "agentMessage")] == [answer]
    [usage] = messages(node, injection, "thread/tokenUsage/updated")
    assert usage["params"]["tokenUsage"]["last"] == usage["params"]["tokenUsage"]["total"]
    assert usage["params"]["tokenUsage"]["total"]["outputTokens"] == 30
    assert usage["params"]["tokenUsage"]["total"]["inputTokens"] == 1000  # 900 new + 100 read from cache
    second = node.inject("and again")
    assert turn_status(node, second) == "completed"
    [later] = messages(node, second, "thread/tokenUsage/updated")
    assert later["params"]["tokenUsage"]["total"]["outputTokens"] == 60  # cumulative: replace, never sum
    # the system prompt went in as Claude's system prompt; the key as Claude's key and nowhere else
    request = fake_anthropic.requests[0]
    assert SYSTEM_PROMPT in json.dumps(request.body["system"])
    assert request.headers["x-api-key"] == KEY and request.path.startswith("/v1/messages")
    assert not (control / secret_name(0)).exists()
    assert KEY.encode() not in node.outbox.read_bytes()
    home = Path(agent_home_path(str(node.base), node.job_id, 0))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and any(home.iterdir())  # Claude's config dir
    assert not home.is_relative_to(node.workspace)


def test_thinking_streams_as_reasoning_before_the_answer(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    injection = node.inject("[think] why?")
    assert turn_status(node, injection) == "completed"
    thought = "".join(m["params"]["delta"] for m in messages(node, injection, "item/reasoning/textDelta"))
    assert thought == THINKING
    [reasoning] = completed_items(node, injection, "reasoning")
    assert reasoning["content"] == [THINKING]
    [answer] = completed_items(node, injection, "agentMessage")
    assert answer["text"] == "Answer: [think] why?" and answer["id"] != reasoning["id"]
    order = [m.get("method") for m in node.runtime_messages(injection)]
    assert order.index("item/reasoning/textDelta") < order.index("item/agentMessage/delta")


def test_a_real_command_runs_in_the_workspace_with_its_output_and_exit_code(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    made = node.inject("Make it [bash: echo hello > hello.txt && cat hello.txt]")
    assert turn_status(node, made) == "completed"
    assert (node.workspace / "hello.txt").read_text() == "hello\n"
    [command] = completed_items(node, made, "commandExecution")
    assert (command["exitCode"], command["aggregatedOutput"], command["status"]) == (0, "hello", "completed")
    assert "echo hello > hello.txt" in command["command"] and command["cwd"] == str(node.workspace)
    [started] = [m for m in messages(node, made, "item/started") if m["params"]["item"]["type"] == "commandExecution"]
    assert started["params"]["item"]["id"] == command["id"]
    assert [m["params"]["delta"] for m in messages(node, made, "item/commandExecution/outputDelta")] == ["hello"]
    answer = "".join(m["params"]["delta"] for m in messages(node, made, "item/agentMessage/delta"))
    assert answer == "Ran it. Output: hello"

    failed = node.inject("[bash: echo oops && exit 3]")
    assert turn_status(node, failed) == "completed"
    [command] = completed_items(node, failed, "commandExecution")
    assert (command["exitCode"], command["aggregatedOutput"], command["status"]) == (3, "oops", "failed")


def test_a_file_written_by_claude_is_a_file_change(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    target = node.workspace / "notes.txt"
    injection = node.inject(f"[write: {target}]")
    assert turn_status(node, injection) == "completed"
    assert target.read_text() == WRITTEN
    [change] = completed_items(node, injection, "fileChange")
    assert change["status"] == "completed" and change["changes"][0]["path"] == str(target)
    assert change["changes"][0]["kind"] == {"type": "add"}


def test_on_request_asks_before_a_command_that_is_not_read_only(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic, approval_policy="on-request")
    hello(node)
    injection = node.inject("[bash: python3 -c 'print(6 * 7)']")
    request = approval_request(node, injection)
    line = {"type": "approval", "call_id": request["params"]["itemId"], "decision": "accept"}
    node.append_inbox(json.dumps(line).encode() + b"\n")
    assert turn_status(node, injection) == "completed"
    [command] = completed_items(node, injection, "commandExecution")
    assert (command["exitCode"], command["aggregatedOutput"]) == (0, "42")


def test_a_model_error_fails_the_turn_with_the_endpoints_message(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    injection = node.inject("[error]")
    completed = node.wait_turn_completed(injection, timeout=TURN_S)["payload"]["params"]["turn"]
    assert completed["status"] == "failed" and "fake: this request is refused" in completed["error"]["message"]
    [error] = messages(node, injection, "error")
    assert error["params"]["willRetry"] is False and error["params"]["error"]["codexErrorInfo"] == 400
    assert not messages(node, injection, "item/agentMessage/delta")  # Claude's error text is no answer
    assert turn_status(node, node.inject("still there?")) == "completed"


def test_interrupt_ends_the_turn_and_closes_the_running_command(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    injection = node.inject("[bash: sleep 60]")
    node.wait_record(
        lambda r: method_of(r) == "item/started" and r["payload"]["params"]["item"]["type"] == "commandExecution",
        "the command to start",
        timeout=TURN_S,
    )
    node.append_inbox(b'{"type": "interrupt"}\n')
    assert turn_status(node, injection) == "interrupted"
    [command] = completed_items(node, injection, "commandExecution")  # Claude closes the cut command itself
    assert (command["status"], command["exitCode"]) == ("interrupted", None)
    assert turn_status(node, node.inject("are you free again?")) == "completed"


def test_an_interrupt_as_the_turn_starts_ends_it_once_claude_has_the_message(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    hello(node)
    injection = node.inject("[hang]")
    node.wait_record(lambda r: method_of(r) == "turn/started", "the turn to start", timeout=TURN_S)
    node.append_inbox(b'{"type": "interrupt"}\n')
    assert turn_status(node, injection) == "interrupted"
    assert turn_status(node, node.inject("next")) == "completed"


def test_approvals_accept_runs_the_command_and_decline_does_not(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic, approval_policy="untrusted")
    hello(node)
    for decision, name in (("accept", "accepted.txt"), ("decline", "declined.txt")):
        injection = node.inject(f"[bash: touch {name}]")
        request = approval_request(node, injection)
        assert request["method"] == "item/commandExecution/requestApproval"
        assert request["params"]["command"] == f"touch {name}"
        line = {"type": "approval", "call_id": request["params"]["itemId"], "decision": decision}
        node.append_inbox(json.dumps(line).encode() + b"\n")
        assert turn_status(node, injection) == "completed"
        [command] = completed_items(node, injection, "commandExecution")
        assert command["id"] == request["params"]["itemId"]
        assert command["status"] == ("completed" if decision == "accept" else "declined")
        [answered] = messages(node, injection, "codeswarm/approvalAnswered")
        assert answered["params"]["decision"] == decision
    assert (node.workspace / "accepted.txt").exists() and not (node.workspace / "declined.txt").exists()
    cancelled = node.inject("[bash: touch cancelled.txt]")
    request = approval_request(node, cancelled)
    line = {"type": "approval", "call_id": request["params"]["itemId"], "decision": "cancel"}
    node.append_inbox(json.dumps(line).encode() + b"\n")
    assert turn_status(node, cancelled) == "interrupted"  # cancel = decline and end the turn
    assert [c["status"] for c in completed_items(node, cancelled, "commandExecution")] == ["declined"]
    assert not (node.workspace / "cancelled.txt").exists()


def test_a_model_that_never_answers_is_interrupted_by_the_watchdog(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic, turn_idle_timeout_s=2)
    hello(node)
    injection = node.inject("[hang]")
    assert turn_status(node, injection) == "interrupted"
    [watchdog] = messages(node, injection, "codeswarm/turnWatchdog")
    assert "no output from claude" in watchdog["params"]["message"]
    assert turn_status(node, node.inject("still there?")) == "completed"


def test_claude_killed_mid_turn_fails_the_turn_and_the_next_one_resumes_the_session(
    new_node: Callable[..., Node], claude_binary: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), claude_binary, fake_anthropic)
    thread_id = hello(node)["payload"]["thread_id"]
    assert turn_status(node, node.inject("remember the word heron")) == "completed"
    doomed = node.inject("[slow] a long answer")
    node.wait_record(
        lambda r: r["injection_id"] == doomed and method_of(r) == "item/agentMessage/delta",
        "the answer to stream",
        timeout=TURN_S,
    )
    assert node.process is not None
    os.kill(claude_pid(node.process.pid), signal.SIGKILL)
    [aborted] = wait_for(lambda: messages(node, doomed, "codeswarm/turnAborted"), TURN_S, "the aborted turn")
    assert "killed by signal 9" in aborted["params"]["message"]
    survivor = node.inject("are you back?")
    assert turn_status(node, survivor) == "completed"
    [restarted] = messages(node, survivor, "codeswarm/agentRestarted")
    assert restarted["params"] == {"attempt": 1, "threadId": thread_id, "resumed": True}
    # the resumed session still holds the first turn: Claude sent it to the model again
    assert "remember the word heron" in json.dumps(fake_anthropic.requests[-1].body["messages"])


def test_a_missing_binary_ends_the_node_with_a_configuration_error(
    new_node: Callable[..., Node], tmp_path: Path, fake_anthropic: FakeAnthropic
) -> None:
    node, _ = start_claude(new_node(), tmp_path / "no-such-claude", fake_anthropic)
    assert node.wait_exit(timeout=TURN_S) == 2
    exit_record = node.wait_record(lambda r: r["kind"] == "exit", "the exit record", timeout=TURN_S)
    reason = exit_record["payload"]["reason"]
    assert "no-such-claude" in reason and "does not exist" in reason
