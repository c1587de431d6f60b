"""The cap on a command's output, applied to every runtime message the outbox writes.

The node's own commands (mock, shell, openai: runtimes/commands.py) stop at records.OUTPUT_CAP already;
codex and claude hand over their agent's messages as they are, so the outbox applies the same cap to
them: an `item/commandExecution/outputDelta` is passed while its item has streamed less than the cap
(the one that crosses it is cut there), later ones are dropped, and the completed `commandExecution`
item keeps OUTPUT_CAP characters of `aggregatedOutput` with the truncation note, `truncated: true` and
`outputChars`; when deltas were dropped, one last delta carries the same note, so the deltas still add
up to the completed output.  Standard library only.
"""

from __future__ import annotations

from typing import Any

from services.node.records import OUTPUT_CAP, cut_output, truncation_note

OUTPUT_DELTA = "item/commandExecution/outputDelta"
OPEN_ITEMS = 256  # commands whose streamed length is remembered (an item never completed is forgotten)

Message = dict[str, Any]


class OutputCap:
    """Not thread-safe: called under the outbox's lock."""

    def __init__(self) -> None:
        self._streamed: dict[str, int] = {}  # command item id → characters its deltas carried

    def apply(self, message: Message) -> list[Message]:
        """The messages to write instead of `message` (usually just it)."""
        method, params = message.get("method"), message.get("params")
        if not isinstance(params, dict):
            return [message]
        if method == OUTPUT_DELTA:
            return self._delta(message, params)
        item = params.get("item")
        if method == "item/completed" and isinstance(item, dict) and item.get("type") == "commandExecution":
            return self._completed(message, params, item)
        return [message]

    def _delta(self, message: Message, params: dict[str, Any]) -> list[Message]:
        item_id, delta = str(params.get("itemId")), params.get("delta")
        if not isinstance(delta, str):
            return [message]
        before = self._streamed.pop(item_id, 0)
        self._streamed[item_id] = before + len(delta)  # newest last
        if len(self._streamed) > OPEN_ITEMS:
            del self._streamed[next(iter(self._streamed))]
        if before >= OUTPUT_CAP:
            return []
        if before + len(delta) > OUTPUT_CAP:
            return [{**message, "params": {**params, "delta": delta[: OUTPUT_CAP - before]}}]
        return [message]

    def _completed(self, message: Message, params: dict[str, Any], item: dict[str, Any]) -> list[Message]:
        streamed = self._streamed.pop(str(item.get("id")), 0)
        output = item.get("aggregatedOutput")
        output = output if isinstance(output, str) else ""
        said = item.get("outputChars")
        total = max(streamed, len(output), said if isinstance(said, int) else 0)
        if total <= OUTPUT_CAP:
            return [message]
        written: list[Message] = []
        if streamed > OUTPUT_CAP:
            ids = {"threadId": params.get("threadId"), "turnId": params.get("turnId"), "itemId": item.get("id")}
            note = {**ids, "delta": truncation_note(total - OUTPUT_CAP)}
            written.append({"method": OUTPUT_DELTA, "params": note, "emittedAtMs": message.get("emittedAtMs")})
        kept = cut_output(output, OUTPUT_CAP, total)
        cut = {**item, "aggregatedOutput": kept, "truncated": True, "outputChars": total}
        written.append({**message, "params": {**params, "item": cut}})
        return written
