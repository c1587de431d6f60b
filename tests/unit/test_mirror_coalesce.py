"""Delta coalescing: adjacent deltas of one item merge, text identical, the SSE id is the last one's."""

from __future__ import annotations

from typing import Any

import orjson

from codeswarm.cli.sse import SseParser
from mirror.coalesce import render
from mirror.items import StreamItem, item_from_entry
from services.bus.base import BusEntry
from services.protocol import make_envelope


def item(entry_id: str, event: str, **data: Any) -> StreamItem:
    envelope = make_envelope(event, {"swarm_id": "sw", "injection_id": "in-1", **data}, timestamp=f"t{entry_id}")
    parsed = item_from_entry(BusEntry(entry_id, orjson.dumps(envelope)))
    assert parsed is not None
    return parsed


def frames(items: list[StreamItem], window_ms: float) -> list[tuple[str | None, str, dict[str, Any]]]:
    events = SseParser(keep_comments=True).feed_text(render(items, window_ms).decode())
    return [(e.id, e.event, e.json()["data"]) for e in events]


def test_adjacent_deltas_of_one_item_merge_exactly() -> None:
    items = [
        item("100-0", "assistant_delta", node_id=0, item_id="a", delta="Hel", raw={"x": 1}),
        item("100-1", "assistant_delta", node_id=0, item_id="a", delta="lo, "),
        item("105-0", "assistant_delta", node_id=0, item_id="a", delta="wörld\n"),
        item("106-0", "turn_complete", node_id=0),
    ]
    out = frames(items, window_ms=20)
    assert [(i, e) for i, e, _ in out] == [("105-0", "assistant_delta"), ("106-0", "turn_complete")]
    merged = out[0][2]
    assert merged["delta"] == "Hello, wörld\n" and merged["coalesced"] == 3 and "raw" not in merged
    envelope = SseParser(keep_comments=True).feed_text(render(items, 20).decode())[0].json()
    assert envelope["timestamp"] == "t100-0"  # the age of the oldest text in it


def test_runs_break_on_other_items_nodes_events_and_the_window() -> None:
    items = [
        item("100-0", "assistant_delta", node_id=0, item_id="a", delta="1"),
        item("100-1", "assistant_delta", node_id=1, item_id="a", delta="2"),  # other node
        item("100-2", "assistant_delta", node_id=1, item_id="b", delta="3"),  # other item
        item("100-3", "reasoning_delta", node_id=1, item_id="b", delta="4"),  # other event
        item("100-4", "reasoning_delta", node_id=1, item_id="b", delta="5"),
        item("130-0", "reasoning_delta", node_id=1, item_id="b", delta="6"),  # 30 ms later: new run
    ]
    out = frames(items, window_ms=20)
    assert [(i, d["delta"]) for i, _, d in out] == [
        ("100-0", "1"),
        ("100-1", "2"),
        ("100-2", "3"),
        ("100-4", "45"),
        ("130-0", "6"),
    ]


def test_window_zero_sends_every_entry() -> None:
    items = [item(f"100-{n}", "command_output_delta", node_id=0, item_id="c", delta=str(n)) for n in range(5)]
    out = frames(items, window_ms=0)
    assert [i for i, _, _ in out] == [f"100-{n}" for n in range(5)]
    assert render(items, 0) == b"".join(i.frame for i in items)


def test_frames_carry_the_bus_id_and_the_envelope_as_published() -> None:
    entry = item("7-3", "usage", node_id=0, total={"totalTokens": 5})
    (event,) = SseParser(keep_comments=True).feed_text(entry.frame.decode())
    assert event.id == "7-3" and event.event == "usage" and event.json() == orjson.loads(entry.payload)
