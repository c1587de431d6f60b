"""The event catalogue: every event name with the model of its ``data``, published as one JSON Schema
(``GET /v1/events/schema`` on the mirror, and docs/events.schema.json, written by ``make openapi``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, create_model

from services.protocol import event_data as d
from services.protocol.events import PROTOCOL, EventName

E = EventName
_create_model: Any = create_model  # models made at import time: their fields are data, not annotations

EVENT_DATA: dict[EventName, type[d.EventData]] = {
    E.TURN_STARTED: d.TurnStartedData,
    E.REASONING_DELTA: d.DeltaData,
    E.REASONING: d.TextItemData,
    E.ASSISTANT_DELTA: d.DeltaData,
    E.ASSISTANT: d.TextItemData,
    E.COMMAND_STARTED: d.CommandStartedData,
    E.COMMAND_OUTPUT_DELTA: d.DeltaData,
    E.COMMAND_COMPLETED: d.CommandCompletedData,
    E.FILECHANGE_STARTED: d.FileChangeData,
    E.FILECHANGE_COMPLETED: d.FileChangeData,
    E.EXEC_APPROVAL_REQUIRED: d.ApprovalRequiredData,
    E.EXEC_APPROVAL_RESOLVED: d.ApprovalResolvedData,
    E.USAGE: d.UsageData,
    E.TURN_COMPLETE: d.TurnCompleteData,
    E.THREAD_STATUS: d.ThreadStatusData,
    E.AGENT_ERROR: d.AgentProblemData,
    E.AGENT_WARNING: d.AgentProblemData,
    E.SWARM_LAUNCH_PROGRESS: d.LaunchProgressData,
    E.SWARM_LAUNCHED: d.SwarmLaunchedData,
    E.SWARM_STATUS: d.SwarmStatusData,
    E.SWARM_TERMINATED: d.SwarmTerminatedData,
    E.SWARM_REMOVED: d.SwarmRemovedData,
    E.NODE_STATUS: d.NodeStatusData,
    E.COMMAND_REJECTED: d.CommandRejectedData,
    E.INJECT_ACK: d.InjectionData,
    E.INJECT_DELIVERED: d.InjectionData,
    E.INJECT_FAILED: d.InjectFailedData,
    E.INJECT_QUEUED: d.InjectQueuedData,
    E.INJECT_STEERED: d.InjectSteeredData,
    E.WORKSPACE_ARCHIVE_READY: d.ArchiveReadyData,
    E.WORKSPACE_ARCHIVE_FAILED: d.ArchiveFailedData,
    E.SWARM_FILES_DELETED: d.FilesDeletedData,
}

# The stream's control events: their data is the object itself, not an envelope.
CONTROL_EVENTS: dict[str, type[BaseModel]] = {"reset": d.StreamReset, "error": d.StreamCutOff}


def _envelope(name: EventName) -> type[BaseModel]:
    """The envelope of one event: ``{protocol, type, id, timestamp, event, data}``."""
    title = "".join(part.title() for part in name.split("_")) + "Event"
    model: type[BaseModel] = _create_model(
        title,
        protocol=(Literal["codeswarm.router.v1"], ...),
        type=(Literal["event"], ...),
        id=(str, Field(description="The event's own id (the SSE id is the bus entry id).")),
        timestamp=(str, Field(description="ISO 8601 UTC with milliseconds.")),
        event=(Literal[name.value], Field(description="The event name, also the SSE event: field.")),
        data=(EVENT_DATA[name], ...),
    )
    return model


ENVELOPES: dict[EventName, type[BaseModel]] = {name: _envelope(name) for name in EventName}
Envelope: Any = Annotated[Union[tuple(ENVELOPES.values())], Field(discriminator="event")]  # noqa: UP007
envelope_adapter: TypeAdapter[Any] = TypeAdapter(Envelope)


def validate_envelope(envelope: Any) -> BaseModel:
    """The envelope as its event's model; pydantic's ValidationError when it does not match."""
    model: BaseModel = envelope_adapter.validate_python(envelope)
    return model


def catalogue_schema() -> dict[str, Any]:
    """One JSON Schema (2020-12) whose ``oneOf`` is every event envelope, discriminated by ``event``.
    ``x-events`` maps each event name to its envelope and ``x-control-events`` the stream's own."""
    schema = envelope_adapter.json_schema(ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    for model in CONTROL_EVENTS.values():
        control = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(control.pop("$defs", {}))
        defs[model.__name__] = control
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Codeswarm events ({PROTOCOL})",
        "description": (
            "Every event of the mirror's SSE stream (GET /v1/events): the SSE data: field is one of these "
            "envelopes, its event: field the envelope's event.  Clients must ignore events and fields they "
            "do not know.  The stream's own control events (reset, error) carry the object named in "
            "x-control-events as their data."
        ),
        "oneOf": schema["oneOf"],
        "discriminator": schema.get("discriminator"),
        "x-events": {str(name): {"$ref": f"#/$defs/{model.__name__}"} for name, model in ENVELOPES.items()},
        "x-control-events": {name: {"$ref": f"#/$defs/{model.__name__}"} for name, model in CONTROL_EVENTS.items()},
        "$defs": defs,
    }
