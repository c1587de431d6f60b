"""The codex app-server 0.169.0 message shapes (see fixtures/codex/), built for the mock and shell runtimes.

Only notifications are built here: `{"method", "params", "emittedAtMs"}`, with exactly the param and
item keys codex writes.
"""

from __future__ import annotations

import shlex
import time
import uuid
from typing import Any

Message = dict[str, Any]
Item = dict[str, Any]

MODEL_CONTEXT_WINDOW = 128000
COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4().hex}" if prefix else str(uuid.uuid4())


def notification(method: str, params: dict[str, Any]) -> Message:
    return {"method": method, "params": params, "emittedAtMs": now_ms()}


def turn(
    turn_id: str,
    status: str,
    started_at: int,
    *,
    items: list[Item] | None = None,
    items_view: str = "notLoaded",
    completed_at: int | None = None,
    duration_ms: int | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `turn` object; `started_at` / `completed_at` are in seconds, as codex writes them."""
    return {
        "id": turn_id,
        "rootTurnId": turn_id,
        "items": items or [],
        "itemsView": items_view,
        "status": status,
        "error": error,
        "startedAt": started_at,
        "completedAt": completed_at,
        "durationMs": duration_ms,
    }


def _item(kind: str, item_id: str, started_ms: int, completed_ms: int | None, **keys: Any) -> Item:
    """An item as codex writes it: its type and id, its own `keys`, then when it started and completed."""
    return {"type": kind, "id": item_id, **keys, "startedAtMs": started_ms, "completedAtMs": completed_ms}


def user_message(item_id: str, text: str, started_ms: int, completed_ms: int | None) -> Item:
    content = [{"type": "text", "text": text, "text_elements": []}]
    return _item("userMessage", item_id, started_ms, completed_ms, clientId=None, content=content)


def reasoning(item_id: str, summary: list[str], started_ms: int, completed_ms: int | None) -> Item:
    return _item("reasoning", item_id, started_ms, completed_ms, summary=summary, content=[])


def agent_message(item_id: str, text: str, started_ms: int, completed_ms: int | None) -> Item:
    return {
        "type": "agentMessage",
        "moderation": None,
        "id": item_id,
        "text": text,
        "phase": None,
        "memoryCitation": None,
        "delivery": None,
        "questions": None,
        "startedAtMs": started_ms,
        "completedAtMs": completed_ms,
    }


def command_execution(
    item_id: str,
    command: str,
    cwd: str,
    process_id: int | None,
    started_ms: int,
    *,
    status: str = "inProgress",
    output: str | None = None,
    exit_code: int | None = None,
    duration_ms: int | None = None,
    completed_ms: int | None = None,
    output_chars: int | None = None,
) -> Item:
    """`command` is the shell text; the item shows it as codex does: `/bin/bash -lc '<command>'`.
    `output_chars`, when given, is the length of an output cut at records.OUTPUT_CAP: the item then
    also says `truncated` and `outputChars` (keys of Codeswarm's, not codex's)."""
    cut = {} if output_chars is None else {"truncated": True, "outputChars": output_chars}
    return {
        "type": "commandExecution",
        "id": item_id,
        "pluginId": None,
        "scriptPath": None,
        "command": shlex.join(["/bin/bash", "-lc", command]),
        "cwd": cwd,
        "processId": None if process_id is None else str(process_id),
        "source": "unifiedExecStartup",
        "status": status,
        "commandActions": [{"type": "unknown", "command": command}],
        "aggregatedOutput": output,
        "exitCode": exit_code,
        "durationMs": duration_ms,
        "startedAtMs": started_ms,
        "completedAtMs": completed_ms,
        **cut,
    }


def file_change(
    item_id: str, path: str, kind: str, diff: str, status: str, started_ms: int, completed_ms: int | None
) -> Item:
    """A `fileChange` item: one file added or updated."""
    changes = [{"path": path, "kind": {"type": kind}, "diff": diff}]
    return _item("fileChange", item_id, started_ms, completed_ms, changes=changes, status=status)


def approval_request(
    thread_id: str, turn_id: str, item_id: str, command: str, cwd: str, started_ms: int, decisions: list[str]
) -> dict[str, Any]:
    """The params of `item/commandExecution/requestApproval` (a server → client request)."""
    argv = ["/bin/bash", "-lc", command]
    return {
        "kind": "command",
        "threadId": thread_id,
        "turnId": turn_id,
        "itemId": item_id,
        "startedAtMs": started_ms,
        "environmentId": "local",
        "reason": "The prompt asked for approval before this command runs.",
        "command": shlex.join(argv),
        "cwd": cwd,
        "commandActions": [{"type": "unknown", "command": command}],
        "proposedExecpolicyAmendment": argv,
        "availableDecisions": decisions,
    }


def token_breakdown(input_tokens: int, cached_input: int, output_tokens: int, reasoning_output: int) -> dict[str, int]:
    return {
        "totalTokens": input_tokens + output_tokens,
        "inputTokens": input_tokens,
        "cachedInputTokens": cached_input,
        "cacheWriteInputTokens": 0,
        "outputTokens": output_tokens,
        "reasoningOutputTokens": reasoning_output,
    }


def add_breakdowns(first: dict[str, int], second: dict[str, int]) -> dict[str, int]:
    return {key: first.get(key, 0) + value for key, value in second.items()}
