"""Plain records read from and written to the store; the service turns them into responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class UserRow:
    id: str
    role: str
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    image: str | None = None
    teams: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    claimed: bool = True


@dataclass
class CallTypeRow:
    name: str
    settings: dict[str, Any]
    grants: dict[str, list[str]]
    created_at: datetime
    updated_at: datetime


@dataclass
class CallRow:
    cid: str
    type: str
    id: str
    created_by_id: str
    created_at: datetime
    updated_at: datetime
    custom: dict[str, Any]
    video: bool
    live: bool
    starts_at: datetime | None = None
    ended_at: datetime | None = None
    settings_override: dict[str, Any] | None = None
    team: str | None = None
    current_session_id: str | None = None


@dataclass
class MemberRow:
    call_cid: str
    user_id: str
    role: str
    custom: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass
class SessionRow:
    id: str
    call_cid: str
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    accepted_by: dict[str, Any] = field(default_factory=dict)
    rejected_by: dict[str, Any] = field(default_factory=dict)
    missed_by: dict[str, Any] = field(default_factory=dict)
    ring: dict[str, Any] | None = None
    ring_deadline: datetime | None = None
    ring_connection_id: str | None = None
    media: dict[str, Any] | None = None
    joined_by: dict[str, Any] | None = None


@dataclass
class ParticipantRow:
    session_id: str
    call_cid: str
    call_session_id: str
    user_id: str
    connection_id: str
    role: str
    joined_at: datetime
    published: dict[str, bool] | None = None
