"""Answers of the REST API: swarms, nodes, durable turns, providers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from services.protocol.states import Health, NodeStatus, SwarmStatus


class NodeView(BaseModel):
    node_id: int
    status: NodeStatus
    last_heartbeat_at: str | None = None


class SwarmView(BaseModel):
    swarm_id: str
    job_id: str | None
    alias: str | None
    provider: str
    runtime: str
    node_count: int
    status: SwarmStatus
    health: Health
    reason: str | None  # of the lifecycle: why the swarm is in its status
    created_at: str
    terminated_at: str | None
    nodes: list[NodeView]
    health_reason: str | None = None  # why health is not ok (e.g. the probe's error); None when it is
    cluster: str | None = None  # the providers-file entry whose scheduler gave job_id (unique with it)


class SwarmList(BaseModel):
    swarms: list[SwarmView]


class LaunchAccepted(BaseModel):
    request_id: str
    swarm_id: str
    status: Literal["launching"] = "launching"


class InjectionRef(BaseModel):
    node_id: int
    injection_id: str


class InjectAccepted(BaseModel):
    request_id: str
    injections: list[InjectionRef]


class TerminateAccepted(BaseModel):
    request_id: str
    status: SwarmStatus


class Accepted(BaseModel):
    request_id: str


class InterruptAccepted(BaseModel):
    request_id: str
    nodes: list[int]


class CommandView(BaseModel):
    call_id: str
    command: str
    exit_code: int | None
    output: str
    status: str | None = None


class ApprovalView(BaseModel):
    call_id: str
    node_id: int
    injection_id: str | None
    kind: str
    command: str | None
    cwd: str | None
    reason: str | None
    available_decisions: list[str]
    status: Literal["pending", "answered", "resolved", "expired"]
    decision: str | None


class ApprovalList(BaseModel):
    approvals: list[ApprovalView]


class TurnView(BaseModel):
    injection_id: str
    prompt: str
    status: str
    started_at: str | None
    completed_at: str | None
    reasoning: str
    assistant: str
    commands: list[CommandView]
    approvals: list[ApprovalView] = Field(default_factory=list)
    usage: dict[str, Any] | None


class TurnList(BaseModel):
    turns: list[TurnView]


class LaunchField(BaseModel):
    key: str
    label: str
    type: Literal["string", "integer", "boolean", "choice"]
    default: Any = None
    required: bool = False
    options: list[str] | None = None
    pattern: str | None = Field(None, description="A regular expression every string value must match.")
    minimum: int | None = Field(None, description="The smallest value an integer field takes.")
    maximum: int | None = Field(None, description="The largest value an integer field takes.")
    description: str | None = None


class ProviderView(BaseModel):
    id: str
    label: str
    backend: str
    max_nodes: int
    runtimes: list[str]
    defaults: dict[str, Any] = Field(default_factory=dict)
    launch_fields: list[LaunchField]
    runtime_fields: dict[str, list[LaunchField]] = Field(
        default_factory=dict, description="Per runtime, the runtime_params a launch may give."
    )


class ProviderList(BaseModel):
    providers: list[ProviderView]
