"""Raw node records → normalized `codeswarm.router.v1` events: the one place that gives them meaning.

Runtime messages use the codex app-server (0.169.0) shapes; the mock and shell runtimes write the same
ones, and the node program adds its own `codeswarm/*` messages (services/node/records.py).  Every
server notification and server request of the 0.169.0 schema is mapped here or listed as ignored on
purpose; anything else becomes an `agent_error` naming it, so a new message is visible, never dropped.
What a node is doing (busy, idle) is derived here too, from the normalized events (`activity_after`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.node import records
from services.node.records import KIND_EXIT, KIND_HEARTBEAT, KIND_HELLO, KIND_INBOX_ERROR, KIND_RUNTIME
from services.node.runtimes.approvals import decision_name, offered_decisions
from services.protocol import EventName, NodeStatus

Fields = dict[str, Any]
Translated = list[tuple[EventName, Fields]]

# Notifications that carry nothing a Codeswarm client needs: chatter about accounts, plugins, hosted
# features, realtime audio and the desktop app; section breaks and patches whose content arrives in a
# completed item; and what `codeswarm/*` messages say better (serverRequest/resolved has no call id).
IGNORED_METHODS = frozenset(
    {
        "configWarning",  # e.g. "could not find bubblewrap" at start-up
        "warning",  # e.g. unknown model metadata
        "guardianWarning",
        "deprecationNotice",
        "remoteControl/status/changed",
        "account/rateLimits/updated",
        "account/updated",
        "account/gatewayOAuth/changed",
        "account/login/completed",
        "item/reasoning/summaryPartAdded",  # a section break; the deltas and the completed item carry the text
        "item/plan/delta",
        "item/fileChange/outputDelta",
        "item/fileChange/patchUpdated",
        "item/commandExecution/terminalInteraction",
        "item/mcpToolCall/progress",
        "item/autoApprovalReview/started",
        "item/autoApprovalReview/completed",
        "autoApprovalReview/strictReviewRequired",
        "serverRequest/resolved",  # the node's codeswarm/approvalAnswered names the call and the decision
        "command/exec/outputDelta",
        "process/outputDelta",
        "process/exited",
        "hook/started",
        "hook/completed",
        "turn/diff/updated",
        "turn/plan/updated",
        "turn/moderationMetadata",
        "thread/started",
        "thread/readState/changed",
        "thread/archived",
        "thread/deleted",
        "thread/unarchived",
        "thread/closed",
        "thread/reverted",
        "thread/name/updated",
        "thread/section/changed",
        "thread/attachment/updated",
        "thread/goal/updated",
        "thread/goal/cleared",
        "thread/prediction/updated",
        "thread/queue/changed",
        "thread/project/updated",
        "thread/environment/connected",
        "thread/environment/disconnected",
        "thread/settings/updated",
        "thread/compacted",
        "project/changed",
        "skills/changed",
        "mcpServer/oauthLogin/completed",
        "mcpServer/startupStatus/updated",
        "mcpServer/event/stream/notification",
        "app/list/updated",
        "externalAgentConfig/import/progress",
        "externalAgentConfig/import/completed",
        "fs/changed",
        "model/rerouted",
        "model/verification",
        "model/safetyBuffering/updated",
        "modelProvider/authRecoveryStarted",
        "modelProvider/authRecoveryCompleted",
        "fuzzyFileSearch/sessionUpdated",
        "fuzzyFileSearch/sessionCompleted",
        "thread/realtime/started",
        "thread/realtime/itemAdded",
        "thread/realtime/item/started",
        "thread/realtime/item/transcript/delta",
        "thread/realtime/item/completed",
        "thread/realtime/transcript/delta",
        "thread/realtime/transcript/done",
        "thread/realtime/outputAudio/delta",
        "thread/realtime/sdp",
        "thread/realtime/error",
        "thread/realtime/closed",
        "windows/worldWritableWarning",
        "windowsSandbox/setupCompleted",
    }
)
# codex before 0.169.0 doubled every v2 notification with a `codex/event/<type>` one: the v2 one is read.
LEGACY_PREFIX = "codex/event/"
# Item types whose start or completion is not an event of its own (their text arrives elsewhere, or
# they are steps codex takes for itself).
IGNORED_ITEMS = frozenset(
    {
        "userMessage",
        "hookPrompt",
        "functionCallOutput",
        "plan",
        "mcpToolCall",
        "dynamicToolCall",
        "collabAgentToolCall",
        "subAgentActivity",
        "webSearch",
        "imageView",
        "sleep",
        "imageGeneration",
        "enteredReviewMode",
        "exitedReviewMode",
        "contextCompaction",
    }
)
# Server → client requests: approvals go to the user; the rest the node refuses at once (it says why).
APPROVAL_REQUESTS = {
    "item/commandExecution/requestApproval": "command",
    "item/fileChange/requestApproval": "fileChange",
    "item/permissions/requestApproval": "permissions",
}
REFUSED_REQUESTS = frozenset(
    {
        "item/tool/requestUserInput",
        "mcpServer/elicitation/request",
        "item/tool/call",
        "account/chatgptAuthTokens/refresh",
        "attestation/generate",
        "applyPatchApproval",
        "execCommandApproval",
        "currentTime/read",
    }
)


def _renamed(**names: str) -> Callable[[Fields], Fields]:
    """Fields that only rename the record's: each key takes the value of the field it names (None if absent)."""
    return lambda params: {key: params.get(name) for key, name in names.items()}


def _delta(params: Fields) -> Fields:
    return {"item_id": params.get("itemId"), "delta": params.get("delta", "")}


def _turn_started(params: Fields) -> Fields:
    return {"turn_id": (params.get("turn") or {}).get("id")}


def _turn_completed(params: Fields) -> Fields:
    turn = params.get("turn") or {}
    return {
        "turn_id": turn.get("id"),
        "status": turn.get("status"),
        "error": turn.get("error"),
        "duration_ms": turn.get("durationMs"),
    }


def _usage(params: Fields) -> Fields:
    usage = params.get("tokenUsage") or {}
    return {
        "total": usage.get("total"),  # cumulative over the thread: replace, never sum
        "last": usage.get("last"),
        "context_window": usage.get("modelContextWindow"),
    }


def _thread_status(params: Fields) -> Fields:
    status = params.get("status") or {}
    return {"status": status.get("type"), "active_flags": status.get("activeFlags") or []}


def _error(params: Fields) -> Translated:
    error = params.get("error") or {}
    fields = {
        "message": error.get("message"),
        "code": error.get("codexErrorInfo"),
        "will_retry": params.get("willRetry"),
    }
    return [(EventName.AGENT_WARNING if params.get("willRetry") else EventName.AGENT_ERROR, fields)]


def _single(name: EventName, build: Callable[[Fields], Fields]) -> Callable[[Fields], Translated]:
    return lambda params: [(name, build(params))]


# -- the node program's own messages ----------------------------------------------------------------


def _steer_rejected(params: Fields) -> Fields:
    return {"reason": f"the agent refused the steer: {params.get('message')}"}


def _abandoned(params: Fields) -> Translated:
    item = dict(params.get("item") or {})
    status = params.get("status") or "interrupted"
    if item.get("type") == "commandExecution":
        item |= {"status": status, "exitCode": None}
        return [(EventName.COMMAND_COMPLETED, _command_completed(item))]
    if item.get("type") == "fileChange":
        return [(EventName.FILECHANGE_COMPLETED, _file_change({**item, "status": status}))]
    return []


def _aborted(params: Fields) -> Translated:
    message = params.get("message")
    return [
        (EventName.AGENT_ERROR, {"message": message, "code": "agentExited"}),
        (
            EventName.TURN_COMPLETE,
            {"turn_id": params.get("turnId"), "status": "failed", "error": {"message": message}, "duration_ms": None},
        ),
    ]


def _notice(name: EventName, code: str, message: Callable[[Fields], Any]) -> Callable[[Fields], Translated]:
    """An agent_warning or agent_error with its ``code`` and a message made from the record."""
    return _single(name, lambda params: {"message": message(params), "code": code})


def _watchdog(params: Fields) -> Any:
    return params.get("message")


def _restarted(params: Fields) -> str:
    how = "its thread resumed" if params.get("resumed") else "in a new thread (the old one could not be resumed)"
    return f"the agent was restarted (attempt {params.get('attempt')}), {how}"


def _trimmed(params: Fields) -> str:
    return (
        f"{params.get('trimmed')} old tool output(s) cut to keep the conversation within the model's context "
        f"window (about {params.get('estimatedTokens')} tokens now)"
    )


def _bad_line(params: Fields) -> str:
    return f"the agent wrote a line Codeswarm cannot read ({params.get('error')}): {params.get('line')}"


def _too_big(params: Fields) -> str:
    return (
        f"a {params.get('kind') or 'node'} record of {params.get('bytes')} bytes was skipped: "
        f"outbox records longer than {params.get('limit')} bytes are not read"
    )


RUNTIME_METHODS: dict[str, Callable[[Fields], Translated]] = {
    "turn/started": _single(EventName.TURN_STARTED, _turn_started),
    "item/reasoning/summaryTextDelta": _single(EventName.REASONING_DELTA, _delta),
    "item/reasoning/textDelta": _single(EventName.REASONING_DELTA, _delta),
    "item/agentMessage/delta": _single(EventName.ASSISTANT_DELTA, _delta),
    "item/commandExecution/outputDelta": _single(EventName.COMMAND_OUTPUT_DELTA, _delta),
    "thread/tokenUsage/updated": _single(EventName.USAGE, _usage),
    "turn/completed": _single(EventName.TURN_COMPLETE, _turn_completed),
    "thread/status/changed": _single(EventName.THREAD_STATUS, _thread_status),
    "error": _error,
    records.NODE_INJECTION_QUEUED: _single(EventName.INJECT_QUEUED, _renamed(position="position")),
    records.NODE_INJECTION_STEERED: _single(
        EventName.INJECT_STEERED, _renamed(turn_id="turnId", into_injection_id="intoInjectionId")
    ),
    records.NODE_STEER_REJECTED: _single(EventName.INJECT_FAILED, _steer_rejected),
    records.NODE_ITEM_ABANDONED: _abandoned,
    records.NODE_TURN_ABORTED: _aborted,
    records.NODE_TURN_WATCHDOG: _notice(EventName.AGENT_WARNING, "turnWatchdog", _watchdog),
    records.NODE_AGENT_RESTARTED: _notice(EventName.AGENT_WARNING, "agentRestarted", _restarted),
    records.NODE_BAD_AGENT_LINE: _notice(EventName.AGENT_ERROR, "badAgentLine", _bad_line),
    records.NODE_CONTEXT_TRIMMED: _notice(EventName.AGENT_WARNING, "contextTrimmed", _trimmed),
    records.NODE_APPROVAL_ANSWERED: _single(
        EventName.EXEC_APPROVAL_RESOLVED, _renamed(call_id="callId", request_id="requestId", decision="decision")
    ),
    records.NODE_RECORD_TOO_BIG: _notice(EventName.AGENT_WARNING, "recordTooBig", _too_big),
}


_command = _renamed(call_id="id", item_id="id", command="command", cwd="cwd")


def _command_completed(item: Fields) -> Fields:
    return {
        **_command(item),
        "status": item.get("status"),
        "exit_code": item.get("exitCode"),
        "output": item.get("aggregatedOutput") or "",
        "duration_ms": item.get("durationMs"),
        "truncated": bool(item.get("truncated")),  # the node cut the output at records.OUTPUT_CAP
        "output_chars": item.get("outputChars"),  # the whole output's length, when cut
    }


_file_change = _renamed(item_id="id", status="status", changes="changes")


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


def _server_request(method: str, request_id: Any, params: Fields) -> Translated:
    kind = APPROVAL_REQUESTS.get(method)
    if kind is not None:
        names = [decision_name(value) for value in offered_decisions(method, params)]
        fields = {
            "call_id": params.get("itemId"),
            "request_id": request_id,
            "kind": kind,
            "command": params.get("command"),
            "cwd": params.get("cwd"),
            "reason": params.get("reason"),
            "available_decisions": names,
        }
        if kind == "permissions":
            fields["permissions"] = params.get("permissions")
        return [(EventName.EXEC_APPROVAL_REQUIRED, fields)]
    if method in REFUSED_REQUESTS:
        message = f"the agent asked for {method!r}, which Codeswarm cannot put to a user; it was refused"
    else:
        message = f"unknown runtime request {method!r}; it was refused"
    return [(EventName.AGENT_ERROR, {"message": message})]


def translate_runtime(message: Fields) -> Translated:
    """One raw runtime message → zero or more (event, fields); fields lack ids and `raw` (added by caller)."""
    method = message.get("method")
    if method is None:
        return []  # a JSON-RPC response to the node program's own request
    params = message.get("params") or {}
    if "id" in message:  # a server → client request
        return _server_request(str(method), message["id"], params)
    if method in ("item/started", "item/completed"):
        item = params.get("item") or {}
        item_type = item.get("type")
        table = ITEM_STARTED if method == "item/started" else ITEM_COMPLETED
        if item_type in table:
            name, build = table[item_type]
            return [(name, build(item))]
        if item_type in IGNORED_ITEMS or item_type in ITEM_STARTED or item_type in ITEM_COMPLETED:
            return []
        return [(EventName.AGENT_ERROR, {"message": f"unknown item type {item_type!r} in {method}"})]
    if method in RUNTIME_METHODS:
        return RUNTIME_METHODS[method](params)
    if method in IGNORED_METHODS or str(method).startswith(LEGACY_PREFIX):
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


def activity_after(event: EventName) -> NodeStatus | None:
    """What a node is doing after this event, when the event says (a turn starts or ends)."""
    if event is EventName.TURN_STARTED:
        return NodeStatus.BUSY
    if event is EventName.TURN_COMPLETE:
        return NodeStatus.IDLE
    return None
