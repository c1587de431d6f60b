"""Answers of the mirror's own routes: the read model, a swarm's live turns, a request's record."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from services.protocol.views import InjectionRef, SwarmView


class MirrorState(BaseModel):
    last_event_id: str = Field(description="The id of the last event the read model reflects: stream from it.")
    swarms: list[SwarmView]
    degraded: str | None = Field(description="Why the mirror may be behind the router; null when it is not.")


class LiveNode(BaseModel):
    node_id: int
    turn: dict[str, Any] | None = Field(
        description="The node's latest turn as the events left it: {injection_id, started_at, status, items}."
    )
    turns_seen: int
    last_exit_code: int | None
    tokens: int | None
    context_window: int | None
    model: str | None
    cost_usd: float | None
    approvals: list[dict[str, Any]] = Field(description="The approval requests of the turn still waiting.")


class LiveSwarm(BaseModel):
    swarm_id: str
    last_event_id: str
    nodes: list[LiveNode]


class RequestRecord(BaseModel):
    request_id: str
    swarm_id: str | None
    command: str = Field(description="launch, inject, terminate, interrupt or approval.")
    injections: list[InjectionRef]
