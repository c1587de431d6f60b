"""The durable transcript: completed items of each turn, kept in the database (never the deltas)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from router.store.tables import ApprovalRow, CommandRow, TurnRow
from services.node.records import cut_output
from services.protocol import EventName

DURABLE_EVENTS = frozenset(
    {
        EventName.INJECT_QUEUED,
        EventName.INJECT_STEERED,
        EventName.INJECT_FAILED,
        EventName.EXEC_APPROVAL_REQUIRED,
        EventName.EXEC_APPROVAL_RESOLVED,
        EventName.TURN_STARTED,
        EventName.REASONING,
        EventName.ASSISTANT,
        EventName.COMMAND_STARTED,
        EventName.COMMAND_COMPLETED,
        EventName.USAGE,
        EventName.TURN_COMPLETE,
    }
)


@dataclass(frozen=True, slots=True)
class DurableEvent:
    """One event of a node's record that the durable transcript keeps (see DURABLE_EVENTS)."""

    swarm_id: str
    node_id: int
    injection_id: str | None
    seq: int
    event: EventName
    fields: dict[str, Any]
    at: datetime  # the node's own time of the record


def _joined(existing: str, addition: str) -> str:
    return f"{existing}\n\n{addition}" if existing else addition


# What a turn keeps of its latest usage event, so a reload shows what the live page showed.
USAGE_FIELDS = ("total", "last", "context_window", "model", "cost_usd")


class Transcript:
    def __init__(self, output_cap: int) -> None:
        self.output_cap = output_cap

    @staticmethod
    def open_turn(session: AsyncSession, swarm_id: str, node_id: int, injection_id: str, prompt: str) -> None:
        session.add(
            TurnRow(
                injection_id=injection_id,
                swarm_id=swarm_id,
                node_id=node_id,
                prompt=prompt,
                status="accepted",
                reasoning="",
                assistant="",
            )
        )

    async def apply(self, session: AsyncSession, durable: DurableEvent) -> None:
        """Apply one durable event (see DURABLE_EVENTS).  Called exactly once per record."""
        event, fields, at, injection_id = durable.event, durable.fields, durable.at, durable.injection_id
        if event in (EventName.COMMAND_STARTED, EventName.COMMAND_COMPLETED):
            await self._apply_command(session, durable)
            return
        if event in (EventName.EXEC_APPROVAL_REQUIRED, EventName.EXEC_APPROVAL_RESOLVED):
            await self._apply_approval(session, durable)
            return
        if injection_id is None:
            return  # runtime output outside any injection (e.g. start-up): on the bus only
        turn = await session.get(TurnRow, injection_id)
        if turn is None:
            self.open_turn(session, durable.swarm_id, durable.node_id, injection_id, prompt="")
            turn = await session.get(TurnRow, injection_id)
            assert turn is not None
        if event is EventName.INJECT_QUEUED and turn.status == "accepted":
            turn.status = "queued"
        elif event is EventName.INJECT_STEERED:
            turn.status, turn.started_at, turn.completed_at = "steered", at, at
        elif event is EventName.INJECT_FAILED:
            turn.status, turn.completed_at = "rejected", at
        elif event is EventName.TURN_STARTED:
            turn.status, turn.started_at = "running", at
        elif event is EventName.REASONING:
            turn.reasoning = _joined(turn.reasoning, fields.get("text") or "")
        elif event is EventName.ASSISTANT:
            turn.assistant = _joined(turn.assistant, fields.get("text") or "")
        elif event is EventName.USAGE:
            turn.usage = {name: fields.get(name) for name in USAGE_FIELDS}  # cumulative: keep the latest
        elif event is EventName.TURN_COMPLETE:
            turn.status, turn.completed_at = fields.get("status") or "completed", at
            await session.execute(  # a request the turn ended without an answer can no longer be answered
                update(ApprovalRow)
                .where(ApprovalRow.injection_id == injection_id, ApprovalRow.status.in_(("pending", "answered")))
                .values(status="expired")
            )

    @staticmethod
    async def _apply_approval(session: AsyncSession, durable: DurableEvent) -> None:
        fields, at = durable.fields, durable.at
        call_id = str(fields.get("call_id"))
        row = await session.get(ApprovalRow, (durable.swarm_id, durable.node_id, call_id))
        if durable.event is EventName.EXEC_APPROVAL_REQUIRED:
            if row is None:
                session.add(
                    ApprovalRow(
                        swarm_id=durable.swarm_id,
                        node_id=durable.node_id,
                        call_id=call_id,
                        injection_id=durable.injection_id,
                        kind=str(fields.get("kind") or "command"),
                        command=fields.get("command"),
                        cwd=fields.get("cwd"),
                        reason=fields.get("reason"),
                        available_decisions=list(fields.get("available_decisions") or []),
                        status="pending",
                        created_at=at,
                    )
                )
        elif row is not None:
            row.status, row.decision = "resolved", fields.get("decision") or row.decision
            row.answered_at = row.answered_at or at

    async def _apply_command(self, session: AsyncSession, durable: DurableEvent) -> None:
        fields = durable.fields
        call_id = str(fields.get("call_id"))
        row = await session.get(CommandRow, (durable.swarm_id, durable.node_id, call_id))
        if row is None:
            row = CommandRow(
                swarm_id=durable.swarm_id,
                node_id=durable.node_id,
                call_id=call_id,
                injection_id=durable.injection_id,
                seq=durable.seq,
                command=str(fields.get("command") or ""),
                status="inProgress",
                output="",
            )
            session.add(row)
        if durable.event is EventName.COMMAND_COMPLETED:
            row.status = fields.get("status")
            row.exit_code = fields.get("exit_code")
            output, total = str(fields.get("output") or ""), fields.get("output_chars")
            row.output = cut_output(output, self.output_cap, total if isinstance(total, int) else None)
