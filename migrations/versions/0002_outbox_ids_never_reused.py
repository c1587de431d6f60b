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

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild_outbox("event_outbox_autoincrement", sqlite_autoincrement=True)


def downgrade() -> None:
    _rebuild_outbox("event_outbox_plain")


def _rebuild_outbox(name: str, **table_options: Any) -> None:
    """On SQLite, copy event_outbox with its rows into a new table ``name`` made with ``table_options``,
    which then takes its place."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **table_options,
    )
    op.execute(f"INSERT INTO {name} (id, envelope) SELECT id, envelope FROM event_outbox")
    op.drop_table("event_outbox")
    op.rename_table(name, "event_outbox")
