"""The openai runtime in the node program, against a fake OpenAI-compatible chat server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.node.records import secret_name
from tests.support.fake_chat import FakeChat
from tests.support.node_process import Node, Record, hello, wait_for

KEY = "sk-local-0123456789"


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    yield fake
    fake.stop()


def start_openai(node: Node, chat: FakeChat, **params: Any) -> Node:
    control = node.base / "control"
    control.mkdir(parents=True, exist_ok=True)
    (control / secret_name(node.node_id)).write_text(KEY)
    runtime_params = {
        "model": "fake-chat",
        "base_url": chat.base_url,
        "api_key_env": "SITE_KEY",
        "approval_policy": "never",
        **params,
    }
    node.start("--runtime", "openai", "--secret-dir", str(control), runtime_params=runtime_params)
    hello(node)
    return node


def run(node: Node, prompt: str, timeout: float = 30) -> tuple[str, dict[str, Any]]:
    injection = node.inject(prompt)
    completed = node.wait_turn_completed(injection, timeout=timeout)
    return injection, completed["payload"]["params"]["turn"]


def of(node: Node, injection: str, method: str) -> list[dict[str, Any]]:
    return [m["params"] for m in node.runtime_messages(injection) if m.get("method") == method]


def commands(node: Node, injection: str) -> list[dict[str, Any]]:
    items = [p["item"] for p in of(node, injection, "item/completed")]
    return [i for i in items if i["type"] == "commandExecution"]


def test_a_plain_answer_streams_reasoning_and_text_and_reports_usage(
    new_node: Callable[..., Node], chat: FakeChat
) -> None:
    node = start_openai(new_node(), chat)
    injection, turn = run(node, "hello there")
    assert turn["status"] == "completed"
    assert "".join(p["delta"] for p in of(node, injection, "item/reasoning/summaryTextDelta")) == "I should answer."
    answer = "".join(p["delta"] for p in of(node, injection, "item/agentMessage/delta"))
    assert answer == "Answer: hello there" and turn["items"][0]["text"] == answer
    [usage] = of(node, injection, "thread/tokenUsage/updated")
    assert usage["tokenUsage"]["last"]["inputTokens"] == 900 and usage["tokenUsage"]["last"]["cachedInputTokens"] == 512
    request = chat.chat_requests()[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert [t["function"]["name"] for t in request["tools"]] == ["shell", "write_file"]
    assert chat.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    second, _ = run(node, "again")
    [usage] = of(node, second, "thread/tokenUsage/updated")
    assert usage["tokenUsage"]["total"]["totalTokens"] == 2 * usage["tokenUsage"]["last"]["totalTokens"]


def test_three_shell_calls_run_for_real_and_their_results_go_back(
    new_node: Callable[..., Node], chat: FakeChat
) -> None:
    node = start_openai(new_node(), chat)
    injection, turn = run(node, "[tools: echo one > a.txt|cat a.txt; exit 3|echo three]")
    assert turn["status"] == "completed"
    ran = commands(node, injection)
    assert [(c["exitCode"], c["aggregatedOutput"]) for c in ran] == [(0, ""), (3, "one\n"), (0, "three\n")]
    assert (node.workspace / "a.txt").read_text() == "one\n"
    last = chat.chat_requests()[-1]["messages"]
    results = [m["content"] for m in last if m["role"] == "tool"]
    assert results[1].startswith("exit code: 3") and "one" in results[1]
    assert turn["items"][0]["text"] == "Tool said: three"


def test_a_model_that_never_stops_calling_tools_is_stopped(new_node: Callable[..., Node], chat: FakeChat) -> None:
    node = start_openai(new_node(), chat, max_tool_calls=3)
    injection, turn = run(node, "[forever]")
    assert turn["status"] == "failed" and "3 tool calls" in turn["error"]["message"]
    assert len(commands(node, injection)) == 3


def test_a_429_is_retried_and_a_500_fails_with_the_servers_message(
    new_node: Callable[..., Node], chat: FakeChat
) -> None:
    node = start_openai(new_node(), chat, max_retries=1)
    injection, turn = run(node, "[429] once")
    assert turn["status"] == "completed"
    [warning] = of(node, injection, "error")
    assert warning["willRetry"] is True and "Rate limit reached" in warning["error"]["message"]

    injection, turn = run(node, "[500] always")
    assert turn["status"] == "failed" and "fake server error" in turn["error"]["message"]
    errors = of(node, injection, "error")
    assert [e["willRetry"] for e in errors] == [True, False]


def test_an_unknown_model_and_a_closed_port_fail_the_turn_not_the_node(
    new_node: Callable[..., Node], chat: FakeChat
) -> None:
    node = start_openai(new_node(), chat, model="no-such-model", max_retries=0)
    _, turn = run(node, "hello")
    assert turn["status"] == "failed" and "`no-such-model` does not exist" in turn["error"]["message"]

    closed = FakeChat().start()
    closed.stop()
    other = start_openai(new_node(node_id=1), closed, max_retries=0)
    _, turn = run(other, "hello")
    assert turn["status"] == "failed" and "model endpoint failed" in turn["error"]["message"]


def approve(node: Node, call_id: str, decision: str) -> None:
    node.append_inbox(json.dumps({"type": "approval", "call_id": call_id, "decision": decision}).encode() + b"\n")


def request_of(node: Node, injection: str) -> Record:
    return node.wait_record(lambda r: r["injection_id"] == injection and "id" in r["payload"], "an approval request")


def test_approvals_follow_the_policy(new_node: Callable[..., Node], chat: FakeChat) -> None:
    node = start_openai(new_node(), chat, approval_policy="untrusted")
    injection = node.inject("[tool: touch yes.txt]")
    request = request_of(node, injection)["payload"]
    assert request["method"] == "item/commandExecution/requestApproval"
    approve(node, request["params"]["itemId"], "accept")
    node.wait_turn_completed(injection, timeout=30)
    assert (node.workspace / "yes.txt").exists()

    on_request = start_openai(new_node(node_id=1), chat, approval_policy="on-request")
    run(on_request, "[tool: touch unasked.txt]")  # the model did not ask: it runs
    assert (on_request.workspace / "unasked.txt").exists()
    asked = on_request.inject("[ask: touch declined.txt]")
    approve(on_request, request_of(on_request, asked)["payload"]["params"]["itemId"], "decline")
    on_request.wait_turn_completed(asked, timeout=30)
    assert not (on_request.workspace / "declined.txt").exists()
    assert [c["status"] for c in commands(on_request, asked)] == ["declined"]
    results = [m["content"] for m in chat.chat_requests()[-1]["messages"] if m["role"] == "tool"]
    assert results[-1] == "the user declined to run this command"


def test_write_file_writes_inside_the_workspace_only(new_node: Callable[..., Node], chat: FakeChat) -> None:
    node = start_openai(new_node(), chat)
    injection, _ = run(node, "[write: notes/a.txt]")
    assert (node.workspace / "notes" / "a.txt").read_text() == "hello\n"
    [change] = [p["item"] for p in of(node, injection, "item/completed") if p["item"]["type"] == "fileChange"]
    assert change["status"] == "completed" and change["changes"][0]["path"] == "notes/a.txt"
    run(node, "[write: ../escape.txt]")
    assert not (node.base / "runs" / node.job_id / "escape.txt").exists()
    result = [m["content"] for m in chat.chat_requests()[-1]["messages"] if m["role"] == "tool"][-1]
    assert "must stay inside the workspace" in result


def test_interrupt_and_steer(new_node: Callable[..., Node], chat: FakeChat) -> None:
    node = start_openai(new_node(), chat)
    sleeper = node.inject("[tool: sleep 30]")
    node.wait_record(
        lambda r: (
            r["kind"] == "runtime"
            and r["payload"].get("method") == "item/started"
            and r["payload"]["params"]["item"]["type"] == "commandExecution"
        ),
        "the command",
    )
    node.append_inbox(b'{"type": "interrupt"}\n')
    assert node.wait_turn_completed(sleeper)["payload"]["params"]["turn"]["status"] == "interrupted"

    steered = start_openai(new_node(node_id=1), chat)
    slow = steered.inject("[slow] tell me")
    steered.wait_record(lambda r: r["payload"].get("method") == "item/agentMessage/delta", "the answer to stream")
    steer = steered.inject("and this", mode="steer")
    completed = steered.wait_turn_completed(slow, timeout=30)
    assert wait_for(lambda: of(steered, steer, "codeswarm/injectionSteered"), what="the steer")
    answers = [item["text"] for item in completed["payload"]["params"]["turn"]["items"]]
    assert answers == ["Answer: [slow] tell me", "Answer: and this"]  # the steer got a round of its own
    assert steered.turn_order() == [slow]  # and no turn of its own


def test_old_tool_outputs_are_cut_to_fit_the_context_window(new_node: Callable[..., Node], chat: FakeChat) -> None:
    node = start_openai(new_node(), chat, context_window=1024)
    big = "head -c 5000 /dev/zero | tr '\\\\0' a"
    injection, turn = run(node, f"[tools: {big}|echo small]")
    assert turn["status"] == "completed"
    [trimmed] = of(node, injection, "codeswarm/contextTrimmed")
    assert trimmed["trimmed"] == 1
    last = chat.chat_requests()[-1]["messages"]
    assert "[output removed" in next(m["content"] for m in last if m["role"] == "tool")
