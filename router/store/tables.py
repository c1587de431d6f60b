"""The router's schema (SQLAlchemy 2).  Alembic migrations in migrations/ are the only way it is made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres gets a BIGINT identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


# A job id is unique only within its cluster, and only while a swarm holds it: ids repeat across
# clusters, and on one cluster over time (a reinstalled controller, a cleared state directory).
LIVE_STATUSES_SQL = "status IN ('launching', 'pending', 'running', 'terminating')"


class SwarmRow(Base):
    __tablename__ = "swarms"
    __table_args__ = (
        Index(
            "ux_swarms_live_job",
            "cluster",
            "job_id",
            unique=True,
            postgresql_where=text(LIVE_STATUSES_SQL),
            sqlite_where=text(LIVE_STATUSES_SQL),
        ),
    )

    swarm_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The providers-file entry whose scheduler handed out job_id (a preset shares its entry's cluster).
    cluster: Mapped[str] = mapped_column(String(64))
    # Set exactly once, when the provider returns it; a database trigger refuses any later change.
    job_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    alias: Mapped[str | None] = mapped_column(String(120))
    provider: Mapped[str] = mapped_column(String(64))
    runtime: Mapped[str] = mapped_column(String(32))
    node_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    health: Mapped[str] = mapped_column(String(16), default="ok")
    reason: Mapped[str | None] = mapped_column(Text)  # of the lifecycle: why the swarm is in its status
    health_reason: Mapped[str | None] = mapped_column(Text)  # why health is not ok (None when it is)
    terminate_request_id: Mapped[str | None] = mapped_column(String(40))  # the terminate the end answers
    provider_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    runtime_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    agents_bundle: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    download_workspaces: Mapped[bool] = mapped_column(Boolean, default=False)
    archive_path: Mapped[str | None] = mapped_column(Text)
    # When the retention policy deleted the removed swarm's workspaces and mailboxes (None: not yet).
    files_deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    terminated_at: Mapped[datetime | None]


class NodeRow(Base):
    __tablename__ = "nodes"

    swarm_id: Mapped[str] = mapped_column(ForeignKey("swarms.swarm_id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    last_heartbeat_at: Mapped[datetime | None]
    # Ingestion progress, committed together with the durable transcript it produced.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    outbox_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    pid: Mapped[int | None] = mapped_column(Integer)
    exit_code: Mapped[int | None] = mapped_column(Integer)


# Mixin columns are the table's first, as the migrations make them.
KEY_FIRST = -1


class _InjectionOnNode:
    """The key of a row a node's injection has: the injection, and the turn it became."""

    injection_id: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=KEY_FIRST)
    swarm_id: Mapped[str] = mapped_column(ForeignKey("swarms.swarm_id", ondelete="CASCADE"), sort_order=KEY_FIRST)
    node_id: Mapped[int] = mapped_column(Integer, sort_order=KEY_FIRST)


class _CallOnNode:
    """The key of a row a node's tool call has: the command it ran, the approval it asked for."""

    swarm_id: Mapped[str] = mapped_column(
        ForeignKey("swarms.swarm_id", ondelete="CASCADE"), primary_key=True, sort_order=KEY_FIRST
    )
    node_id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=KEY_FIRST)
    call_id: Mapped[str] = mapped_column(String(80), primary_key=True, sort_order=KEY_FIRST)
    injection_id: Mapped[str | None] = mapped_column(String(40), index=True, sort_order=KEY_FIRST)


class InjectionRow(_InjectionOnNode, Base):
    __tablename__ = "injections"
    __table_args__ = (Index("ix_injections_node", "swarm_id", "node_id"),)

    request_id: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class TurnRow(_InjectionOnNode, Base):
    """The durable transcript of one injection on one node: completed items only, never deltas."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_node", "swarm_id", "node_id"),)

    prompt: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    reasoning: Mapped[str] = mapped_column(Text, default="")
    assistant: Mapped[str] = mapped_column(Text, default="")
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # latest cumulative figures, never summed


class CommandRow(_CallOnNode, Base):
    __tablename__ = "commands"

    seq: Mapped[int] = mapped_column(BigInteger)  # orders a turn's commands
    command: Mapped[str] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text, default="")


class ApprovalRow(_CallOnNode, Base):
    """An approval an agent asked for: pending until the user answers, kept across router restarts."""

    __tablename__ = "approvals"

    kind: Mapped[str] = mapped_column(String(16))  # command, fileChange, permissions
    command: Mapped[str | None] = mapped_column(Text)
    cwd: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    available_decisions: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending, answered, resolved, expired
    decision: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class OutboxEventRow(Base):
    """Lifecycle events written in the same transaction as the state change; the relay publishes them."""

    __tablename__ = "event_outbox"
    # Ids must never be reused: the relay follows them, and relayed rows are deleted.  SQLite reuses a
    # deleted largest rowid unless the table is AUTOINCREMENT; a Postgres identity never does.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    envelope: Mapped[str] = mapped_column(Text)  # the JSON envelope
