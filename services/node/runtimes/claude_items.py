"""Claude Code's stream-json output lines of one turn → the codex-shaped items the router translates.

Claude's stream needs state to give items their identity: `message_start` carries the message id and
the deltas after it only a block index; a `tool_result` names only the `tool_use` it answers, not its
command.  This class sees the lines in order and keeps that state; the router's translator is stateless
per record, so the items are written here, in the codex shapes the mock and shell runtimes write.

- text blocks (`stream_event` deltas)      → agentMessage item, `item/agentMessage/delta`
- thinking blocks (`thinking_delta`)       → reasoning item, `item/reasoning/textDelta`
- `assistant` tool_use Bash                → commandExecution item started
- `assistant` tool_use Edit/Write/…        → fileChange item started
- `user` tool_result for either            → the output (one delta) and the item completed; a failed
  command's exit code is read from Claude's ``Exit code N`` first line; one cut by an interrupt (no
  exit code) completes "interrupted", as codex's interrupted commands are closed
- `result`                                 → `thread/tokenUsage/updated` (see `token_usage`)

Lines of a sub-agent (`parent_tool_use_id` set) are not items of the turn; tools other than the ones
above (Read, Grep, …) are steps Claude takes for itself and are not shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.node.runtimes import shapes

Notify = Callable[[str, dict[str, Any]], None]
EXIT_CODE = re.compile(r"\AExit code (\d+)\n?")
FILE_TOOLS = {"Write": "add", "Edit": "update", "MultiEdit": "update", "NotebookEdit": "update"}


@dataclass
class _Block:
    kind: str  # "text" | "thinking"
    item_id: str
    started_ms: int
    parts: list[str] = field(default_factory=list)


def file_change(item_id: str, path: str, kind: str, status: str) -> shapes.Item:
    change = {"path": path, "kind": {"type": kind}, "diff": ""}
    return {"type": "fileChange", "id": item_id, "changes": [change], "status": status}


class ClaudeItems:
    def __init__(self, thread_id: str, cwd: str, notify: Notify) -> None:
        self.thread_id = thread_id
        self.cwd = cwd
        self.turn_id = ""
        self._notify = notify
        self._message_id = ""
        self._blocks: dict[int, _Block] = {}
        self._tools: dict[str, shapes.Item] = {}  # tool_use id → its started item, until its result
        self.declined: set[str] = set()  # tool_use ids the user declined
        self.interrupted = False  # the turn is being interrupted: a tool ending without an exit code was cut

    def begin(self, turn_id: str) -> None:
        self.turn_id = turn_id
        self._blocks.clear()
        self._tools.clear()
        self.declined.clear()
        self.interrupted = False

    def open_items(self) -> list[shapes.Item]:
        """The commands and file changes started and not completed; forgotten once returned."""
        items = list(self._tools.values())
        self._tools.clear()
        return items

    def tool_item(self, tool_use_id: str) -> shapes.Item | None:
        return self._tools.get(tool_use_id)

    # -- plumbing -------------------------------------------------------------------------------------

    def _ids(self) -> dict[str, str]:
        return {"threadId": self.thread_id, "turnId": self.turn_id}

    def _started(self, item: shapes.Item) -> None:
        self._notify("item/started", {"item": item, **self._ids(), "startedAtMs": shapes.now_ms()})

    def _completed(self, item: shapes.Item) -> None:
        params = {"item": item, **self._ids(), "contentTokenCount": None, "completedAtMs": shapes.now_ms()}
        self._notify("item/completed", params)

    # -- lines ----------------------------------------------------------------------------------------

    def feed(self, line: dict[str, Any]) -> None:
        if line.get("parent_tool_use_id"):
            return
        kind = line.get("type")
        if kind == "stream_event":
            self._stream_event(line.get("event") or {})
        elif kind == "assistant":
            for block in (line.get("message") or {}).get("content") or []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    self._tool_use(block)
        elif kind == "user":
            content = (line.get("message") or {}).get("content")
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    self._tool_result(block)

    def _stream_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        index = event.get("index")
        if kind == "message_start":
            self._message_id = str((event.get("message") or {}).get("id") or shapes.new_id("msg_"))
        elif kind == "content_block_start" and isinstance(index, int):
            block_type = (event.get("content_block") or {}).get("type")
            if block_type in ("text", "thinking"):
                block = _Block(str(block_type), f"{self._message_id}:{index}", shapes.now_ms())
                self._blocks[index] = block
                self._started(self._item(block, None))
        elif kind == "content_block_delta" and isinstance(index, int) and index in self._blocks:
            self._delta(self._blocks[index], event.get("delta") or {})
        elif kind == "content_block_stop" and isinstance(index, int) and index in self._blocks:
            block = self._blocks.pop(index)
            self._completed(self._item(block, shapes.now_ms()))

    def _delta(self, block: _Block, delta: dict[str, Any]) -> None:
        if block.kind == "text" and delta.get("type") == "text_delta":
            text, method, extra = str(delta.get("text") or ""), "item/agentMessage/delta", {}
        elif block.kind == "thinking" and delta.get("type") == "thinking_delta":
            text, method, extra = str(delta.get("thinking") or ""), "item/reasoning/textDelta", {"contentIndex": 0}
        else:
            return
        block.parts.append(text)
        self._notify(method, {**self._ids(), "itemId": block.item_id, "delta": text, **extra})

    @staticmethod
    def _item(block: _Block, completed_ms: int | None) -> shapes.Item:
        text = "".join(block.parts)
        if block.kind == "text":
            return shapes.agent_message(block.item_id, text, block.started_ms, completed_ms)
        item = shapes.reasoning(block.item_id, [], block.started_ms, completed_ms)
        item["content"] = [text] if text else []
        return item

    def _tool_use(self, block: dict[str, Any]) -> None:
        tool_id, name = str(block.get("id")), block.get("name")
        arguments = block.get("input") or {}
        if name == "Bash":
            command = str(arguments.get("command") or "")
            item = shapes.command_execution(tool_id, command, self.cwd, None, shapes.now_ms())
        elif name in FILE_TOOLS:
            path = str(arguments.get("file_path") or arguments.get("notebook_path") or "")
            item = file_change(tool_id, path, FILE_TOOLS[str(name)], "inProgress")
        else:
            return
        self._tools[tool_id] = item
        self._started(item)

    def _tool_result(self, block: dict[str, Any]) -> None:
        tool_id = str(block.get("tool_use_id"))
        item = self._tools.pop(tool_id, None)
        if item is None:
            return
        failed = bool(block.get("is_error"))
        if item["type"] == "fileChange":
            status = "declined" if tool_id in self.declined else "failed" if failed else "completed"
            self._completed({**item, "status": status})
            return
        output = _text(block.get("content"))
        code = EXIT_CODE.match(output) if failed else None
        if code is not None:
            output = output[code.end() :]
        if output:
            params = {**self._ids(), "itemId": tool_id, "delta": output}
            self._notify("item/commandExecution/outputDelta", params)
        if tool_id in self.declined:
            status, exit_code = "declined", None
        elif failed and code is None and self.interrupted:
            status, exit_code = "interrupted", None
        elif failed:
            status, exit_code = "failed", int(code.group(1)) if code else None
        else:
            status, exit_code = "completed", 0
        self._completed({**item, "status": status, "aggregatedOutput": output, "exitCode": exit_code})


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = [str(part.get("text") or "") for part in content or [] if isinstance(part, dict)]
    return "\n".join(parts)


def _breakdown(input_tokens: int, cache_read: int, cache_write: int, output_tokens: int) -> dict[str, int]:
    """Codex's counting: `inputTokens` includes the cached ones (Claude counts them apart)."""
    breakdown = shapes.token_breakdown(input_tokens + cache_read + cache_write, cache_read, output_tokens, 0)
    breakdown["cacheWriteInputTokens"] = cache_write
    return breakdown


def token_usage(result: dict[str, Any], previous_total: dict[str, int] | None) -> dict[str, Any]:
    """`tokenUsage` of a `result` line: `last` = this turn (its `usage`, summed over the turn's model
    requests), `total` = `previous_total` plus this turn (the node keeps the sum, so it survives a
    restart of Claude, whose own `modelUsage` counts one process only)."""
    usage = result.get("usage") or {}
    last = _breakdown(
        int(usage.get("input_tokens") or 0),
        int(usage.get("cache_read_input_tokens") or 0),
        int(usage.get("cache_creation_input_tokens") or 0),
        int(usage.get("output_tokens") or 0),
    )
    total = shapes.add_breakdowns(previous_total, last) if previous_total else last
    windows = [model.get("contextWindow") for model in (result.get("modelUsage") or {}).values()]
    return {"total": total, "last": last, "modelContextWindow": next((w for w in windows if w), None)}
