"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "swarms",
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("alias", sa.String(length=120), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("runtime", sa.String(length=32), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("health", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("provider_params", sa.JSON(), nullable=False),
        sa.Column("runtime_params", sa.JSON(), nullable=False),
        sa.Column("system_prompt", sa.Text(), nullable=True),
        sa.Column("agents_bundle", sa.JSON(), nullable=True),
        sa.Column("download_workspaces", sa.Boolean(), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("terminated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("swarm_id"),
        sa.UniqueConstraint("idempotency_key"),
        sa.UniqueConstraint("job_id"),
    )
    with op.batch_alter_table("swarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_swarms_status"), ["status"], unique=False)

    op.create_table(
        "commands",
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("injection_id", sa.String(length=40), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("output", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["swarm_id"], ["swarms.swarm_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("swarm_id", "node_id", "call_id"),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commands_injection_id"), ["injection_id"], unique=False)

    op.create_table(
        "injections",
        sa.Column("injection_id", sa.String(length=40), nullable=False),
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["swarm_id"], ["swarms.swarm_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("injection_id"),
    )
    with op.batch_alter_table("injections", schema=None) as batch_op:
        batch_op.create_index("ix_injections_node", ["swarm_id", "node_id"], unique=False)

    op.create_table(
        "nodes",
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("outbox_offset", sa.BigInteger(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["swarm_id"], ["swarms.swarm_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("swarm_id", "node_id"),
    )
    op.create_table(
        "turns",
        sa.Column("injection_id", sa.String(length=40), nullable=False),
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("assistant", sa.Text(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["swarm_id"], ["swarms.swarm_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("injection_id"),
    )
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.create_index("ix_turns_node", ["swarm_id", "node_id"], unique=False)

    _create_job_id_guard()


# job_id is written once: the database itself refuses to change it after it was set.
JOB_ID_GUARD_MESSAGE = "swarms.job_id is write-once"


def _create_job_id_guard() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER swarms_job_id_write_once BEFORE UPDATE OF job_id ON swarms "
            "WHEN OLD.job_id IS NOT NULL AND (NEW.job_id IS NULL OR NEW.job_id != OLD.job_id) "
            f"BEGIN SELECT RAISE(ABORT, '{JOB_ID_GUARD_MESSAGE}'); END"
        )
        return
    op.execute(
        "CREATE FUNCTION swarms_job_id_write_once() RETURNS trigger AS $$ BEGIN "
        "IF OLD.job_id IS NOT NULL AND NEW.job_id IS DISTINCT FROM OLD.job_id THEN "
        f"RAISE EXCEPTION '{JOB_ID_GUARD_MESSAGE}'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER swarms_job_id_write_once BEFORE UPDATE OF job_id ON swarms "
        "FOR EACH ROW EXECUTE FUNCTION swarms_job_id_write_once()"
    )


def _drop_job_id_guard() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS swarms_job_id_write_once"
        + ("" if op.get_bind().dialect.name == "sqlite" else " ON swarms")
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS swarms_job_id_write_once()")


def downgrade() -> None:
    _drop_job_id_guard()
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index("ix_turns_node")

    op.drop_table("turns")
    op.drop_table("nodes")
    with op.batch_alter_table("injections", schema=None) as batch_op:
        batch_op.drop_index("ix_injections_node")

    op.drop_table("injections")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commands_injection_id"))

    op.drop_table("commands")
    with op.batch_alter_table("swarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_swarms_status"))

    op.drop_table("swarms")
    op.drop_table("event_outbox")
