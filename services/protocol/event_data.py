"""What each event's ``data`` holds: one pydantic model per event of the `codeswarm.router.v1` stream.

These models describe the wire; the hot path still writes plain dicts (services/protocol/events.py) and
the event catalogue (services/protocol/catalogue.py) publishes them as JSON Schema.  Every model allows
fields it does not name: clients ignore what they do not know, so new fields never break one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.protocol.states import Health, NodeStatus, SwarmStatus
from services.protocol.views import SwarmView

Json = dict[str, Any]


class EventData(BaseModel):
    """Fields every event's data may carry."""

    model_config = ConfigDict(extra="allow")

    swarm_id: str = Field(description="The swarm the event is about.")
    job_id: str | None = Field(None, description="The scheduler's job id, once the provider gave one.")
    request_id: str | None = Field(
        None, description="The REST request this event answers (from the router, or added by the mirror)."
    )
    source: Literal["mirror"] | None = Field(
        None, description='"mirror" on events the mirror makes itself (reconcile results; no SSE id).'
    )


class NodeEventData(EventData):
    node_id: int = Field(ge=0, description="The node's index in its swarm.")


class RecordEventData(NodeEventData):
    """An event translated from one record a node program wrote to its outbox."""

    injection_id: str | None = Field(None, description="The prompt whose turn this belongs to, if any.")
    seq: int = Field(ge=0, description="The record's sequence number in the node's outbox.")
    raw: Json | None = Field(None, description="The agent runtime's own message, unchanged.")
    raw_omitted: str | None = Field(
        None,
        description="Set instead of `raw` when a field of this event already holds the bulk of the runtime's "
        "message (a text over 65,536 characters, such as a big command output): it says which field.",
    )


# -- execution -------------------------------------------------------------------------------------


class TurnStartedData(RecordEventData):
    turn_id: str | None


class DeltaData(RecordEventData):
    """A streamed fragment (reasoning_delta, assistant_delta, command_output_delta): bus only, never
    durable; consecutive fragments of one item may arrive merged."""

    item_id: str | None
    delta: str


class TextItemData(RecordEventData):
    """A completed reasoning summary or answer."""

    item_id: str | None
    text: str


class CommandStartedData(RecordEventData):
    call_id: str | None
    item_id: str | None
    command: str | list[str] | None
    cwd: str | None


class CommandCompletedData(CommandStartedData):
    status: str | None = Field(description="completed, failed, declined, interrupted, ...")
    exit_code: int | None
    output: str
    duration_ms: int | None
    truncated: bool = Field(
        False,
        description="The node kept only the first 262,144 characters of the output (records.OUTPUT_CAP), "
        "then a note saying how many more the command wrote; the deltas stopped there too.",
    )
    output_chars: int | None = Field(None, description="When truncated: the whole output's length, in characters.")


class FileChangeData(RecordEventData):
    item_id: str | None
    status: str | None
    changes: list[Json] | None


class ApprovalRequiredData(RecordEventData):
    """The agent asks before it runs a command or changes files; answer with POST
    /v1/swarms/{swarm_id}/approvals/{call_id} and one of available_decisions."""

    call_id: str | None
    request_id: int | str | None = Field(  # type: ignore[assignment]
        None, description="The agent runtime's JSON-RPC request id (not a REST request id)."
    )
    kind: Literal["command", "fileChange", "permissions"]
    command: str | list[str] | None
    cwd: str | None
    reason: str | None
    available_decisions: list[str]
    permissions: Json | list[Any] | None = None


class ApprovalResolvedData(RecordEventData):
    call_id: str | None
    request_id: int | str | None = Field(  # type: ignore[assignment]
        None, description="The agent runtime's JSON-RPC request id (not a REST request id)."
    )
    decision: str | None


class UsageData(RecordEventData):
    total: Json | None = Field(description="The thread's cumulative token counts: replace, never sum.")
    last: Json | None = Field(description="The last model call's token counts.")
    context_window: int | None
    model: str | None
    cost_usd: float | None = Field(description="The thread's cost so far, when the providers file prices the model.")


class TurnCompleteData(RecordEventData):
    turn_id: str | None
    status: str | None = Field(description="completed, failed, interrupted, ...")
    error: Json | None
    duration_ms: int | None


class ThreadStatusData(RecordEventData):
    status: str | None
    active_flags: list[str]


class AgentProblemData(RecordEventData):
    """agent_error (final) or agent_warning (the agent retries, a watchdog, a restart)."""

    message: str | None
    code: str | Json | None = None
    will_retry: bool | None = None


class InjectQueuedData(RecordEventData):
    position: int | None = Field(description="How many prompts wait before this one.")


class InjectSteeredData(RecordEventData):
    turn_id: str | None
    into_injection_id: str | None


# -- lifecycle and commands ------------------------------------------------------------------------


class LaunchProgressData(EventData):
    phase: str = Field(description="accepted, submitting, retrying, ...")
    message: str
    swarm: SwarmView | None = None


class SwarmLaunchedData(EventData):
    swarm: SwarmView


class SwarmStatusData(EventData):
    status: SwarmStatus
    health: Health
    reason: str | None
    health_reason: str | None
    swarm: SwarmView | None = Field(None, description="The whole swarm, on the mirror's reconcile results.")


class SwarmTerminatedData(EventData):
    status: Literal["terminated", "failed"]
    reason: str | None


class SwarmRemovedData(EventData):
    reason: str | None


class NodeStatusData(NodeEventData):
    status: NodeStatus
    last_heartbeat_at: str | None


class CommandRejectedData(EventData):
    command: str = Field(description="The command refused, e.g. launch.")
    reason: str


class InjectionData(NodeEventData):
    """inject_ack (accepted) and inject_delivered (written to the node's inbox)."""

    injection_id: str


class InjectFailedData(NodeEventData):
    """The router could not write the prompt to the node's inbox, or the agent refused a steer."""

    injection_id: str | None
    reason: str
    seq: int | None = Field(None, ge=0, description="Set when the node reported the failure.")
    raw: Json | None = None


class ArchiveReadyData(EventData):
    url: str = Field(description="Where to GET the tar.gz.")
    bytes: int = Field(ge=0)


class ArchiveFailedData(EventData):
    reason: str


class DeletedPath(BaseModel):
    path: str = Field(description="Absolute path on its host; a directory counts with all it held.")
    bytes: int = Field(ge=0)


class FilesDeletedData(EventData):
    """The retention policy deleted a removed swarm's files (workspaces, mailboxes, its archive)."""

    host: str = Field(description="The cluster (providers-file entry) the paths are on; 'router' for an archive.")
    reason: str = Field(description="Which rule: the age after removal, or the byte cap.")
    paths: list[DeletedPath] = Field(description="What was deleted (at most 100; see omitted).")
    omitted: int = Field(0, ge=0, description="How many more paths were deleted than are listed.")
    bytes: int = Field(ge=0, description="Bytes deleted in all.")


# -- the stream's own control events (not envelopes: data is this object itself) -----------------


class StreamReset(BaseModel):
    """``event: reset``: the events after the client's id are gone or unknown; reload /v1/state."""

    reason: str
    first_id: str | None


class StreamCutOff(BaseModel):
    """``event: error``: the client fell too far behind and the stream ends; reconnect with the id."""

    reason: str
    last_event_id: str
