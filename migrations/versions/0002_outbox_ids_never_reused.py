"""outbox ids are never reused on SQLite

Without AUTOINCREMENT, SQLite gives a new row the largest rowid + 1, or 1 in an empty table, so
once the relay had deleted the rows it published, new events got ids it had already passed and were
never relayed.  SQLite cannot add AUTOINCREMENT to a table, so the table is rebuilt with the rows it
holds; the new table's counter starts past the largest id the relay may have seen.  Postgres
identities never reuse a value: nothing changes there.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "event_outbox_autoincrement",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.execute("INSERT INTO event_outbox_autoincrement (id, envelope) SELECT id, envelope FROM event_outbox")
    op.drop_table("event_outbox")
    op.rename_table("event_outbox_autoincrement", "event_outbox")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "event_outbox_plain",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO event_outbox_plain (id, envelope) SELECT id, envelope FROM event_outbox")
    op.drop_table("event_outbox")
    op.rename_table("event_outbox_plain", "event_outbox")
