"""Calls on the wire: the requests of the call API and the call state it answers with."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from .base import Request, Response
from .custom import CustomData
from .ids import Identifier
from .permissions import Permission, Role
from .queries import QueryRequest
from .settings import CallSettings, CallSettingsOverride
from .users import UserResponse

MEMBERS_PER_REQUEST_MAX = 100


class MemberRequest(Request):
    user_id: Identifier
    role: Role | None = Field(
        default=None, description="Defaults to call_member (host for the call's creator)."
    )
    custom: CustomData | None = None


class CallRequest(Request):
    """The ``data`` of get-or-create and join: what a new call starts with."""

    members: Annotated[list[MemberRequest], Field(max_length=MEMBERS_PER_REQUEST_MAX)] | None = None
    custom: CustomData | None = None
    settings_override: CallSettingsOverride | None = None
    starts_at: datetime | None = None
    team: Identifier | None = None
    video: bool | None = None
    created_by_id: Identifier | None = Field(
        default=None, description="Server tokens only: the user the call is created for."
    )


class GetOrCreateCallRequest(Request):
    data: CallRequest | None = None
    ring: bool = False
    notify: bool = False
    video: bool | None = None
    members_limit: Annotated[int, Field(ge=0, le=100)] = 25


class JoinCallRequest(GetOrCreateCallRequest):
    """Get-or-create's fields, plus whether to create the call when it does not exist."""

    create: bool = False


class LeaveCallRequest(Request):
    """Which participant session leaves; see ``POST …/leave``."""

    session_id: str | None = Field(default=None, max_length=64)


class UpdateCallRequest(Request):
    """Only the fields present change; ``starts_at: null`` clears the start time."""

    custom: CustomData | None = None
    settings_override: CallSettingsOverride | None = None
    starts_at: datetime | None = None


class UpdateCallMembersRequest(Request):
    update_members: list[MemberRequest] = Field(
        default_factory=list, max_length=MEMBERS_PER_REQUEST_MAX
    )
    remove_members: list[Identifier] = Field(
        default_factory=list, max_length=MEMBERS_PER_REQUEST_MAX
    )


class QueryMembersRequest(QueryRequest):
    pass


class QueryCallsRequest(QueryRequest):
    watch: bool = False


class GoLiveRequest(Request):
    notify: bool = False


class RingCallRequest(Request):
    """Ring members of the call (default: every member but you) on all their devices."""

    member_ids: (
        Annotated[list[Identifier], Field(min_length=1, max_length=MEMBERS_PER_REQUEST_MAX)] | None
    ) = None
    video: bool | None = None


RejectReasonValue = Literal["decline", "cancel", "timeout", "busy"]


class AcceptCallRequest(Request):
    pass


class RejectCallRequest(Request):
    """Callees reject with ``decline`` (default), ``busy`` or ``timeout`` (counted as missed);
    the caller stops its ring with ``cancel`` (or ``timeout``)."""

    reason: RejectReasonValue = "decline"


class SendEventRequest(Request):
    custom: CustomData


class CallParticipantResponse(Response):
    """One joined participant session (a user may have several, one per device)."""

    session_id: str
    user_id: str
    user: UserResponse
    role: Role
    joined_at: datetime
    published: dict[str, bool] = Field(
        default_factory=dict,
        description='What this session sends, e.g. {"audio": true, "video": false}: '
        "a muted microphone or camera is false.",
    )


class RejectionResponse(Response):
    at: datetime
    reason: str


MediaMode = Literal["p2p", "sfu"]


class SessionMediaResponse(Response):
    """How the session's media travels. Participants follow a change: ``sfu`` — ask for
    your media server credentials (``POST …/media``) and move there; a new ``room`` —
    the call moved to another media server; ``p2p`` — connect to each other again."""

    mode: MediaMode = "p2p"
    room: str | None = Field(default=None, description="The media server room, in sfu mode.")
    feeds: dict[str, str] = Field(
        default_factory=dict,
        description="In sfu mode: participant session id → the commitment of its publisher "
        "id in the room (feed_commitment). Subscribe to a publisher only when its id's "
        "commitment is here: that is how a feed is known to be that participant's.",
    )


def feed_commitment(feed: str) -> str:
    """What everyone is told of a participant's publisher id before the participant
    uses it: the id's SHA-256 (hex, first 32 digits). Only the participant and the
    coordinator know the id itself, so no one else can take it in the room first, and a
    publisher whose id matches no commitment is no participant of the call."""
    return hashlib.sha256(feed.encode()).hexdigest()[:32]


class CallSessionResponse(Response):
    id: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    participants: list[CallParticipantResponse] = Field(default_factory=list)
    participants_count: int = 0
    joined_by: dict[str, datetime] = Field(
        default_factory=dict,
        description=(
            "Who joined this session (members or not), with when they first did: the first "
            "100 people."
        ),
    )
    accepted_by: dict[str, datetime] = Field(default_factory=dict)
    rejected_by: dict[str, RejectionResponse] = Field(default_factory=dict)
    missed_by: dict[str, datetime] = Field(default_factory=dict)
    ringing: bool = Field(default=False, description="True while this session's ring is on.")
    media: SessionMediaResponse = Field(default_factory=SessionMediaResponse)


class RingStateResponse(Response):
    """``GET …/ring``: everything about the current ring, for clients that reconnect or poll."""

    session_id: str | None = None
    ringing: bool = False
    caller_id: str | None = None
    video: bool = False
    started_at: datetime | None = None
    auto_cancel_at: datetime | None = Field(default=None, description="The caller's deadline.")
    deadlines: dict[str, datetime] = Field(
        default_factory=dict, description="Each callee's deadline: when their devices stop ringing."
    )
    accepted_by: dict[str, datetime] = Field(default_factory=dict)
    rejected_by: dict[str, RejectionResponse] = Field(default_factory=dict)
    missed_by: dict[str, datetime] = Field(default_factory=dict)
    ended_at: datetime | None = None
    end_reason: str | None = Field(
        default=None,
        examples=["cancelled", "auto_cancelled", "answered", "call_ended", "caller_gone"],
    )


class CallResponse(Response):
    type: str
    id: str
    cid: str
    created_by: UserResponse
    created_at: datetime
    updated_at: datetime
    starts_at: datetime | None = None
    ended_at: datetime | None = None
    custom: dict[str, object] = Field(default_factory=dict)
    settings: CallSettings
    settings_override: CallSettingsOverride | None = None
    team: str | None = None
    video: bool = True
    backstage: bool = Field(description="True while backstage is on and the call is not live.")
    live: bool = False
    current_session_id: str | None = None
    session: CallSessionResponse | None = None
    as_of: datetime = Field(
        description="When this picture of the call was taken. Answers and events can arrive "
        "out of order: keep the call with the latest as_of."
    )


class RingStateEnvelope(Response):
    call: CallResponse
    ring: RingStateResponse


class MemberResponse(Response):
    user_id: str
    user: UserResponse
    role: Role
    custom: dict[str, object] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class CallStateResponse(Response):
    """A call together with (the first page of) its members and what the caller may do."""

    call: CallResponse
    members: list[MemberResponse]
    own_capabilities: list[Permission]


class GetOrCreateCallResponse(CallStateResponse):
    created: bool


class IceServer(Request):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class MediaServerInfo(Response):
    """Where this participant session publishes and subscribes in sfu mode: a Janus
    VideoRoom, joined with this publisher id and this token."""

    kind: Literal["janus"] = "janus"
    url: str = Field(description="The Janus WebSocket URL (ws:// or wss://).")
    room: str
    token: str = Field(description="Lets this participant session, and no one else, in.")
    feed: str = Field(
        description="This participant session's publisher id in the room: secret until "
        "used; the others know it by its commitment in the session's media.feeds."
    )
    feeds: dict[str, str] = Field(
        default_factory=dict,
        description="The commitments of the room's participants' publisher ids as of this "
        "answer (as the session's media.feeds for this room; an answer can be newer than "
        "the last event you have).",
    )


class MediaInfo(Response):
    """How this participant session reaches the others (filled in by the media layer)."""

    mode: MediaMode = "p2p"
    session_id: str = Field(description="This participant session's id.")
    ice_servers: list[IceServer] = Field(default_factory=list)
    max_mesh_participants: int = 4
    media_server: MediaServerInfo | None = None


class MediaRequest(Request):
    """``POST …/media``: the media credentials of one of your participant sessions, now
    (after the session's media mode or room changed)."""

    session_id: Annotated[str, Field(min_length=1, max_length=64)]


class JoinCallResponse(GetOrCreateCallResponse):
    media: MediaInfo


class CallEnvelope(Response):
    call: CallResponse


class UpdateCallMembersResponse(Response):
    call: CallResponse
    members: list[MemberResponse]
    removed: list[str]


class QueryMembersResponse(Response):
    members: list[MemberResponse]
    next: str | None = None
    prev: str | None = None


class QueryCallsResponse(Response):
    calls: list[CallStateResponse]
    next: str | None = None
    prev: str | None = None


class SendEventResponse(Response):
    type: Literal["call.custom"] = "call.custom"
    call_cid: str
    created_at: datetime
    custom: dict[str, object]
    user: UserResponse
