"""swarms.files_deleted_at: when the retention policy deleted a removed swarm's workspaces and mailboxes

Revision ID: 0005
Revises: 0004

NULL while they may still be on disk (every swarm removed before this revision, too: the policy
reclaims them once due).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("swarms", sa.Column("files_deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("swarms", "files_deleted_at")  # a plain ALTER TABLE ... DROP COLUMN on SQLite 3.35+
