"""a job is identified by (cluster, job id); health has its own reason; a terminate's request id is kept

Revision ID: 0004
Revises: 0003

`swarms.cluster` names the providers-file entry whose scheduler handed out the job id (presets share
their entry's cluster).  The old UNIQUE(job_id) is replaced by a partial unique index: at most one
live swarm holds a (cluster, job id); ended and removed swarms may share it with a newer one.
`health_reason` says why health is not ok, apart from the lifecycle `reason`.  `terminate_request_id`
is the request id of the terminate that the swarm's end answers (its events carry it).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LIVE = "status IN ('launching', 'pending', 'running', 'terminating')"
# SQLite's UNIQUE(job_id) has no name; batch mode names it by this convention so it can be dropped.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
# SQLite drops a table's triggers with the table, and batch mode rebuilds the table: 0001's write-once
# guard on job_id is made again afterwards (same statement as 0001).
SQLITE_JOB_ID_GUARD = (
    "CREATE TRIGGER swarms_job_id_write_once BEFORE UPDATE OF job_id ON swarms "
    "WHEN OLD.job_id IS NOT NULL AND (NEW.job_id IS NULL OR NEW.job_id != OLD.job_id) "
    "BEGIN SELECT RAISE(ABORT, 'swarms.job_id is write-once'); END"
)


def _unique_job_id_name() -> str:
    return "uq_swarms_job_id" if op.get_bind().dialect.name == "sqlite" else "swarms_job_id_key"


def _rebuilt_on_sqlite(change: Callable[[BatchOperations], None]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS swarms_job_id_write_once")
    with op.batch_alter_table("swarms", naming_convention=NAMING) as batch_op:
        change(batch_op)
    if sqlite:
        op.execute(SQLITE_JOB_ID_GUARD)


def upgrade() -> None:
    op.add_column("swarms", sa.Column("cluster", sa.String(length=64), nullable=True))
    op.add_column("swarms", sa.Column("health_reason", sa.Text(), nullable=True))
    op.add_column("swarms", sa.Column("terminate_request_id", sa.String(length=40), nullable=True))
    # A preset's provider id is "<entry>:<preset>"; its cluster is the entry.
    swarms = sa.table(
        "swarms", sa.column("swarm_id", sa.String), sa.column("provider", sa.String), sa.column("cluster", sa.String)
    )
    bind = op.get_bind()
    for swarm_id, provider in bind.execute(sa.select(swarms.c.swarm_id, swarms.c.provider)).all():
        bind.execute(swarms.update().where(swarms.c.swarm_id == swarm_id).values(cluster=provider.split(":", 1)[0]))

    def change(batch_op: BatchOperations) -> None:
        batch_op.alter_column("cluster", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(_unique_job_id_name(), type_="unique")
        batch_op.create_index(
            "ux_swarms_live_job",
            ["cluster", "job_id"],
            unique=True,
            postgresql_where=sa.text(LIVE),
            sqlite_where=sa.text(LIVE),
        )

    _rebuilt_on_sqlite(change)


def downgrade() -> None:
    def change(batch_op: BatchOperations) -> None:
        batch_op.drop_index("ux_swarms_live_job")
        batch_op.create_unique_constraint(_unique_job_id_name(), ["job_id"])
        batch_op.drop_column("terminate_request_id")
        batch_op.drop_column("health_reason")
        batch_op.drop_column("cluster")

    _rebuilt_on_sqlite(change)
