"""A command's output is capped where the node writes it: streamed and kept up to OUTPUT_CAP characters,
then one truncation note that counts what was left out; the item says `truncated`, the event too, and
the durable transcript cuts again with the same note, counting from the command's whole output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.translate import translate_record
from services.node.messages import Injection
from services.node.outbox import Outbox
from services.node.output_cap import OUTPUT_DELTA
from services.node.records import KIND_RUNTIME, OUTPUT_CAP, TRUNCATION_NOTE, cut_output, truncation_note
from services.node.runtimes.commands import CommandProcess
from services.node.runtimes.shell import ShellRuntime
from services.protocol import EventName

WRITTEN = 3_000_000  # characters the command writes: about three times the cap


def test_a_long_output_is_read_to_the_end_but_streamed_and_kept_only_up_to_the_cap(tmp_path: Path) -> None:
    deltas: list[str] = []
    result = CommandProcess(f"yes | head -c {WRITTEN}; echo done >&2", str(tmp_path)).collect(deltas.append)
    note = TRUNCATION_NOTE.format(dropped=WRITTEN + len("done\n") - OUTPUT_CAP)
    assert result.exit_code == 0 and result.truncated and result.output_chars == WRITTEN + len("done\n")
    assert result.output == "y\n" * (OUTPUT_CAP // 2) + note
    assert "".join(deltas) == result.output and deltas[-1] == note  # live and completed say the same
    assert max(len(delta) for delta in deltas[:-1]) <= 65536  # one delta: at most one read


def test_an_output_within_the_cap_is_whole_and_not_flagged(tmp_path: Path) -> None:
    deltas: list[str] = []
    result = CommandProcess("printf 'a%.0s' $(seq 1000)", str(tmp_path)).collect(deltas.append)
    assert result.output == "a" * 1000 == "".join(deltas) and not result.truncated and result.output_chars == 1000


def _completed(messages: list[dict[str, Any]]) -> dict[str, Any]:
    (item,) = [
        m["params"]["item"]
        for m in messages
        if m.get("method") == "item/completed" and m["params"]["item"]["type"] == "commandExecution"
    ]
    return dict(item)


def test_the_completed_item_and_its_event_say_truncated_with_the_whole_length(tmp_path: Path) -> None:
    messages: list[dict[str, Any]] = []
    runtime = ShellRuntime(str(tmp_path), lambda _injection, message: messages.append(message))
    runtime.start()
    runtime.run_turn(Injection("inj-1", f"yes | head -c {WRITTEN}"))
    runtime.stop()
    item = _completed(messages)
    assert item["truncated"] is True and item["outputChars"] == WRITTEN
    assert len(item["aggregatedOutput"]) == OUTPUT_CAP + len(TRUNCATION_NOTE.format(dropped=WRITTEN - OUTPUT_CAP))
    record = {"seq": 9, "kind": "runtime", "payload": {"method": "item/completed", "params": {"item": item}}}
    ((event, fields),) = translate_record(record)
    assert event is EventName.COMMAND_COMPLETED
    assert fields["truncated"] is True and fields["output_chars"] == WRITTEN and fields["exit_code"] == 0


def test_the_durable_cut_counts_what_the_command_wrote_not_what_the_node_kept() -> None:
    node_kept = cut_output("y" * WRITTEN, OUTPUT_CAP)
    durable = cut_output(node_kept, 65536, total=WRITTEN)
    assert durable == "y" * 65536 + TRUNCATION_NOTE.format(dropped=WRITTEN - 65536)
    assert cut_output(node_kept, 2 * OUTPUT_CAP, total=WRITTEN) == node_kept  # its own note stands
    assert cut_output("short", 65536) == "short"


def _outbox_messages(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["payload"] for line in path.read_text().splitlines()]


def test_a_relayed_agents_command_output_is_capped_by_the_outbox(tmp_path: Path) -> None:
    """codex and claude hand over their agent's own messages: the outbox caps those the same way."""
    path = tmp_path / "outbox.jsonl"
    outbox = Outbox(str(path), "j", 0)
    ids = {"threadId": "t", "turnId": "u", "itemId": "call_1"}
    piece = "z" * 100_000
    for _ in range(30):  # 3,000,000 characters, as codex streams them
        outbox.write(KIND_RUNTIME, {"method": OUTPUT_DELTA, "params": {**ids, "delta": piece}})
    item = {"type": "commandExecution", "id": "call_1", "aggregatedOutput": piece * 30, "exitCode": 0}
    outbox.write(KIND_RUNTIME, {"method": "item/completed", "params": {"item": item, "threadId": "t", "turnId": "u"}})
    outbox.write(KIND_RUNTIME, {"method": "turn/completed", "params": {"threadId": "t"}})
    outbox.close()
    written = _outbox_messages(path)
    deltas = [m["params"]["delta"] for m in written if m["method"] == OUTPUT_DELTA]
    completed = next(m["params"]["item"] for m in written if m["method"] == "item/completed")
    note = truncation_note(WRITTEN - OUTPUT_CAP)
    assert completed["aggregatedOutput"] == "z" * OUTPUT_CAP + note == "".join(deltas)
    assert completed["truncated"] is True and completed["outputChars"] == WRITTEN
    assert len(deltas) == OUTPUT_CAP // 100_000 + 2  # whole ones, the one cut at the cap, the note
    assert written[-1]["method"] == "turn/completed"
    assert max(len(line) for line in path.read_bytes().splitlines()) < 3 * OUTPUT_CAP  # no 3 MB record


def test_the_outbox_leaves_a_capped_command_of_the_node_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = Outbox(str(path), "j", 0)

    def emit(injection_id: str | None, message: dict[str, Any]) -> None:  # as the node program does
        outbox.write(KIND_RUNTIME, message, injection_id)

    runtime = ShellRuntime(str(tmp_path), emit)
    runtime.start()
    runtime.run_turn(Injection("inj-1", f"yes | head -c {WRITTEN}"))
    runtime.stop()
    outbox.close()
    written = _outbox_messages(path)
    deltas = [m["params"]["delta"] for m in written if m["method"] == OUTPUT_DELTA]
    item = _completed(written)
    assert item["aggregatedOutput"] == "y\n" * (OUTPUT_CAP // 2) + truncation_note(WRITTEN - OUTPUT_CAP)
    assert "".join(deltas) == item["aggregatedOutput"] and item["outputChars"] == WRITTEN
