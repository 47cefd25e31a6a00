"""Example requests and responses for the API description, built from the wire models
themselves so that every example is valid by construction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from .app import AppResponse, AppSettings, HealthResponse, UpdateAppRequest
from .call_types import (
    CallTypeResponse,
    CallTypesResponse,
    CreateCallTypeRequest,
    UpdateCallTypeRequest,
)
from .calls import (
    AcceptCallRequest,
    CallEnvelope,
    CallParticipantResponse,
    CallRequest,
    CallResponse,
    CallSessionResponse,
    CallStateResponse,
    GetOrCreateCallRequest,
    GetOrCreateCallResponse,
    GoLiveRequest,
    IceServer,
    JoinCallRequest,
    JoinCallResponse,
    LeaveCallRequest,
    MediaInfo,
    MediaRequest,
    MediaServerInfo,
    MemberRequest,
    MemberResponse,
    QueryCallsRequest,
    QueryCallsResponse,
    QueryMembersRequest,
    QueryMembersResponse,
    RejectCallRequest,
    RingCallRequest,
    RingStateEnvelope,
    RingStateResponse,
    SendEventRequest,
    SendEventResponse,
    UpdateCallMembersRequest,
    UpdateCallMembersResponse,
    UpdateCallRequest,
)
from .permissions import Permission, Role
from .queries import SortParam
from .settings import CallSettings, CallSettingsOverride, LimitsSettingsOverride
from .users import (
    SignUpRequest,
    SignUpResponse,
    UpdateUserRequest,
    UpsertUsersRequest,
    UserEnvelope,
    UserPresenceResponse,
    UserRequest,
    UserResponse,
    UsersResponse,
)

AT = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
ALICE = UserResponse(id="alice", name="Alice", role=Role.USER, created_at=AT, updated_at=AT)
BOB = UserResponse(id="bob", name="Bob", role=Role.USER, created_at=AT, updated_at=AT)
MEMBERS = [
    MemberResponse(user_id="alice", user=ALICE, role=Role.HOST, created_at=AT, updated_at=AT),
    MemberResponse(user_id="bob", user=BOB, role=Role.CALL_MEMBER, created_at=AT, updated_at=AT),
]
SESSION = CallSessionResponse(
    id="5f1c2a9e0b7d4c3a8e6f1a2b",
    started_at=AT,
    participants=[
        CallParticipantResponse(
            session_id="9d8c7b6a5f4e3d2c1b0a9f8e",
            user_id="alice",
            user=ALICE,
            role=Role.HOST,
            joined_at=AT,
        )
    ],
    participants_count=1,
)
CALL = CallResponse(
    type="default",
    id="standup",
    cid="default:standup",
    created_by=ALICE,
    created_at=AT,
    updated_at=AT,
    custom={"topic": "Daily stand-up"},
    settings=CallSettings(),
    backstage=False,
    current_session_id=SESSION.id,
    session=SESSION,
    as_of=AT,
)
HOST_CAPABILITIES = [
    Permission.READ_CALL,
    Permission.JOIN_CALL,
    Permission.UPDATE_CALL,
    Permission.END_CALL,
    Permission.UPDATE_CALL_MEMBER,
    Permission.SEND_EVENT,
]
CALL_TYPE = CallTypeResponse(
    name="default",
    settings=CallSettings(),
    grants={Role.USER: [Permission.CREATE_CALL, Permission.READ_CALL, Permission.JOIN_CALL]},
    created_at=AT,
    updated_at=AT,
)
ANSWER_DATA = CallRequest(
    members=[MemberRequest(user_id="alice"), MemberRequest(user_id="bob")],
    custom={"topic": "Daily stand-up"},
)

_EXAMPLES: list[BaseModel] = [
    GetOrCreateCallRequest(data=ANSWER_DATA),
    JoinCallRequest(create=True, data=ANSWER_DATA),
    LeaveCallRequest(session_id="9d8c7b6a5f4e3d2c1b0a9f8e"),
    MediaRequest(session_id="9d8c7b6a5f4e3d2c1b0a9f8e"),
    UpdateCallRequest(
        custom={"topic": "Planning"},
        settings_override=CallSettingsOverride(limits=LimitsSettingsOverride(max_participants=8)),
    ),
    UpdateCallMembersRequest(
        update_members=[MemberRequest(user_id="carol", role=Role.HOST)], remove_members=["bob"]
    ),
    QueryMembersRequest(
        filter={"role": {"$in": ["host", "moderator"]}}, sort=[SortParam(field="user_id")], limit=10
    ),
    QueryCallsRequest(filter={"type": "default", "ended_at": {"$exists": False}}, limit=10),
    GoLiveRequest(),
    SendEventRequest(custom={"reaction": "👍"}),
    RingCallRequest(member_ids=["bob"], video=True),
    AcceptCallRequest(),
    RejectCallRequest(reason="decline"),
    RingStateEnvelope(
        call=CALL,
        ring=RingStateResponse(
            session_id=SESSION.id,
            ringing=True,
            caller_id="alice",
            video=True,
            started_at=AT,
            auto_cancel_at=AT + timedelta(seconds=15),
            deadlines={"bob": AT + timedelta(seconds=15)},
        ),
    ),
    UpsertUsersRequest(
        users=[UserRequest(id="carol", name="Carol", role=Role.MODERATOR, teams=["ops"])]
    ),
    UpdateUserRequest(name="Alice L."),
    SignUpRequest(user_id="dave", name="Dave"),
    CreateCallTypeRequest(name="webinar", settings=CallSettings()),
    UpdateCallTypeRequest(grants={Role.USER: [Permission.READ_CALL, Permission.JOIN_CALL]}),
    UpdateAppRequest(open_sign_up=True, webhook_url="https://hooks.example.org/parley"),
    CallStateResponse(call=CALL, members=MEMBERS, own_capabilities=HOST_CAPABILITIES),
    GetOrCreateCallResponse(
        call=CALL, members=MEMBERS, own_capabilities=HOST_CAPABILITIES, created=True
    ),
    JoinCallResponse(
        call=CALL,
        members=MEMBERS,
        own_capabilities=HOST_CAPABILITIES,
        created=False,
        media=MediaInfo(
            session_id="9d8c7b6a5f4e3d2c1b0a9f8e",
            ice_servers=[
                IceServer(urls=["turn:turn.example.org:3478"], username="u", credential="p")
            ],
        ),
    ),
    MediaInfo(
        mode="sfu",
        session_id="9d8c7b6a5f4e3d2c1b0a9f8e",
        ice_servers=[IceServer(urls=["turn:turn.example.org:3478"], username="u", credential="p")],
        media_server=MediaServerInfo(
            url="wss://sfu.example.org/janus",
            room="5e0c2a9b7d1f4a3c8e6b2d90",
            token="c2lnbmVk",
            feed="Yc3Ly2Ck7Xo4EhwV8Fq1ZA",
        ),
    ),
    CallEnvelope(call=CALL),
    UpdateCallMembersResponse(call=CALL, members=MEMBERS[1:], removed=[]),
    QueryMembersResponse(members=MEMBERS),
    QueryCallsResponse(
        calls=[CallStateResponse(call=CALL, members=MEMBERS, own_capabilities=HOST_CAPABILITIES)]
    ),
    SendEventResponse(
        call_cid="default:standup", created_at=AT, custom={"reaction": "👍"}, user=ALICE
    ),
    UsersResponse(
        users=[
            UserPresenceResponse(**ALICE.model_dump(), online=True),
            UserPresenceResponse(**BOB.model_dump(), online=False),
        ]
    ),
    UserEnvelope(user=UserPresenceResponse(**ALICE.model_dump(), online=True)),
    SignUpResponse(token="eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYXZlIn0.c2lnbmF0dXJl", user=ALICE),
    CallTypeResponse.model_validate(CALL_TYPE.model_dump()),
    CallTypesResponse(call_types=[CALL_TYPE]),
    AppResponse(app=AppSettings(open_sign_up=True)),
    HealthResponse(version="0.1.0"),
]

#: Schema name → an example of it, as JSON.
EXAMPLES: dict[str, Any] = {
    type(model).__name__: model.model_dump(mode="json", exclude_unset=False) for model in _EXAMPLES
}
