"""Initial schema: users, call types, calls, members, sessions, participants, app settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.BigInteger()
CID = 129


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("image", sa.String(2048), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("teams", JSON, nullable=False),
        sa.Column("custom", JSON, nullable=False),
        sa.Column("claimed", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "call_types",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("grants", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "calls",
        sa.Column("cid", sa.String(CID), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_by_id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("custom", JSON, nullable=False),
        sa.Column("settings_override", JSON, nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("video", sa.Boolean(), nullable=False),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("current_session_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_calls_created_at", "calls", ["created_at"])
    op.create_index("ix_calls_type", "calls", ["type"])
    op.create_index("ix_calls_created_by_id", "calls", ["created_by_id"])
    op.create_table(
        "call_members",
        sa.Column("call_cid", sa.String(CID), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("custom", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_call_members_user_id", "call_members", ["user_id"])
    op.create_table(
        "call_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("call_cid", sa.String(CID), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("accepted_by", JSON, nullable=False),
        sa.Column("rejected_by", JSON, nullable=False),
        sa.Column("missed_by", JSON, nullable=False),
    )
    op.create_index("ix_call_sessions_call_cid", "call_sessions", ["call_cid"])
    op.create_table(
        "participants",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("call_cid", sa.String(CID), nullable=False),
        sa.Column("call_session_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
    )
    op.create_index("ix_participants_call_session_id", "participants", ["call_session_id"])
    op.create_index("ix_participants_connection_id", "participants", ["connection_id"])
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", JSON, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "app_settings",
        "participants",
        "call_sessions",
        "call_members",
        "calls",
        "call_types",
        "users",
    ):
        op.drop_table(table)
