"""Raw node records → normalized `codeswarm.router.v1` events.

Runtime messages use the codex app-server (0.169.0) shapes; the mock and shell runtimes write the same
ones.  Every method is either mapped in RUNTIME_METHODS / ITEM_STARTED / ITEM_COMPLETED, or listed in
IGNORED_METHODS on purpose.  Anything else becomes an `agent_error` naming the unknown method, so a new
runtime message is visible instead of silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.node.records import KIND_EXIT, KIND_HEARTBEAT, KIND_HELLO, KIND_INBOX_ERROR, KIND_RUNTIME
from services.protocol import EventName

Fields = dict[str, Any]
Translated = list[tuple[EventName, Fields]]

# Runtime notifications that carry nothing a Codeswarm client needs (ids, plugin and sandbox chatter).
IGNORED_METHODS = frozenset(
    {
        "configWarning",  # e.g. "could not find bubblewrap" at start-up
        "warning",  # e.g. unknown model metadata
        "remoteControl/status/changed",
        "account/rateLimits/updated",
        "item/reasoning/summaryPartAdded",  # a section break; the deltas and the completed item carry the text
        "thread/started",
        "mcpServer/startupStatus/updated",
    }
)
# Item types whose start or completion is not an event of its own (their text arrives elsewhere).
IGNORED_ITEMS = frozenset({"userMessage", "reasoning", "agentMessage"})


def _delta(params: Fields) -> Fields:
    return {"item_id": params.get("itemId"), "delta": params.get("delta", "")}


def _turn_started(params: Fields) -> Fields:
    return {"turn_id": (params.get("turn") or {}).get("id")}


def _turn_completed(params: Fields) -> Fields:
    turn = params.get("turn") or {}
    return {"turn_id": turn.get("id"), "status": turn.get("status"), "error": turn.get("error")}


def _usage(params: Fields) -> Fields:
    usage = params.get("tokenUsage") or {}
    return {
        "total": usage.get("total"),
        "last": usage.get("last"),
        "context_window": usage.get("modelContextWindow"),
    }


def _thread_status(params: Fields) -> Fields:
    return {"status": (params.get("status") or {}).get("type")}


def _error(params: Fields) -> Fields:
    error = params.get("error") or {}
    return {
        "message": error.get("message"),
        "code": error.get("codexErrorInfo"),
        "will_retry": params.get("willRetry"),
    }


def _resolved(params: Fields) -> Fields:
    return {"request_id": params.get("requestId")}


RUNTIME_METHODS: dict[str, tuple[EventName, Callable[[Fields], Fields]]] = {
    "turn/started": (EventName.TURN_STARTED, _turn_started),
    "item/reasoning/summaryTextDelta": (EventName.REASONING_DELTA, _delta),
    "item/reasoning/textDelta": (EventName.REASONING_DELTA, _delta),
    "item/agentMessage/delta": (EventName.ASSISTANT_DELTA, _delta),
    "item/commandExecution/outputDelta": (EventName.COMMAND_OUTPUT_DELTA, _delta),
    "thread/tokenUsage/updated": (EventName.USAGE, _usage),
    "turn/completed": (EventName.TURN_COMPLETE, _turn_completed),
    "thread/status/changed": (EventName.THREAD_STATUS, _thread_status),
    "error": (EventName.AGENT_ERROR, _error),
    "serverRequest/resolved": (EventName.EXEC_APPROVAL_RESOLVED, _resolved),
}


def _command(item: Fields) -> Fields:
    return {
        "call_id": item.get("id"),
        "item_id": item.get("id"),
        "command": item.get("command"),
        "cwd": item.get("cwd"),
    }


def _command_completed(item: Fields) -> Fields:
    return {
        **_command(item),
        "status": item.get("status"),
        "exit_code": item.get("exitCode"),
        "output": item.get("aggregatedOutput") or "",
        "duration_ms": item.get("durationMs"),
    }


def _file_change(item: Fields) -> Fields:
    return {"item_id": item.get("id"), "status": item.get("status"), "changes": item.get("changes")}


def _reasoning(item: Fields) -> Fields:
    parts = item.get("summary") or item.get("content") or []
    return {"item_id": item.get("id"), "text": "\n\n".join(str(p) for p in parts)}


def _assistant(item: Fields) -> Fields:
    return {"item_id": item.get("id"), "text": item.get("text") or ""}


ITEM_STARTED: dict[str, tuple[EventName, Callable[[Fields], Fields]]] = {
    "commandExecution": (EventName.COMMAND_STARTED, _command),
    "fileChange": (EventName.FILECHANGE_STARTED, _file_change),
}
ITEM_COMPLETED: dict[str, tuple[EventName, Callable[[Fields], Fields]]] = {
    "commandExecution": (EventName.COMMAND_COMPLETED, _command_completed),
    "fileChange": (EventName.FILECHANGE_COMPLETED, _file_change),
    "reasoning": (EventName.REASONING, _reasoning),
    "agentMessage": (EventName.ASSISTANT, _assistant),
}
APPROVAL_REQUESTS = frozenset({"item/commandExecution/requestApproval", "item/fileChange/requestApproval"})


def translate_runtime(message: Fields) -> Translated:
    """One raw runtime message → zero or more (event, fields); fields lack ids and `raw` (added by caller)."""
    method = message.get("method")
    if method is None:
        return []  # a JSON-RPC response to the node program's own request
    params = message.get("params") or {}
    if "id" in message:  # a server → client request
        if method in APPROVAL_REQUESTS:
            return [
                (
                    EventName.EXEC_APPROVAL_REQUIRED,
                    {
                        "call_id": params.get("itemId"),
                        "request_id": message["id"],
                        "command": params.get("command"),
                        "reason": params.get("reason"),
                    },
                )
            ]
        return [(EventName.AGENT_ERROR, {"message": f"runtime asked for unsupported request {method!r}"})]
    if method in ("item/started", "item/completed"):
        item = params.get("item") or {}
        item_type = item.get("type")
        table = ITEM_STARTED if method == "item/started" else ITEM_COMPLETED
        if item_type in table:
            name, build = table[item_type]
            return [(name, build(item))]
        if item_type in IGNORED_ITEMS:
            return []
        return [(EventName.AGENT_ERROR, {"message": f"unknown item type {item_type!r} in {method}"})]
    if method in RUNTIME_METHODS:
        name, build = RUNTIME_METHODS[method]
        return [(name, build(params))]
    if method in IGNORED_METHODS:
        return []
    return [(EventName.AGENT_ERROR, {"message": f"unknown runtime message {method!r}"})]


def translate_record(record: Fields) -> Translated:
    """An outbox record → events.  Node-level records (hello, heartbeat, exit) are lifecycle input for
    the ingest step and produce node_status there, not here."""
    kind = record.get("kind")
    if kind == KIND_RUNTIME:
        return translate_runtime(record.get("payload") or {})
    if kind == KIND_INBOX_ERROR:
        payload = record.get("payload") or {}
        return [(EventName.AGENT_ERROR, {"message": f"inbox line refused: {payload.get('error')}"})]
    if kind in (KIND_HELLO, KIND_HEARTBEAT, KIND_EXIT):
        return []
    return [(EventName.AGENT_ERROR, {"message": f"unknown outbox record kind {kind!r}"})]
