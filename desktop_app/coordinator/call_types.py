"""The call types that exist out of the box, with their settings and grant tables.

The grant tables are documented in ``docs/permissions.md``; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.protocol.permissions import Permission as P
from desktop_app.protocol.permissions import Role
from desktop_app.protocol.settings import (
    BackstageSettings,
    CallSettings,
    RingSettings,
    VideoSettings,
)

Grants = dict[Role, list[P]]

_EVERYTHING = list(P)

_USER = [P.CREATE_CALL, P.READ_CALL, P.JOIN_CALL, P.SEND_EVENT, P.RING_CALL]
_CALL_MEMBER = [P.READ_CALL, P.JOIN_CALL, P.SEND_EVENT, P.RING_CALL]
_HOST = [
    P.CREATE_CALL,
    P.READ_CALL,
    P.JOIN_CALL,
    P.JOIN_BACKSTAGE,
    P.UPDATE_CALL,
    P.UPDATE_CALL_SETTINGS,
    P.END_CALL,
    P.UPDATE_CALL_MEMBER,
    P.REMOVE_CALL_MEMBER,
    P.SEND_EVENT,
    P.RING_CALL,
]
_MODERATOR = [*_HOST, P.JOIN_ENDED_CALL, P.DELETE_CALL]


def _standard_grants() -> Grants:
    return {
        Role.USER: list(_USER),
        Role.CALL_MEMBER: list(_CALL_MEMBER),
        Role.HOST: list(_HOST),
        Role.MODERATOR: list(_MODERATOR),
        Role.ADMIN: list(_EVERYTHING),
    }


@dataclass(frozen=True)
class CallTypeDefinition:
    name: str
    settings: CallSettings
    grants: Grants


def builtin_call_types() -> list[CallTypeDefinition]:
    """``default`` rings for 15 s with video on; ``audio_room`` and ``livestream`` start in
    backstage; ``development`` lets every role do everything."""
    fifteen_seconds = RingSettings(
        auto_cancel_timeout_ms=15_000,
        incoming_call_timeout_ms=15_000,
        missed_call_timeout_ms=15_000,
    )
    return [
        CallTypeDefinition(
            "default",
            CallSettings(
                video=VideoSettings(enabled=True, camera_default_on=True), ring=fifteen_seconds
            ),
            _standard_grants(),
        ),
        CallTypeDefinition(
            "audio_room",
            CallSettings(
                video=VideoSettings(enabled=False, camera_default_on=False),
                backstage=BackstageSettings(enabled=True),
            ),
            _standard_grants(),
        ),
        CallTypeDefinition(
            "livestream",
            CallSettings(
                video=VideoSettings(enabled=True, camera_default_on=True),
                backstage=BackstageSettings(enabled=True),
            ),
            _standard_grants(),
        ),
        CallTypeDefinition(
            "development",
            CallSettings(),
            {role: list(_EVERYTHING) for role in Role},
        ),
    ]
