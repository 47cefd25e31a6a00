"""Events the coordinator pushes over the WebSocket.

Every call event carries the current ``call`` (with its session's ``accepted_by``,
``rejected_by`` and ``missed_by``), so that a client can rebuild its state from any single
event. ``CALL_EVENT_TYPES`` is the complete list; clients keep a handler for each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from .base import Response
from .calls import CallParticipantResponse, CallResponse, MemberResponse
from .custom import CustomData
from .users import UserPresenceResponse, UserResponse

CallEventType = Literal[
    "call.created",
    "call.updated",
    "call.deleted",
    "call.ended",
    "call.member_added",
    "call.member_updated",
    "call.member_removed",
    "call.ring",
    "call.notification",
    "call.accepted",
    "call.rejected",
    "call.missed",
    "call.live_started",
    "call.live_stopped",
    "call.session_started",
    "call.session_ended",
    "call.participant_joined",
    "call.participant_left",
    "call.participant_updated",
    "call.custom",
    "call.signal",
]
CALL_EVENT_TYPES: tuple[str, ...] = get_args(CallEventType)

#: Events every member receives on all of their connections, watching or not.
MEMBER_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "call.created",
        "call.deleted",
        "call.ended",
        "call.member_added",
        "call.member_updated",
        "call.member_removed",
        "call.ring",
        "call.notification",
        "call.accepted",
        "call.rejected",
        "call.missed",
    }
)


class CallEventBase(Response):
    type: str
    call_cid: str
    created_at: datetime
    call: CallResponse


class CallCreatedEvent(CallEventBase):
    type: Literal["call.created"] = "call.created"
    members: list[MemberResponse] = Field(default_factory=list)


class CallUpdatedEvent(CallEventBase):
    type: Literal["call.updated"] = "call.updated"


class CallDeletedEvent(CallEventBase):
    type: Literal["call.deleted"] = "call.deleted"


class CallEndedEvent(CallEventBase):
    type: Literal["call.ended"] = "call.ended"
    user: UserResponse | None = None
    reason: str | None = Field(default=None, examples=["ended_by_user", "max_duration"])


class _MembersEvent(CallEventBase):
    members: list[MemberResponse]


class CallMemberAddedEvent(_MembersEvent):
    type: Literal["call.member_added"] = "call.member_added"


class CallMemberUpdatedEvent(_MembersEvent):
    type: Literal["call.member_updated"] = "call.member_updated"


class CallMemberRemovedEvent(CallEventBase):
    type: Literal["call.member_removed"] = "call.member_removed"
    members: list[str]


class CallRingEvent(CallEventBase):
    type: Literal["call.ring"] = "call.ring"
    members: list[MemberResponse]
    session_id: str
    user: UserResponse
    video: bool


class CallNotificationEvent(CallEventBase):
    type: Literal["call.notification"] = "call.notification"
    members: list[MemberResponse]
    session_id: str
    user: UserResponse


class CallAcceptedEvent(CallEventBase):
    type: Literal["call.accepted"] = "call.accepted"
    user: UserResponse


class CallRejectedEvent(CallEventBase):
    type: Literal["call.rejected"] = "call.rejected"
    user: UserResponse
    reason: str


class CallMissedEvent(CallEventBase):
    type: Literal["call.missed"] = "call.missed"
    user: UserResponse
    session_id: str


class CallLiveStartedEvent(CallEventBase):
    type: Literal["call.live_started"] = "call.live_started"


class CallLiveStoppedEvent(CallEventBase):
    type: Literal["call.live_stopped"] = "call.live_stopped"


class CallSessionStartedEvent(CallEventBase):
    type: Literal["call.session_started"] = "call.session_started"
    session_id: str


class CallSessionEndedEvent(CallEventBase):
    type: Literal["call.session_ended"] = "call.session_ended"
    session_id: str


class _ParticipantEvent(CallEventBase):
    session_id: str
    participant: CallParticipantResponse


class CallParticipantJoinedEvent(_ParticipantEvent):
    type: Literal["call.participant_joined"] = "call.participant_joined"


class CallParticipantLeftEvent(_ParticipantEvent):
    type: Literal["call.participant_left"] = "call.participant_left"
    reason: str = Field(default="left", examples=["left", "disconnected", "call_ended"])


class CallParticipantUpdatedEvent(_ParticipantEvent):
    type: Literal["call.participant_updated"] = "call.participant_updated"
    published: dict[str, bool] = Field(
        default_factory=dict, examples=[{"audio": True, "video": False}]
    )


class CallCustomEvent(CallEventBase):
    type: Literal["call.custom"] = "call.custom"
    custom: dict[str, Any]
    user: UserResponse


class CallSignalEvent(CallEventBase):
    """WebRTC signalling, delivered only to the participant session ``to_session_id``."""

    type: Literal["call.signal"] = "call.signal"
    from_session_id: str
    to_session_id: str
    user: UserResponse
    signal: dict[str, Any]


CallEvent = Annotated[
    CallCreatedEvent
    | CallUpdatedEvent
    | CallDeletedEvent
    | CallEndedEvent
    | CallMemberAddedEvent
    | CallMemberUpdatedEvent
    | CallMemberRemovedEvent
    | CallRingEvent
    | CallNotificationEvent
    | CallAcceptedEvent
    | CallRejectedEvent
    | CallMissedEvent
    | CallLiveStartedEvent
    | CallLiveStoppedEvent
    | CallSessionStartedEvent
    | CallSessionEndedEvent
    | CallParticipantJoinedEvent
    | CallParticipantLeftEvent
    | CallParticipantUpdatedEvent
    | CallCustomEvent
    | CallSignalEvent,
    Field(discriminator="type"),
]
CALL_EVENT_ADAPTER: TypeAdapter[CallEvent] = TypeAdapter(CallEvent)


# --- connection-level messages -------------------------------------------------------


class WsUser(Response):
    """The user details a client sends with its ``auth`` message (upserted on connect)."""

    id: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=200)
    image: str | None = Field(default=None, max_length=2048)
    custom: CustomData | None = None


class WsAuthMessage(Response):
    type: Literal["auth"]
    token: str = Field(max_length=8192)
    user: WsUser | None = None
    resume_connection_id: str | None = Field(
        default=None,
        max_length=64,
        description="Take over a dropped connection (its watches and participant sessions) "
        "within the grace period.",
    )


class WsSignalMessage(Response):
    """Client → coordinator: WebRTC signalling for one other participant session."""

    type: Literal["call.signal"]
    call_cid: str = Field(max_length=129)
    from_session_id: str = Field(max_length=64)
    to_session_id: str = Field(max_length=64)
    signal: dict[str, Any] = Field(description="Offer, answer or candidate; opaque to the server.")


class WsPublishMessage(Response):
    """Client → coordinator: what this participant session now sends (mute / unmute)."""

    type: Literal["participant.update"]
    call_cid: str = Field(max_length=129)
    session_id: str = Field(max_length=64)
    published: dict[Literal["audio", "video", "screen"], bool]


class ConnectionOkEvent(Response):
    type: Literal["connection.ok"] = "connection.ok"
    connection_id: str
    user: UserResponse
    resumed: bool = False


class UserPresenceChangedEvent(Response):
    """A user came online (their first connected device) or went offline (their last one
    closed). Sent to every other connected user, so people lists stay current; a user
    who signs up appears through this event when they first connect."""

    type: Literal["user.presence_changed"] = "user.presence_changed"
    created_at: datetime
    user: UserPresenceResponse


class ConnectionErrorEvent(Response):
    type: Literal["connection.error"] = "connection.error"
    code: str
    detail: str


def event_json_schema() -> dict[str, Any]:
    """JSON Schema of every event the WebSocket can carry (published in ``docs/``)."""
    adapter: TypeAdapter[Any] = TypeAdapter(
        Annotated[
            CallEvent | UserPresenceChangedEvent | ConnectionOkEvent | ConnectionErrorEvent,
            Field(),
        ]
    )
    return adapter.json_schema(mode="serialization")
