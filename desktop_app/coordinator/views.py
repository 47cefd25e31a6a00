"""Building wire responses from stored rows (one place, so every answer looks the same)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from desktop_app.protocol.calls import (
    CallParticipantResponse,
    CallResponse,
    CallSessionResponse,
    MemberResponse,
    RejectionResponse,
)
from desktop_app.protocol.permissions import Role
from desktop_app.protocol.settings import CallSettings, CallSettingsOverride, merge_settings
from desktop_app.protocol.users import UserPresenceResponse, UserResponse

from .media_rooms import session_media
from .store import Repository
from .store.rows import CallRow, MemberRow, ParticipantRow, SessionRow, UserRow
from .store.types import from_micros, utcnow


def user_response(row: UserRow, teams: bool = False) -> UserResponse:
    """A user as others see them; ``teams`` only for the user themself and server tokens
    (which teams someone is in is not everyone's business)."""
    return UserResponse(
        id=row.id,
        name=row.name,
        image=row.image,
        role=Role(row.role),
        teams=list(row.teams) if teams else [],
        custom=dict(row.custom),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def listed_user(row: UserRow, *, teams: bool, online: bool) -> UserPresenceResponse:
    """A user in a user list or a presence event: as others see them, and whether they
    are connected now."""
    return UserPresenceResponse(**user_response(row, teams).model_dump(), online=online)


def placeholder_user(user_id: str, at: datetime) -> UserResponse:
    """For a user id whose record is gone (deleted data): answer rather than fail."""
    return UserResponse(id=user_id, created_at=at, updated_at=at)


def member_response(row: MemberRow, users: dict[str, UserRow]) -> MemberResponse:
    user = users.get(row.user_id)
    return MemberResponse(
        user_id=row.user_id,
        user=user_response(user) if user else placeholder_user(row.user_id, row.created_at),
        role=Role(row.role),
        custom=dict(row.custom),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def members_response(repo: Repository, rows: Sequence[MemberRow]) -> list[MemberResponse]:
    users = await repo.get_users(r.user_id for r in rows)
    return [member_response(r, users) for r in rows]


def _micros_map(raw: dict[str, object]) -> dict[str, datetime]:
    return {k: from_micros(int(v)) for k, v in raw.items() if isinstance(v, int)}


def session_response(
    row: SessionRow, participants: Sequence[ParticipantRow], users: dict[str, UserRow]
) -> CallSessionResponse:
    rejected: dict[str, RejectionResponse] = {}
    for user_id, value in row.rejected_by.items():
        if isinstance(value, dict):
            rejected[user_id] = RejectionResponse(
                at=from_micros(int(value.get("at", 0))), reason=str(value.get("reason", "decline"))
            )
    return CallSessionResponse(
        id=row.id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        participants=[
            CallParticipantResponse(
                session_id=p.session_id,
                user_id=p.user_id,
                user=user_response(users[p.user_id])
                if p.user_id in users
                else placeholder_user(p.user_id, p.joined_at),
                role=Role(p.role),
                joined_at=p.joined_at,
                published=dict(p.published or {}),
            )
            for p in participants
        ],
        participants_count=len(participants),
        joined_by=_micros_map(row.joined_by or {}),
        accepted_by=_micros_map(row.accepted_by),
        rejected_by=rejected,
        missed_by=_micros_map(row.missed_by),
        ringing=row.ring is not None and row.ring.get("ended_at") is None,
        media=session_media(
            row.media if row.ended_at is None else None, (p.session_id for p in participants)
        ),
    )


@dataclass
class CallParts:
    """What a call response is made of, for callers that have loaded it already."""

    session: SessionRow | None
    participants: list[ParticipantRow]
    users: dict[str, UserRow]


async def load_call_parts(
    repo: Repository, row: CallRow, extra_user_ids: Iterable[str] = ()
) -> CallParts:
    """The call's session, participants and the users of both (and of ``extra_user_ids``)
    in three queries at most."""
    session = await repo.get_session(row.current_session_id) if row.current_session_id else None
    participants = await repo.list_participants(session.id) if session else []
    users = await repo.get_users(
        [row.created_by_id, *(p.user_id for p in participants), *extra_user_ids]
    )
    return CallParts(session, participants, users)


async def call_response(
    repo: Repository, row: CallRow, type_settings: CallSettings, parts: CallParts | None = None
) -> CallResponse:
    if parts is None:
        parts = await load_call_parts(repo, row)
    return build_call_response(row, type_settings, parts)


def build_call_response(
    row: CallRow, type_settings: CallSettings, parts: CallParts
) -> CallResponse:
    session, participants, users = parts.session, parts.participants, parts.users
    override = (
        CallSettingsOverride.model_validate(row.settings_override)
        if row.settings_override
        else None
    )
    settings = merge_settings(type_settings, override)
    creator = users.get(row.created_by_id)
    return CallResponse(
        type=row.type,
        id=row.id,
        cid=row.cid,
        created_by=user_response(creator)
        if creator
        else placeholder_user(row.created_by_id, row.created_at),
        created_at=row.created_at,
        updated_at=row.updated_at,
        starts_at=row.starts_at,
        ended_at=row.ended_at,
        custom=dict(row.custom),
        settings=settings,
        settings_override=override,
        team=row.team,
        video=row.video,
        backstage=settings.backstage.enabled and not row.live,
        live=row.live,
        current_session_id=row.current_session_id,
        session=session_response(session, participants, users) if session else None,
        as_of=utcnow(),
    )


def find_participant(call: CallResponse, session_id: str) -> CallParticipantResponse | None:
    """The participant session ``session_id`` as this call response shows it, if present."""
    if call.session is None:
        return None
    return next((p for p in call.session.participants if p.session_id == session_id), None)
