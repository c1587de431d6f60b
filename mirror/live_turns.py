"""What a page needs to draw a swarm after a reload, without one request per node: each node's latest
turn as it stands (the text streamed so far included, which the durable transcript only has once the
item completes) and a summary for the node matrix (last exit code, tokens, pending approvals).

Built from the same events the read model applies, so ``view()`` is consistent with the read model's
``last_event_id``.  Bounded: one turn per node, each text capped (its last ``MAX_TEXT_CHARS`` kept).
A streamed text grows by appending its deltas to a ``TextTail``, joined only when a view is read: a
text of n characters costs O(n) to stream, not the O(n) copy per delta of ``text += delta``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from services.protocol import EventName

MAX_TEXT_CHARS = 100_000
MAX_PARTS = 256  # a tail joins its parts into one past this many: bounded in count as in characters
TEXT_EVENTS: dict[str, tuple[str, bool]] = {
    EventName.REASONING_DELTA: ("reasoning", False),
    EventName.REASONING: ("reasoning", True),
    EventName.ASSISTANT_DELTA: ("assistant", False),
    EventName.ASSISTANT: ("assistant", True),
}
COMMAND_FIELDS = ("command", "cwd", "exit_code", "status", "duration_ms")
USAGE_FIELDS = ("total", "last", "model", "cost_usd")
APPROVAL_FIELDS = ("call_id", "command", "cwd", "reason", "available_decisions", "injection_id")


class TextTail:
    """The last ``MAX_TEXT_CHARS`` characters of a text streamed in parts."""

    __slots__ = ("parts", "size")

    def __init__(self, text: str = "") -> None:
        self.parts: deque[str] = deque()
        self.size = 0
        self.append(text)

    def append(self, part: str) -> None:
        if not part:
            return
        if len(part) > MAX_TEXT_CHARS:
            part = part[-MAX_TEXT_CHARS:]
        self.parts.append(part)
        self.size += len(part)
        while self.size - len(self.parts[0]) >= MAX_TEXT_CHARS:  # the rest alone fills the cap
            self.size -= len(self.parts.popleft())
        if len(self.parts) > MAX_PARTS:
            self._join()

    def _join(self) -> str:
        joined = "".join(self.parts)[-MAX_TEXT_CHARS:]
        self.parts = deque([joined]) if joined else deque()
        self.size = len(joined)
        return joined

    def text(self) -> str:
        return self.parts[0] if len(self.parts) == 1 else self._join()


class NodeLive:
    __slots__ = ("approvals", "context_window", "cost_usd", "last_exit_code", "model", "tokens", "turn", "turns_seen")

    def __init__(self) -> None:
        self.turn: dict[str, Any] | None = None
        self.turns_seen = 0
        self.last_exit_code: int | None = None
        self.tokens: int | None = None
        self.context_window: int | None = None
        self.model: str | None = None
        self.cost_usd: float | None = None  # the thread's estimated cost so far (the router's estimate)
        self.approvals: dict[str, dict[str, Any]] = {}

    def turn_for(self, injection_id: Any, timestamp: Any) -> dict[str, Any]:
        if self.turn is None or (injection_id and self.turn["injection_id"] != injection_id):
            self.turn = {"injection_id": injection_id, "started_at": timestamp, "status": "running", "items": []}
            self.turns_seen += 1
        return self.turn

    def item(self, kind: str, item_id: Any, turn: dict[str, Any]) -> dict[str, Any]:
        for item in turn["items"]:
            if item["kind"] == kind and item["item_id"] == item_id:
                return item
        item = {"kind": kind, "item_id": item_id, "text": TextTail(), "final": False}
        turn["items"].append(item)
        return item

    def view(self, node_id: int) -> dict[str, Any]:
        turn = self.turn
        if turn is not None:
            turn = {**turn, "items": [{**item, "text": item["text"].text()} for item in turn["items"]]}
        return {
            "node_id": node_id,
            "turn": turn,
            "turns_seen": self.turns_seen,
            "last_exit_code": self.last_exit_code,
            "tokens": self.tokens,
            "context_window": self.context_window,
            "model": self.model,
            "cost_usd": self.cost_usd,
            "approvals": list(self.approvals.values()),
        }


class LiveTurns:
    def __init__(self) -> None:
        self.nodes: dict[tuple[str, int], NodeLive] = {}

    def apply(self, event: str, data: dict[str, Any], timestamp: Any) -> None:
        swarm_id, node_id = data.get("swarm_id"), data.get("node_id")
        if event == EventName.SWARM_REMOVED and isinstance(swarm_id, str):
            self.forget(swarm_id)
            return
        if not isinstance(swarm_id, str) or not isinstance(node_id, int) or isinstance(node_id, bool):
            return
        node = self.nodes.get((swarm_id, node_id))
        if node is None:
            if event not in _EXECUTION:
                return
            node = self.nodes[(swarm_id, node_id)] = NodeLive()
        _apply(node, event, data, timestamp)

    def forget(self, swarm_id: str) -> None:
        for key in [key for key in self.nodes if key[0] == swarm_id]:
            del self.nodes[key]

    def view(self, swarm_id: str) -> list[dict[str, Any]]:
        found = sorted((key[1], node) for key, node in self.nodes.items() if key[0] == swarm_id)
        return [node.view(node_id) for node_id, node in found]


def _apply(node: NodeLive, event: str, data: dict[str, Any], timestamp: Any) -> None:
    injection_id = data.get("injection_id")
    if event == EventName.TURN_STARTED:
        node.turn = None
        node.turn_for(injection_id, timestamp)
    elif event in TEXT_EVENTS:
        kind, final = TEXT_EVENTS[event]
        item = node.item(kind, data.get("item_id"), node.turn_for(injection_id, timestamp))
        if final:
            if data.get("text"):
                item["text"] = TextTail(str(data["text"]))
            item["final"] = True
        elif not item["final"] and isinstance(data.get("delta"), str):
            item["text"].append(data["delta"])
    elif event in (EventName.COMMAND_STARTED, EventName.COMMAND_OUTPUT_DELTA, EventName.COMMAND_COMPLETED):
        _command(node, event, data, timestamp)
    elif event == EventName.EXEC_APPROVAL_REQUIRED and data.get("call_id") is not None:
        node.approvals[str(data["call_id"])] = {name: data.get(name) for name in APPROVAL_FIELDS}
    elif event == EventName.EXEC_APPROVAL_RESOLVED:
        node.approvals.pop(str(data.get("call_id")), None)
    elif event == EventName.USAGE:
        total = data.get("total")
        if isinstance(total, dict) and isinstance(total.get("totalTokens"), int):
            node.tokens = total["totalTokens"]
        if isinstance(data.get("context_window"), int):
            node.context_window = data["context_window"]
        if isinstance(data.get("model"), str):
            node.model = data["model"]
        if isinstance(data.get("cost_usd"), int | float):
            node.cost_usd = float(data["cost_usd"])
        if node.turn is not None:
            usage = {name: data.get(name) for name in USAGE_FIELDS}
            node.turn["usage"] = usage | {"context_window": node.context_window}
    elif event == EventName.TURN_COMPLETE and node.turn is not None:
        node.turn["status"] = data.get("status") or "completed"
        node.turn["completed_at"] = timestamp
        node.approvals.clear()


def _command(node: NodeLive, event: str, data: dict[str, Any], timestamp: Any) -> None:
    turn = node.turn_for(data.get("injection_id"), timestamp)
    item = node.item("command", data.get("call_id") or data.get("item_id"), turn)
    for name in COMMAND_FIELDS:
        if data.get(name) is not None:
            item[name] = data[name]
    if event == EventName.COMMAND_OUTPUT_DELTA and not item["final"] and isinstance(data.get("delta"), str):
        item["text"].append(data["delta"])
    elif event == EventName.COMMAND_COMPLETED:
        if isinstance(data.get("output"), str):
            item["text"] = TextTail(data["output"])
        item["final"] = True
        if isinstance(data.get("exit_code"), int):
            node.last_exit_code = data["exit_code"]


_EXECUTION = frozenset(
    {
        EventName.TURN_STARTED,
        *TEXT_EVENTS,
        EventName.COMMAND_STARTED,
        EventName.COMMAND_OUTPUT_DELTA,
        EventName.COMMAND_COMPLETED,
        EventName.EXEC_APPROVAL_REQUIRED,
        EventName.USAGE,
    }
)
