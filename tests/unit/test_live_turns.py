"""A node's live turn: the streamed text so far, exact, and capped to its last MAX_TEXT_CHARS."""

from __future__ import annotations

from typing import Any

from mirror.live_turns import MAX_PARTS, MAX_TEXT_CHARS, LiveTurns, TextTail
from services.protocol import EventName

SWARM = "sw-1"


def delta(text: str, item_id: str = "msg-1") -> dict[str, Any]:
    return {"swarm_id": SWARM, "node_id": 0, "injection_id": "inj-1", "item_id": item_id, "delta": text}


def items(live: LiveTurns) -> list[dict[str, Any]]:
    (node,) = live.view(SWARM)
    turn: dict[str, Any] = node["turn"]
    found: list[dict[str, Any]] = turn["items"]
    return found


def test_deltas_make_the_exact_text_in_order() -> None:
    live = LiveTurns()
    parts = [f"part {n}; " for n in range(1000)]
    for part in parts:
        live.apply(EventName.ASSISTANT_DELTA, delta(part), "2026-12-03T00:00:00Z")
    (item,) = items(live)
    assert item == {"kind": "assistant", "item_id": "msg-1", "text": "".join(parts), "final": False}


def test_a_long_stream_keeps_its_last_characters() -> None:
    live = LiveTurns()
    parts = [f"{n:07d}" for n in range(3 * MAX_TEXT_CHARS // 7)]  # three caps' worth
    for part in parts:
        live.apply(EventName.REASONING_DELTA, delta(part, "rs-1"), None)
    (item,) = items(live)
    assert item["text"] == "".join(parts)[-MAX_TEXT_CHARS:]


def test_the_final_text_replaces_the_streamed_one_and_later_deltas_change_nothing() -> None:
    live = LiveTurns()
    live.apply(EventName.ASSISTANT_DELTA, delta("draf"), None)
    final = {**delta(""), "text": "the answer"}
    live.apply(EventName.ASSISTANT, final, None)
    live.apply(EventName.ASSISTANT_DELTA, delta(" late"), None)
    (item,) = items(live)
    assert (item["text"], item["final"]) == ("the answer", True)


def test_a_view_is_a_copy_and_the_stream_goes_on_after_it() -> None:
    live = LiveTurns()
    live.apply(EventName.ASSISTANT_DELTA, delta("one "), None)
    first = items(live)
    live.apply(EventName.ASSISTANT_DELTA, delta("two"), None)
    assert first[0]["text"] == "one "
    assert items(live)[0]["text"] == "one two"


def test_a_tail_is_bounded_in_parts_and_in_characters() -> None:
    tail = TextTail()
    for n in range(10 * MAX_PARTS):
        tail.append("x" * (1 + n % 5000))
        assert len(tail.parts) <= MAX_PARTS
        assert tail.size < 2 * MAX_TEXT_CHARS
    tail.append("y" * (2 * MAX_TEXT_CHARS))
    assert tail.text() == "y" * MAX_TEXT_CHARS
