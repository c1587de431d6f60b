"""The node program as the router runs it: a subprocess started from the zipapp, driven through its mailbox."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.node.bundle_writer import write_bundle
from services.node.cli import NodeOptions
from services.node.errors import ConfigError
from services.node.messages import Injection
from services.node.program import NodeProgram
from services.node.runtimes import RUNTIMES
from services.node.runtimes.base import ScriptedRuntime
from services.node.runtimes.turn import Turn
from tests.support.node_process import BLOCK_UNTIL_RELEASED, JOB, Node, Record, hello, wait_for


def label(message: dict[str, Any]) -> str:
    """A message's method, with the item type for item/started and item/completed."""
    item = message["params"].get("item")
    return f"{message['method']}:{item['type']}" if isinstance(item, dict) else message["method"]


def collapse_runs(labels: list[str]) -> list[str]:
    """Consecutive repeats of one label become `label*` (deltas come in runs of varying length)."""
    out: list[str] = []
    for name in labels:
        if out and out[-1].rstrip("*") == name:
            out[-1] = name + "*"
        else:
            out.append(name)
    return out


def assert_seq_is_gapless(records: list[Record]) -> None:
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))


# -- start-up ---------------------------------------------------------------------------------------------


def test_hello_is_the_first_record(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    first = hello(node)
    assert node.process is not None
    assert first["seq"] == 1 and node.records()[0] == first
    assert first["job_id"] == JOB and first["node_id"] == 0 and first["injection_id"] is None
    assert first["payload"]["pid"] == node.process.pid
    assert first["payload"]["runtime"] == "mock"
    assert isinstance(first["payload"]["host"], str) and first["payload"]["host"]
    assert isinstance(first["payload"]["thread_id"], str) and first["payload"]["thread_id"]
    assert set(first) == {"seq", "ts", "job_id", "node_id", "injection_id", "kind", "payload"}
    assert node.workspace.is_dir() and node.inbox.exists()


def test_node_id_comes_from_slurm_nodeid_when_not_given(new_node: Callable[..., Node]) -> None:
    node = new_node(node_id=3).start(with_node_id=False, extra_env={"SLURM_NODEID": "3"})
    record = hello(node)
    assert record["node_id"] == 3
    assert node.outbox.name == f"{JOB}_03.jsonl"
    assert node.workspace.name == "node_03"


def test_no_node_id_at_all_is_a_clear_error(new_node: Callable[..., Node]) -> None:
    node = new_node().start(with_node_id=False)
    assert node.wait_exit() == 2
    assert "SLURM_NODEID" in node.stderr()


@pytest.mark.parametrize(
    ("args", "params", "reason_parts"),
    [
        ((), {"delay_ms": 0, "bogus": 1}, ["'bogus'", "valid keys: delay_ms, tokens"]),
        ((), {"tokens": "8"}, ["'tokens'", "must be an integer"]),
        (("--runtime", "shell"), {"tokens": 3}, ["'tokens'", "valid keys: (none)"]),
        (("--runtime", "nope"), {}, ["unknown runtime 'nope'", "available: claude, codex, mock, openai, shell"]),
        (("--system-prompt-file", "/nonexistent/prompt.txt"), {}, ["system prompt file"]),
    ],
)
def test_a_bad_configuration_ends_in_an_exit_record_with_code_2(
    new_node: Callable[..., Node], args: tuple[str, ...], params: dict[str, Any], reason_parts: list[str]
) -> None:
    node = new_node().start(*args, runtime_params=params)
    assert node.wait_exit() == 2
    records = node.records()
    assert [r["kind"] for r in records] == ["exit"]
    assert records[0]["payload"]["code"] == 2
    for part in reason_parts:
        assert part in records[0]["payload"]["reason"]


# -- a turn -------------------------------------------------------------------------------------------------


def test_a_mock_turn_writes_the_whole_codex_sequence(new_node: Callable[..., Node]) -> None:
    node = new_node().start(runtime_params={"delay_ms": 0, "tokens": 5})
    hello(node)
    prompt = "run these\n$ echo hi\n$ exit 3"
    injection_id = node.inject(prompt)
    node.wait_turn_completed(injection_id)

    records = node.records()
    assert_seq_is_gapless(records)
    turn_records = [r for r in records if r["kind"] == "runtime"]
    assert {r["injection_id"] for r in turn_records} == {injection_id}
    assert all(r["job_id"] == JOB and r["node_id"] == 0 for r in records)
    messages = [r["payload"] for r in turn_records]
    assert collapse_runs([label(m) for m in messages]) == [
        "thread/status/changed",
        "turn/started",
        "item/started:userMessage",
        "item/completed:userMessage",
        "item/started:reasoning",
        "item/reasoning/summaryPartAdded",
        "item/reasoning/summaryTextDelta*",
        "item/completed:reasoning",
        "item/started:commandExecution",
        "item/commandExecution/outputDelta",
        "item/completed:commandExecution",
        "item/started:commandExecution",
        "item/completed:commandExecution",
        "item/started:agentMessage",
        "item/agentMessage/delta*",
        "item/completed:agentMessage",
        "thread/tokenUsage/updated",
        "thread/status/changed",
        "turn/completed",
    ]
    assert all(set(m) == {"method", "params", "emittedAtMs"} for m in messages)

    commands = [m["params"]["item"] for m in messages if label(m) == "item/completed:commandExecution"]
    assert [c["command"] for c in commands] == ["/bin/bash -lc 'echo hi'", "/bin/bash -lc 'exit 3'"]
    assert [(c["status"], c["exitCode"], c["aggregatedOutput"]) for c in commands] == [
        ("completed", 0, "hi\n"),
        ("failed", 3, ""),
    ]
    assert all(c["cwd"] == str(node.workspace.resolve()) for c in commands)
    output = [m["params"]["delta"] for m in messages if m["method"] == "item/commandExecution/outputDelta"]
    assert "".join(output) == "hi\n"

    answer_deltas = [m["params"]["delta"] for m in messages if m["method"] == "item/agentMessage/delta"]
    assert len(answer_deltas) == 5
    assert "".join(answer_deltas) == f"echo: {prompt}"
    completed = messages[-1]["params"]["turn"]
    assert completed["status"] == "completed"
    assert [item["text"] for item in completed["items"]] == [f"echo: {prompt}"]
    usage = next(m for m in messages if m["method"] == "thread/tokenUsage/updated")["params"]["tokenUsage"]
    assert usage["total"] == usage["last"] and usage["total"]["totalTokens"] > 0


def test_heartbeats_arrive_at_the_interval(new_node: Callable[..., Node]) -> None:
    node = new_node().start(heartbeat_s=0.05)
    beats = wait_for(lambda: [r for r in node.records() if r["kind"] == "heartbeat"][3:], what="four heartbeats")
    assert all(r["payload"] == {} and r["injection_id"] is None for r in beats)
    assert node.records()[0]["kind"] == "hello"


# -- the inbox ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error_part", "injection_id"),
    [
        (b"this is not json", "not JSON", None),
        (b"[1, 2]", "not a JSON object", None),
        (b'{"type": "launch"}', "unknown 'type'", None),
        (b'{"type": "inject", "injection_id": "i-9"}', "'content' must be a string", "i-9"),
        (b'{"type": "inject", "injection_id": "i-8", "content": "x", "mode": "now"}', "'mode' must be one of", "i-8"),
        (b'{"type": "approval", "call_id": "c", "decision": ""}', "'decision' must be a non-empty string", None),
        (b'{"type": "approval", "call_id": "call-1", "decision": "accept"}', "no pending approval", None),
        (b'{"type": "interrupt"}', "nothing to interrupt", None),
        (b"\xff\xfe", "not UTF-8", None),
    ],
)
def test_an_unusable_inbox_line_gives_inbox_error_and_the_node_goes_on(
    new_node: Callable[..., Node], line: bytes, error_part: str, injection_id: str | None
) -> None:
    node = new_node().start()
    hello(node)
    node.append_inbox(line + b"\n")
    error = node.wait_record(lambda r: r["kind"] == "inbox_error", "inbox_error")
    assert error_part in error["payload"]["error"]
    assert error["payload"]["line"] == line.decode("utf-8", errors="replace")
    assert error["injection_id"] == injection_id
    after = node.inject("still alive")
    node.wait_turn_completed(after)
    assert node.process is not None and node.process.poll() is None


def test_a_partial_inbox_line_waits_for_its_end(new_node: Callable[..., Node]) -> None:
    node = new_node().start(heartbeat_s=0.02)
    hello(node)
    line = json.dumps({"type": "inject", "injection_id": "split", "content": "in two writes"}).encode() + b"\n"
    node.append_inbox(line[:20])
    # Several heartbeats later (the node polls its inbox every few ms), the half line is still unread.
    written = len(node.records())
    wait_for(lambda: len([r for r in node.records()[written:] if r["kind"] == "heartbeat"]) >= 5, what="heartbeats")
    assert not [r for r in node.records() if r["kind"] in ("inbox_error", "runtime")]
    node.append_inbox(line[20:])
    node.wait_turn_completed("split")
    assert not [r for r in node.records() if r["kind"] == "inbox_error"]
    assert node.turn_order() == ["split"]


def test_injections_run_one_at_a_time_in_arrival_order(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    first = node.inject(BLOCK_UNTIL_RELEASED)
    node.wait_record(lambda r: r["payload"].get("method") == "item/started", "the first turn to run")
    second, third = node.inject("second"), node.inject("third")
    node.mark()
    assert node.turn_order() == [first]  # the others wait while the first turn runs
    (node.workspace / "release").touch()
    node.wait_turn_completed(third)
    assert node.turn_order() == [first, second, third]
    starts_and_ends = [
        (r["injection_id"], r["payload"]["method"])
        for r in node.records()
        if r["kind"] == "runtime" and r["payload"]["method"] in ("turn/started", "turn/completed")
    ]
    assert starts_and_ends == [(i, m) for i in (first, second, third) for m in ("turn/started", "turn/completed")]


def test_a_steer_goes_to_the_head_of_the_queue(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    running = node.inject(BLOCK_UNTIL_RELEASED)
    node.wait_record(lambda r: r["payload"].get("method") == "item/started", "the first turn to run")
    queued_1, queued_2 = node.inject("queued 1"), node.inject("queued 2")
    steer_1 = node.inject("steer 1", mode="steer")
    steer_2 = node.inject("steer 2", mode="steer")
    node.mark()
    (node.workspace / "release").touch()
    node.wait_turn_completed(queued_2)
    assert node.turn_order() == [running, steer_1, steer_2, queued_1, queued_2]


def test_a_repeated_injection_id_runs_once(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    node.inject("once", injection_id="same")
    node.inject("twice?", injection_id="same")
    node.mark()
    node.wait_turn_completed("same")
    assert node.turn_order() == ["same"]


# -- stopping and restarting --------------------------------------------------------------------------------


def test_sigterm_writes_an_exit_record_and_exits_0(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    assert node.terminate() == 0
    records = node.records()
    assert_seq_is_gapless(records)
    assert records[-1]["kind"] == "exit"
    assert records[-1]["payload"] == {"code": 0, "reason": "terminated by signal SIGTERM"}


def test_sigterm_during_a_command_kills_it_and_interrupts_the_turn(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    injection_id = node.inject("$ echo started; sleep 300")
    node.wait_record(lambda r: r["payload"].get("method") == "item/commandExecution/outputDelta", "command output")
    started = next(m for m in node.runtime_messages() if label(m) == "item/started:commandExecution")
    command_pid = int(started["params"]["item"]["processId"])
    assert node.terminate() == 0
    records = node.records()
    assert_seq_is_gapless(records)
    assert [label(r["payload"]) for r in records[-3:-1]] == ["thread/status/changed", "turn/completed"]
    assert records[-2]["injection_id"] == injection_id
    assert records[-2]["payload"]["params"]["turn"]["status"] == "interrupted"
    assert records[-1]["payload"]["code"] == 0
    assert not [m for m in node.runtime_messages() if label(m) == "item/completed:commandExecution"]
    with pytest.raises(ProcessLookupError):
        os.kill(command_pid, 0)


def test_a_restarted_node_continues_seq_and_runs_only_what_it_never_started(new_node: Callable[..., Node]) -> None:
    node = new_node().start()
    hello(node)
    done = node.inject("before the restart")
    node.wait_turn_completed(done)
    assert node.terminate() == 0
    exit_seq = node.records()[-1]["seq"]
    node.append_inbox(b"a bad line written before the restart\n")
    waiting = node.inject("written while the node was down")
    node.kill()

    again = Node(node.pyz, node.base, node.node_id).start()
    try:
        again.wait_turn_completed(waiting)
        records = again.records()
        assert_seq_is_gapless(records)
        hellos = [r for r in records if r["kind"] == "hello"]
        assert [h["seq"] for h in hellos] == [1, exit_seq + 1]
        assert again.turn_order() == [done, waiting]
        assert again.terminate() == 0
        assert_seq_is_gapless(again.records())
    finally:
        again.kill()


def test_a_torn_last_outbox_line_is_ended_before_new_records(new_node: Callable[..., Node]) -> None:
    node = new_node()
    node.outbox.parent.mkdir(parents=True)
    whole = {"ts": 1.0, "job_id": JOB, "node_id": 0, "injection_id": None, "kind": "heartbeat", "payload": {}}
    written = b"".join(json.dumps({"seq": seq, **whole}).encode() + b"\n" for seq in range(1, 8))
    node.outbox.write_bytes(written + b'{"seq": 8, "ts": 2.0, "jo')
    node.start()
    wait_for(lambda: b'"kind": "hello"' in node.outbox.read_bytes(), what="hello")
    lines = node.outbox.read_bytes().splitlines()
    assert lines[7] == b'{"seq": 8, "ts": 2.0, "jo'
    assert json.loads(lines[8])["seq"] == 8 and json.loads(lines[8])["kind"] == "hello"


# -- the bundle -----------------------------------------------------------------------------------------------


def test_the_bundle_is_written_into_the_workspace_before_hello(new_node: Callable[..., Node], tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"AGENTS.md": "# rules\n", "skills/a/SKILL.md": "do a\n"}))
    node = new_node().start("--bundle-file", str(bundle))
    hello(node)
    assert (node.workspace / "AGENTS.md").read_text() == "# rules\n"
    assert (node.workspace / "skills" / "a" / "SKILL.md").read_text() == "do a\n"
    injection_id = node.inject("$ cat AGENTS.md")
    node.wait_turn_completed(injection_id)
    outputs = [m["params"]["delta"] for m in node.runtime_messages(injection_id) if "outputDelta" in m["method"]]
    assert "".join(outputs) == "# rules\n"


@pytest.mark.parametrize(
    ("relpath", "reason_part"),
    [
        ("/tmp/evil.txt", "absolute"),
        ("../evil.txt", "'..'"),
        ("sub/../../evil.txt", "'..'"),
        ("outside/evil.txt", "symbolic link"),
    ],
)
def test_a_bundle_path_that_escapes_the_workspace_is_refused(
    new_node: Callable[..., Node], tmp_path: Path, relpath: str, reason_part: str
) -> None:
    node = new_node()
    outside = tmp_path / "outside"
    outside.mkdir()
    node.workspace.mkdir(parents=True)
    (node.workspace / "outside").symlink_to(outside)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps({"fine.txt": "fine", relpath: "evil"}))
    node.start("--bundle-file", str(bundle))
    assert node.wait_exit() == 2
    records = node.records()
    assert [r["kind"] for r in records] == ["exit"]
    assert records[0]["payload"]["code"] == 2
    assert reason_part in records[0]["payload"]["reason"] and relpath in records[0]["payload"]["reason"]
    assert not (node.workspace / "fine.txt").exists()  # nothing is written unless everything may be
    assert list(outside.iterdir()) == []


def test_write_bundle_refuses_non_text_and_directories(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigError, match="must be text"):
        write_bundle(str(tmp_path), {"a.txt": 3})
    with pytest.raises(ConfigError, match="directory"):
        write_bundle(str(tmp_path), {"dir": "x"})
    with pytest.raises(ConfigError, match="names no file"):
        write_bundle(str(tmp_path), {".": "x"})
    assert write_bundle(str(tmp_path), {"b/c.txt": "c", "a.txt": "a"}) == ["a.txt", "b/c.txt"]


# -- in-process: failures -------------------------------------------------------------------------------------


class ExplodingRuntime(ScriptedRuntime):
    name = "exploding"

    def play(self, turn: Turn, injection: Injection) -> None:
        raise RuntimeError(f"boom on {injection.content}")


def run_in_thread(program: NodeProgram) -> tuple[threading.Thread, list[int]]:
    """Run a NodeProgram off the main thread (it then installs no signal handlers); its exit code lands in the list."""
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(program.run()), daemon=True)
    thread.start()
    return thread, codes


def options(base: Path, runtime: str) -> NodeOptions:
    return NodeOptions(str(base), JOB, 0, runtime, "{}", 30.0, None, None)


def test_an_unexpected_error_in_a_turn_ends_with_exit_code_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(RUNTIMES, "exploding", ExplodingRuntime)
    program = NodeProgram(options(tmp_path, "exploding"))
    thread, codes = run_in_thread(program)
    node = Node(Path("unused.pyz"), tmp_path)
    hello(node)
    node.inject("the first prompt")
    thread.join(timeout=15)
    assert codes == [1]
    records = node.records()
    assert_seq_is_gapless(records)
    assert records[-1]["kind"] == "exit" and records[-1]["payload"]["code"] == 1
    assert "RuntimeError: boom on the first prompt" in records[-1]["payload"]["reason"]


def test_request_stop_ends_the_program_like_a_signal(tmp_path: Path) -> None:
    program = NodeProgram(options(tmp_path, "shell"))
    thread, codes = run_in_thread(program)
    node = Node(Path("unused.pyz"), tmp_path)
    hello(node)
    program.request_stop("stopped by the test")
    thread.join(timeout=15)
    assert codes == [0]
    assert node.records()[-1]["payload"] == {"code": 0, "reason": "stopped by the test"}
