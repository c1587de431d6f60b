"""approvals: what an agent asked the user, durable until answered

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("swarm_id", sa.String(length=40), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=80), nullable=False),
        sa.Column("injection_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("cwd", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("available_decisions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["swarm_id"], ["swarms.swarm_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("swarm_id", "node_id", "call_id"),
    )
    op.create_index(op.f("ix_approvals_injection_id"), "approvals", ["injection_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_approvals_injection_id"), table_name="approvals")
    op.drop_table("approvals")
