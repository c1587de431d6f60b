"""How `codeswarm watch` renders event envelopes (shaped as the router emits them)."""

from __future__ import annotations

import io
import re
from itertools import zip_longest
from typing import Any

from codeswarm.cli.render import Renderer
from services.protocol import EventName, make_envelope

SW = "sw-0123456789ab"


def event(name: EventName | str, node: int | None = None, injection: str | None = "in-1", **fields: Any) -> Any:
    data: dict[str, Any] = {"swarm_id": SW, "job_id": f"local-{SW}"}
    if node is not None:
        data["node_id"] = node
    if injection is not None and node is not None:
        data["injection_id"] = injection
    data.update(fields)
    return make_envelope(name, data)


def render(envelopes: list[Any], **options: Any) -> str:
    out = io.StringIO()
    renderer = Renderer(out, live=False, **options)
    for envelope in envelopes:
        renderer.handle(envelope)
    renderer.finish()
    return out.getvalue()


def mock_turn(node: int, prompt_answer: str = "echo: hello") -> list[Any]:
    """One node's turn as the mock runtime produces it, split into deltas the way the router forwards them."""
    reasoning = ["**Planning", " the reply**", "\n\nI will run 1 command", " first."]
    answer = [prompt_answer[i : i + 4] for i in range(0, len(prompt_answer), 4)]
    usage = {"totalTokens": 1282, "inputTokens": 1240, "cachedInputTokens": 1024, "outputTokens": 42}
    return [
        event(EventName.TURN_STARTED, node, turn_id="t1"),
        *[event(EventName.REASONING_DELTA, node, item_id="rs1", delta=d) for d in reasoning],
        event(EventName.REASONING, node, item_id="rs1", text="**Planning the reply**\n\nI will run 1 command first."),
        event(EventName.COMMAND_STARTED, node, call_id="c1", item_id="c1", command="/bin/bash -lc 'ls; exit 3'"),
        event(EventName.COMMAND_OUTPUT_DELTA, node, item_id="c1", delta="a.txt\nb"),
        event(EventName.COMMAND_OUTPUT_DELTA, node, item_id="c1", delta=".txt\n"),
        event(EventName.COMMAND_COMPLETED, node, call_id="c1", item_id="c1", exit_code=3, output="a.txt\nb.txt\n"),
        *[event(EventName.ASSISTANT_DELTA, node, item_id="m1", delta=d) for d in answer],
        event(EventName.ASSISTANT, node, item_id="m1", text=prompt_answer),
        event(EventName.USAGE, node, total=usage, last=usage, context_window=258400),
        event(EventName.TURN_COMPLETE, node, turn_id="t1", status="completed", error=None),
    ]


def test_a_whole_turn_reads_as_one_line_per_step() -> None:
    tag = f"[{SW} n0]"
    assert render(mock_turn(0)).splitlines() == [
        f"{tag} ── turn started (in-1)",
        f"{tag} reasoning: **Planning the reply**",
        f"{tag}   I will run 1 command first.",
        f"{tag} $ /bin/bash -lc 'ls; exit 3'",
        f"{tag}   a.txt",
        f"{tag}   b.txt",
        f"{tag} exit 3",
        f"{tag} assistant: echo: hello",
        f"{tag} usage: 1,282 tokens (input 1,240, cached 1,024, output 42), context window 258,400",
        f"{tag} ── turn complete",
    ]


def test_interleaved_nodes_never_share_a_line() -> None:
    first, second = mock_turn(0, "echo: alpha node"), mock_turn(1, "echo: omega node")
    interleaved = [e for pair in zip_longest(first, second) for e in pair if e is not None]
    lines = render(interleaved).splitlines()
    assert f"[{SW} n0] assistant: echo: alpha node" in lines
    assert f"[{SW} n1] assistant: echo: omega node" in lines
    for line in lines:
        node = re.match(rf"\[{SW} n(\d)\]", line)
        assert node, line
        other = "omega" if node.group(1) == "0" else "alpha"
        assert other not in line, line
    assert len(lines) == 2 * len(render(mock_turn(0)).splitlines())


def test_a_completed_item_that_was_not_streamed_is_printed_whole() -> None:
    text = render([event(EventName.ASSISTANT, 2, item_id="m9", text="line one\nline two\n")])
    assert text.splitlines() == [f"[{SW} n2] assistant: line one", f"[{SW} n2]   line two"]


def test_a_stream_joined_midway_shows_what_arrived_then_the_whole_text() -> None:
    text = render(
        [
            event(EventName.ASSISTANT_DELTA, 0, item_id="m1", delta="end of it"),
            event(EventName.ASSISTANT, 0, item_id="m1", text="the start and the end of it"),
        ]
    )
    assert text.splitlines() == [
        f"[{SW} n0] assistant: end of it",
        f"[{SW} n0] assistant: the start and the end of it",
    ]


def test_a_command_without_an_exit_code_says_how_it_ended() -> None:
    text = render(
        [
            event(EventName.COMMAND_STARTED, 0, call_id="c1", command="rm -rf /"),
            event(EventName.COMMAND_COMPLETED, 0, call_id="c1", item_id="c1", exit_code=None, status="declined"),
        ]
    )
    assert text.splitlines() == [f"[{SW} n0] $ rm -rf /", f"[{SW} n0] command declined"]


def test_lifecycle_and_command_events() -> None:
    swarm = {"swarm_id": SW, "job_id": f"local-{SW}", "node_count": 4, "provider": "local", "runtime": "mock"}
    text = render(
        [
            event(EventName.SWARM_LAUNCH_PROGRESS, phase="accepted", message="launch of 4 mock nodes accepted"),
            event(EventName.SWARM_LAUNCHED, swarm=swarm),
            event(EventName.NODE_STATUS, 3, status="idle"),
            event(EventName.INJECT_DELIVERED, 1, injection="in-7"),
            event(EventName.INJECT_FAILED, 2, injection="in-8", reason="inbox not writable"),
            event(EventName.SWARM_STATUS, status="running", health="unknown", reason="squeue timed out"),
            event(EventName.COMMAND_REJECTED, command="launch", reason="sbatch: error: invalid partition"),
            event(EventName.WORKSPACE_ARCHIVE_READY, url=f"/v1/swarms/{SW}/archive", bytes=20480),
            event(EventName.SWARM_TERMINATED, status="terminated", reason="terminated by the user"),
            event(EventName.SWARM_REMOVED, reason=None),
            event(EventName.AGENT_ERROR, 0, message="HTTP 500", will_retry=True),
        ]
    )
    assert text.splitlines() == [
        f"[{SW}] launch accepted: launch of 4 mock nodes accepted",
        f"[{SW}] launched: job local-{SW}, 4 nodes (local/mock)",
        f"[{SW} n3] node idle",
        f"[{SW} n1] prompt delivered (in-7)",
        f"[{SW} n2] prompt not delivered (in-8): inbox not writable",
        f"[{SW}] status running, health unknown: squeue timed out",
        f"[{SW}] launch rejected: sbatch: error: invalid partition",
        f"[{SW}] workspace archive ready: /v1/swarms/{SW}/archive (20,480 bytes)",
        f"[{SW}] ended (terminated): terminated by the user",
        f"[{SW}] removed",
        f"[{SW} n0] agent error: HTTP 500 (will retry)",
    ]


def test_unknown_and_malformed_events_are_ignored() -> None:
    text = render(
        [
            event("queue_item_moved", 0, whatever=1),
            event(EventName.THREAD_STATUS, 0, status="active"),
            {"event": "assistant", "data": "not an object"},
            ["not", "an", "envelope"],
            {"data": {"swarm_id": SW}},
        ]
    )
    assert text == ""


def test_unknown_fields_do_not_matter() -> None:
    text = render([event(EventName.NODE_STATUS, 0, status="busy", shiny_new_field={"x": 1})])
    assert text == f"[{SW} n0] node busy\n"


def test_a_turn_that_ends_without_its_completed_item_leaves_no_line_behind() -> None:
    text = render(
        [
            event(EventName.ASSISTANT_DELTA, 0, item_id="m1", delta="interrupted answ"),
            event(EventName.TURN_COMPLETE, 0, status="interrupted", error={"message": "cancelled by the user"}),
        ]
    )
    assert text.splitlines() == [
        f"[{SW} n0] assistant: interrupted answ",
        f"[{SW} n0] ── turn complete (interrupted): cancelled by the user",
    ]


# -- the live view on a terminal ---------------------------------------------------------------------


def screen(output: str) -> list[str]:
    """What a terminal shows after ``output`` (the few controls the renderer uses: \\n, \\r, CSI A and J)."""
    lines, row, col, i = [""], 0, 0, 0
    while i < len(output):
        control = re.match(r"\033\[(\d*)([AJ])", output[i:])
        if control:
            if control.group(2) == "A":
                row = max(row - int(control.group(1) or 1), 0)
            else:
                del lines[row + 1 :]
                lines[row] = lines[row][:col]
            i += len(control.group(0))
            continue
        char = output[i]
        if char == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif char == "\r":
            col = 0
        else:
            lines[row] = lines[row][:col] + char + lines[row][col + 1 :]
            col += 1
        i += 1
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def test_live_view_grows_one_line_per_node_then_keeps_the_finished_lines() -> None:
    out = io.StringIO()
    renderer = Renderer(out, live=True, width=lambda: 200)
    renderer.handle(event(EventName.TURN_STARTED, 0))
    renderer.handle(event(EventName.ASSISTANT_DELTA, 0, item_id="m0", delta="echo: he"))
    renderer.handle(event(EventName.ASSISTANT_DELTA, 1, item_id="m1", delta="echo: wor"))
    renderer.handle(event(EventName.ASSISTANT_DELTA, 0, item_id="m0", delta="llo"))
    assert screen(out.getvalue()) == [
        f"[{SW} n0] ── turn started (in-1)",
        f"[{SW} n0] assistant: echo: hello",
        f"[{SW} n1] assistant: echo: wor",
    ]
    renderer.handle(event(EventName.ASSISTANT, 0, item_id="m0", text="echo: hello"))
    renderer.handle(event(EventName.NODE_STATUS, 0, status="idle"))
    renderer.handle(event(EventName.ASSISTANT_DELTA, 1, item_id="m1", delta="ld"))
    assert screen(out.getvalue()) == [
        f"[{SW} n0] ── turn started (in-1)",
        f"[{SW} n0] assistant: echo: hello",
        f"[{SW} n0] node idle",
        f"[{SW} n1] assistant: echo: world",
    ]
    renderer.finish()
    assert screen(out.getvalue())[-1] == f"[{SW} n1] assistant: echo: world"


def test_live_lines_longer_than_the_terminal_show_their_end() -> None:
    out = io.StringIO()
    renderer = Renderer(out, live=True, width=lambda: 60)
    renderer.handle(event(EventName.ASSISTANT_DELTA, 0, item_id="m0", delta="x" * 100 + "THE END"))
    (line,) = screen(out.getvalue())
    assert len(line) < 60
    assert line.startswith(f"[{SW} n0] assistant: …") and line.endswith("THE END")


def test_an_approval_says_how_to_answer_it_and_what_became_of_it() -> None:
    asked = event(
        EventName.EXEC_APPROVAL_REQUIRED,
        1,
        call_id="call_7",
        command="/bin/bash -lc 'rm -rf build'",
        reason="Allow deleting build?",
        available_decisions=["accept", "decline", "cancel"],
    )
    resolved = event(EventName.EXEC_APPROVAL_RESOLVED, 1, call_id="call_7", decision="decline")
    warning = event(EventName.AGENT_WARNING, 1, message="Reconnecting... 1/2")
    queued = event(EventName.INJECT_QUEUED, 1, position=2)
    text = render([asked, resolved, warning, queued])
    assert f"codeswarm approve {SW} 1 call_7 accept  (accept/decline/cancel)" in text
    assert "Allow deleting build?" in text and "approval call_7: decline" in text
    assert "agent warning: Reconnecting... 1/2" in text and "queued behind the running turn (in-1, #2)" in text
