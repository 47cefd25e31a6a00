"""Rings: the ring state of a call session, its next deadline and the caller's connection.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch:
        batch.add_column(sa.Column("ring", JSON, nullable=True))
        batch.add_column(sa.Column("ring_deadline", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("ring_connection_id", sa.String(64), nullable=True))
        batch.create_index("ix_call_sessions_ring_deadline", ["ring_deadline"])
        batch.create_index("ix_call_sessions_ring_connection_id", ["ring_connection_id"])


def downgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch:
        batch.drop_index("ix_call_sessions_ring_connection_id")
        batch.drop_index("ix_call_sessions_ring_deadline")
        batch.drop_column("ring_connection_id")
        batch.drop_column("ring_deadline")
        batch.drop_column("ring")
