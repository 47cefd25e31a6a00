"""The coordinator's tables (SQLAlchemy Core). Alembic migrations create them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, MetaData, String, Table

from .types import JsonType, UtcTimestamp

metadata = MetaData()

ID = 64

users = Table(
    "users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(200), nullable=True),
    Column("image", String(2048), nullable=True),
    Column("role", String(32), nullable=False),
    Column("teams", JsonType, nullable=False),
    Column("custom", JsonType, nullable=False),
    # False for users that only exist because someone named them (as a member): open
    # sign-up may still hand out their id. True once a token was issued or used for them.
    Column("claimed", Boolean, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)

call_types = Table(
    "call_types",
    metadata,
    Column("name", String(ID), primary_key=True),
    Column("settings", JsonType, nullable=False),
    Column("grants", JsonType, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)

calls = Table(
    "calls",
    metadata,
    Column("cid", String(2 * ID + 1), primary_key=True),
    Column("type", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("created_by_id", String(ID), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    Column("starts_at", UtcTimestamp, nullable=True),
    Column("ended_at", UtcTimestamp, nullable=True),
    Column("custom", JsonType, nullable=False),
    Column("settings_override", JsonType, nullable=True),
    Column("team", String(ID), nullable=True),
    Column("video", Boolean, nullable=False),
    Column("live", Boolean, nullable=False),
    Column("current_session_id", String(64), nullable=True),
    Index("ix_calls_created_at", "created_at"),
    Index("ix_calls_type", "type"),
    Index("ix_calls_created_by_id", "created_by_id"),
)

call_members = Table(
    "call_members",
    metadata,
    Column("call_cid", String(2 * ID + 1), primary_key=True),
    Column("user_id", String(ID), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("custom", JsonType, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    Index("ix_call_members_user_id", "user_id"),
)

call_sessions = Table(
    "call_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_cid", String(2 * ID + 1), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("started_at", UtcTimestamp, nullable=True),
    Column("ended_at", UtcTimestamp, nullable=True),
    Column("accepted_by", JsonType, nullable=False),
    Column("rejected_by", JsonType, nullable=False),
    Column("missed_by", JsonType, nullable=False),
    # the ring of this session (ring.py's storage form), its next deadline, and the
    # caller's connection whose loss ends it
    Column("ring", JsonType, nullable=True),
    Column("ring_deadline", UtcTimestamp, nullable=True),
    Column("ring_connection_id", String(64), nullable=True),
    # where the session's media travels (media_rooms.py's storage form; null: peer to peer)
    Column("media", JsonType, nullable=True),
    # who joined it: user id → first join, µs (null in sessions older than the column)
    Column("joined_by", JsonType, nullable=True),
    Index("ix_call_sessions_call_cid", "call_cid"),
    Index("ix_call_sessions_ring_deadline", "ring_deadline"),
    Index("ix_call_sessions_ring_connection_id", "ring_connection_id"),
)

participants = Table(
    "participants",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("call_cid", String(2 * ID + 1), nullable=False),
    Column("call_session_id", String(64), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("connection_id", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("joined_at", UtcTimestamp, nullable=False),
    # what the session publishes, e.g. {"audio": true, "video": false} (null: not said yet)
    Column("published", JsonType, nullable=True),
    Index("ix_participants_call_session_id", "call_session_id"),
    Index("ix_participants_connection_id", "connection_id"),
)

app_settings = Table(
    "app_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JsonType, nullable=False),
)
