"""The codex runtime in the node program, driving the real `codex app-server` against a fake model."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.node.records import agent_home_path, secret_name
from tests.support.fake_responses import FakeResponses
from tests.support.node_process import Node, Record, hello, wait_for

KEY = "sk-test-0123456789"
SYSTEM_PROMPT = "You are node zero of a test swarm."


def start_codex(
    node: Node,
    binary: Path,
    fake: FakeResponses,
    key: str | None = KEY,
    extra_args: tuple[str, ...] = (),
    **params: Any,
) -> tuple[Node, Path]:
    """Start a codex node as the router would: key in a 0600 control file, system prompt in another."""
    control = node.base / "control"
    control.mkdir(parents=True, exist_ok=True)
    args = ["--runtime", "codex", "--system-prompt-file", str(control / "system_prompt.txt")]
    (control / "system_prompt.txt").write_text(SYSTEM_PROMPT)
    if key is not None:
        secret = control / secret_name(node.node_id)
        secret.write_text(key)
        secret.chmod(0o600)
        args += ["--secret-dir", str(control)]
    runtime_params = {
        "model": "fake-model",
        "binary": str(binary),
        "base_url": fake.base_url,
        "env_key": "CODESWARM_TEST_MODEL_KEY",
        "approval_policy": "never",
        "sandbox": "danger-full-access",
        **params,
    }
    node.start(*args, *extra_args, runtime_params=runtime_params)
    return node, control


def method_of(record: Record) -> str | None:
    return record["payload"].get("method") if record["kind"] == "runtime" else None


def messages(node: Node, injection_id: str, method: str) -> list[dict[str, Any]]:
    return [m for m in node.runtime_messages(injection_id) if m.get("method") == method]


def approve(node: Node, call_id: str, decision: str) -> None:
    line = {"type": "approval", "call_id": call_id, "decision": decision}
    node.append_inbox(json.dumps(line).encode() + b"\n")


def approval_request(node: Node, injection_id: str) -> dict[str, Any]:
    found = node.wait_record(
        lambda r: r["injection_id"] == injection_id and "id" in r["payload"] and "method" in r["payload"],
        "an approval request",
    )
    return dict(found["payload"])


def test_a_turn_streams_reasoning_and_answer_and_runs_a_real_command(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, control = start_codex(new_node(), codex_binary, fake_model)
    hello_record = hello(node)
    assert hello_record["payload"]["runtime"] == "codex" and hello_record["payload"]["thread_id"]
    injection = node.inject("Make hello.txt [run: echo hello > hello.txt && cat hello.txt]")
    completed = node.wait_turn_completed(injection, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] == "completed"
    assert (node.workspace / "hello.txt").read_text() == "hello\n"
    assert messages(node, injection, "item/reasoning/summaryTextDelta")
    answer = "".join(m["params"]["delta"] for m in messages(node, injection, "item/agentMessage/delta"))
    assert answer == "Ran it. Output: hello"
    commands = [
        m["params"]["item"]
        for m in messages(node, injection, "item/completed")
        if m["params"]["item"]["type"] == "commandExecution"
    ]
    assert [(c["exitCode"], c["aggregatedOutput"]) for c in commands] == [(0, "hello\n")]
    usage = messages(node, injection, "thread/tokenUsage/updated")
    assert usage and usage[-1]["params"]["tokenUsage"]["total"]["totalTokens"] > 0
    # the system prompt went in as the thread's developer instructions, not as a user turn
    first = fake_model.requests[0].body["input"]
    developer = [i for i in first if i.get("role") == "developer"]
    assert any(SYSTEM_PROMPT in json.dumps(item) for item in developer)
    assert all(SYSTEM_PROMPT not in json.dumps(item) for item in first if item.get("role") == "user")
    # the key reached codex (as its bearer key) and nothing else: its file is gone, it is in no record
    assert fake_model.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert not (control / secret_name(0)).exists()
    assert KEY.encode() not in node.outbox.read_bytes()
    home = Path(agent_home_path(str(node.base), node.job_id, 0))
    config = home / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and stat.S_IMODE(home.stat().st_mode) == 0o700
    assert KEY not in config.read_text() and 'wire_api = "responses"' in config.read_text()
    assert not home.is_relative_to(node.workspace)


def test_approvals_accept_runs_the_command_and_decline_does_not(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model, approval_policy="untrusted")
    hello(node)
    accepted = node.inject("[run: touch accepted.txt]")
    request = approval_request(node, accepted)
    assert request["method"] == "item/commandExecution/requestApproval"
    call_id = request["params"]["itemId"]
    approve(node, call_id, "maybe")  # not offered: refused with the offered ones, the request stays open
    refusal = node.wait_record(lambda r: r["kind"] == "inbox_error", "the refused decision")
    assert "available: accept" in refusal["payload"]["error"]
    approve(node, call_id, "accept")
    assert node.wait_turn_completed(accepted, timeout=30)["payload"]["params"]["turn"]["status"] == "completed"
    assert (node.workspace / "accepted.txt").exists()
    answered = messages(node, accepted, "codeswarm/approvalAnswered")
    assert [m["params"] for m in answered] == [{"callId": call_id, "requestId": request["id"], "decision": "accept"}]

    declined = node.inject("[run: touch declined.txt]")
    request = approval_request(node, declined)
    approve(node, request["params"]["itemId"], "decline")
    node.wait_turn_completed(declined, timeout=30)
    assert not (node.workspace / "declined.txt").exists()
    items = [m["params"]["item"] for m in messages(node, declined, "item/completed")]
    assert [i["status"] for i in items if i["type"] == "commandExecution"] == ["declined"]


def test_interrupt_ends_the_turn_and_closes_the_running_command(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model)
    hello(node)
    injection = node.inject("[run: sleep 30]")
    node.wait_record(
        lambda r: method_of(r) == "item/started" and r["payload"]["params"]["item"]["type"] == "commandExecution",
        "the command to start",
        timeout=30,
    )
    node.append_inbox(b'{"type": "interrupt"}\n')
    completed = node.wait_turn_completed(injection, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] == "interrupted"
    [abandoned] = messages(node, injection, "codeswarm/itemAbandoned")
    assert abandoned["params"]["item"]["type"] == "commandExecution" and abandoned["params"]["status"] == "interrupted"
    order = [method_of(r) for r in node.records() if r["injection_id"] == injection]
    assert order.index("codeswarm/itemAbandoned") < order.index("turn/completed")
    assert node.inject("[run: echo again]")  # the node goes on
    node.append_inbox(b'{"type": "interrupt"}\n')  # may land during or after that turn: never a crash


def test_steer_joins_the_running_turn_and_queue_waits_for_the_next(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model)
    hello(node)
    first = node.inject("[slow] a long answer")
    node.wait_record(lambda r: method_of(r) == "item/agentMessage/delta", "the answer to stream", timeout=30)
    queued = node.inject("the next prompt")
    steer = node.inject("[steered] also this", mode="steer")
    [steered] = wait_for(lambda: messages(node, steer, "codeswarm/injectionSteered"), 30, "the steer")
    assert steered["params"]["intoInjectionId"] == first
    [waiting] = messages(node, queued, "codeswarm/injectionQueued")
    assert waiting["params"]["position"] == 1
    node.wait_turn_completed(queued, timeout=30)
    assert node.turn_order() == [first, queued]  # the steer opened no turn of its own
    texts = [json.dumps(request.body["input"]) for request in fake_model.requests]
    assert any("[steered] also this" in text for text in texts)


def test_codex_killed_mid_turn_fails_the_turn_and_the_next_one_resumes_the_thread(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model)
    thread_id = hello(node)["payload"]["thread_id"]
    doomed = node.inject("[slow] a long answer")
    node.wait_record(lambda r: method_of(r) == "item/agentMessage/delta", "the answer to stream", timeout=30)
    assert node.process is not None
    os.kill(codex_pid(node.process.pid), signal.SIGKILL)
    [aborted] = wait_for(lambda: messages(node, doomed, "codeswarm/turnAborted"), 30, "the aborted turn")
    assert "killed by signal 9" in aborted["params"]["message"]
    survivor = node.inject("are you back?")
    completed = node.wait_turn_completed(survivor, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] == "completed"
    [restarted] = messages(node, survivor, "codeswarm/agentRestarted")
    assert restarted["params"] == {"attempt": 1, "threadId": thread_id, "resumed": True}


@pytest.mark.parametrize(
    ("prompt", "code"), [("[http500]", "internalServerError"), ("[fail]", "other"), ("[quota]", "usageLimitExceeded")]
)
def test_a_model_failure_fails_the_turn_with_codexs_reason(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses, prompt: str, code: str
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model, max_retries=0)
    hello(node)
    injection = node.inject(prompt)
    completed = node.wait_turn_completed(injection, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] == "failed"
    [error] = [m for m in messages(node, injection, "error") if not m["params"].get("willRetry")]
    assert error["params"]["error"]["codexErrorInfo"] == code


def test_a_model_that_never_answers_is_interrupted_by_the_watchdog(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model, turn_idle_timeout_s=1.5)
    hello(node)
    injection = node.inject("[hang]")
    completed = node.wait_turn_completed(injection, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] in ("interrupted", "failed")
    [watchdog] = messages(node, injection, "codeswarm/turnWatchdog")
    assert "no progress" in watchdog["params"]["message"]
    assert node.wait_turn_completed(node.inject("still there?"), timeout=30)


def test_a_wrong_key_and_an_unreachable_endpoint_fail_the_turn_not_the_node(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), codex_binary, fake_model, key="sk-wrong")
    hello(node)
    injection = node.inject("hello")
    assert node.wait_turn_completed(injection, timeout=30)["payload"]["params"]["turn"]["status"] == "failed"
    assert [m for m in messages(node, injection, "error") if not m["params"].get("willRetry")]

    closed = FakeResponses().start()
    closed.stop()  # its port is now closed
    unreachable, _ = start_codex(new_node(node_id=1), codex_binary, closed, max_retries=0)
    hello(unreachable)
    injection = unreachable.inject("hello")
    completed = unreachable.wait_turn_completed(injection, timeout=30)
    assert completed["payload"]["params"]["turn"]["status"] == "failed"


def test_a_missing_binary_ends_the_node_with_a_configuration_error(
    new_node: Callable[..., Node], tmp_path: Path, fake_model: FakeResponses
) -> None:
    node, _ = start_codex(new_node(), tmp_path / "no-such-codex", fake_model)
    assert node.wait_exit() == 2
    exit_record = node.wait_record(lambda r: r["kind"] == "exit", "the exit record")
    assert "no-such-codex" in exit_record["payload"]["reason"] and "does not exist" in exit_record["payload"]["reason"]


def test_a_line_from_codex_that_is_not_json_is_reported(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses, tmp_path: Path
) -> None:
    noisy = tmp_path / "noisy-codex"
    noisy.write_text(f"#!/bin/sh\necho 'this is not JSON'\nexec {codex_binary} \"$@\"\n")
    noisy.chmod(0o755)
    node, _ = start_codex(new_node(), noisy, fake_model)
    hello(node)
    bad = node.wait_record(lambda r: method_of(r) == "codeswarm/badAgentLine", "the bad line")
    assert bad["payload"]["params"]["line"].strip() == "this is not JSON"
    assert node.wait_turn_completed(node.inject("hello"), timeout=30)


def codex_pid(node_pid: int) -> int:
    """The codex app-server the node program started (its child)."""
    children = Path(f"/proc/{node_pid}/task/{node_pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_the_agents_bundle_is_in_the_workspace_before_the_thread_and_codex_reads_agents_md(
    new_node: Callable[..., Node], codex_binary: Path, fake_model: FakeResponses
) -> None:
    node = new_node()
    bundle = node.base / "bundle.json"
    node.base.mkdir(parents=True, exist_ok=True)
    bundle.write_text(json.dumps({"AGENTS.md": "Always greet in French.\n", "notes/plan.md": "step 1\n"}))
    node, _ = start_codex(node, codex_binary, fake_model, extra_args=("--bundle-file", str(bundle)))
    hello(node)
    assert (node.workspace / "notes" / "plan.md").read_text() == "step 1\n"
    node.wait_turn_completed(node.inject("bonjour?"), timeout=30)
    assert "Always greet in French." in json.dumps(fake_model.requests[0].body["input"])
