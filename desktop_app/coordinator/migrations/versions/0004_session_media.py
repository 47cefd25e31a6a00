"""Call sessions: where their media travels (a Janus room, or peer to peer).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch:
        batch.add_column(sa.Column("media", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_sessions") as batch:
        batch.drop_column("media")
