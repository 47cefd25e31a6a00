"""``/v1/calls``: the call API. Read top to bottom, this is the map of a call's life."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from desktop_app.protocol.calls import (
    AcceptCallRequest,
    CallEnvelope,
    CallStateResponse,
    GetOrCreateCallRequest,
    GetOrCreateCallResponse,
    GoLiveRequest,
    JoinCallRequest,
    JoinCallResponse,
    LeaveCallRequest,
    MediaInfo,
    MediaRequest,
    QueryCallsRequest,
    QueryCallsResponse,
    QueryMembersRequest,
    QueryMembersResponse,
    RejectCallRequest,
    RingCallRequest,
    RingStateEnvelope,
    SendEventRequest,
    SendEventResponse,
    UpdateCallMembersRequest,
    UpdateCallMembersResponse,
    UpdateCallRequest,
)

from .deps import PROBLEMS, CallId, CallTypeName, ConnectionId, CurrentActor, State

router = APIRouter(prefix="/v1/calls", tags=["calls"], responses=PROBLEMS)


@router.post("/query", response_model=QueryCallsResponse, summary="Query calls")
async def query_calls(
    state: State,
    actor: CurrentActor,
    connection_id: ConnectionId = None,
    body: Annotated[QueryCallsRequest | None, Body()] = None,
) -> QueryCallsResponse:
    """Calls you created or are a member of (server tokens: all calls), filtered and sorted.

    Filter fields: `cid`, `type`, `id`, `created_by_user_id`, `team`, `created_at`,
    `updated_at`, `starts_at`, `ended_at`, `live`, `video`, `custom.<key>`. Sort on
    `created_at` (default, newest first), `updated_at` or `cid`. With `watch: true` the
    connection named by `connection_id` watches every call returned."""
    return await state.queries.query_calls(actor, body or QueryCallsRequest(), connection_id)


@router.post(
    "/{type}/{id}",
    response_model=GetOrCreateCallResponse,
    summary="Get or create a call",
    responses={201: {"model": GetOrCreateCallResponse, "description": "The call was created."}},
)
async def get_or_create_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    connection_id: ConnectionId = None,
    body: Annotated[GetOrCreateCallRequest | None, Body()] = None,
) -> Response:
    """Answers the call, creating it first (status 201, `created: true`) when it does not
    exist. The creator becomes a member with role `host` unless `data.members` says otherwise."""
    request = body or GetOrCreateCallRequest()
    view = await state.calls.get_or_create(
        actor,
        type,
        id,
        request.data,
        connection_id,
        video=request.video,
        ring=request.ring,
        announce=state.rings.announcer(request.ring, request.notify, request.video, connection_id),
    )
    return Response(
        view.to_json(request.members_limit),
        status_code=status.HTTP_201_CREATED if view.created else status.HTTP_200_OK,
        media_type="application/json",
    )


@router.get("/{type}/{id}", response_model=CallStateResponse, summary="Load a call")
async def get_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    connection_id: ConnectionId = None,
    members_limit: Annotated[int, Query(ge=0, le=100)] = 25,
    ring: bool = False,
    notify: bool = False,
    video: bool | None = None,
) -> Response:
    announce = state.rings.announcer(ring, notify, video, connection_id)
    view = await state.calls.get(actor, type, id, connection_id, announce)
    return Response(view.to_json(members_limit, with_created=False), media_type="application/json")


@router.patch("/{type}/{id}", response_model=CallStateResponse, summary="Update a call")
async def update_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: UpdateCallRequest,
    connection_id: ConnectionId = None,
) -> CallStateResponse:
    """Changes `custom` (replaced whole), `settings_override` (merged into the existing
    override; needs `update-call-settings`) and `starts_at` (`null` clears it)."""
    return await state.calls.update(actor, type, id, body, connection_id)


@router.delete("/{type}/{id}", response_model=CallEnvelope, summary="Delete a call")
async def delete_call(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId
) -> CallEnvelope:
    return await state.calls.delete(actor, type, id)


@router.post(
    "/{type}/{id}/join",
    response_model=JoinCallResponse,
    summary="Join a call",
    responses={201: {"model": JoinCallResponse, "description": "The call was created and joined."}},
)
async def join_call(
    state: State,
    actor: CurrentActor,
    response: Response,
    type: CallTypeName,
    id: CallId,
    connection_id: ConnectionId = None,
    body: Annotated[JoinCallRequest | None, Body()] = None,
) -> JoinCallResponse:
    """Adds a participant session bound to the WebSocket connection `connection_id`
    (required). It leaves on `…/leave`, or when that connection has been gone for the
    grace period."""
    request = body or JoinCallRequest()
    result = await state.sessions.join(
        actor,
        type,
        id,
        request.create,
        request.data,
        request.video,
        request.members_limit,
        connection_id,
        ring=request.ring,
        announce=state.rings.announcer(request.ring, request.notify, request.video, connection_id),
    )
    if result.created:
        response.status_code = status.HTTP_201_CREATED
    return result


@router.post("/{type}/{id}/leave", response_model=CallEnvelope, summary="Leave a call")
async def leave_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    connection_id: ConnectionId = None,
    body: Annotated[LeaveCallRequest | None, Body()] = None,
) -> CallEnvelope:
    """Ends one participant session: `session_id` if given, else the one on
    `connection_id`, else all of your sessions in this call."""
    session_id = body.session_id if body else None
    return await state.sessions.leave(actor, type, id, session_id, connection_id)


@router.post("/{type}/{id}/media", response_model=MediaInfo, summary="Media credentials, now")
async def call_media(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId, body: MediaRequest
) -> MediaInfo:
    """How your participant session `session_id` reaches the others now: ask when the
    session's `media` (mode or room) changes. In sfu mode the answer carries the media
    server, its room and your session's token; the call moves to a media server that
    answers when its own does not."""
    return await state.sessions.media(actor, type, id, body.session_id)


@router.post("/{type}/{id}/end", response_model=CallEnvelope, summary="End a call for everyone")
async def end_call(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId
) -> CallEnvelope:
    return await state.sessions.end(actor, type, id)


@router.post(
    "/{type}/{id}/members",
    response_model=UpdateCallMembersResponse,
    summary="Add, change or remove members",
)
async def update_call_members(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: UpdateCallMembersRequest,
) -> UpdateCallMembersResponse:
    return await state.members.update_members(actor, type, id, body)


@router.post(
    "/{type}/{id}/members/query", response_model=QueryMembersResponse, summary="Query members"
)
async def query_call_members(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: Annotated[QueryMembersRequest | None, Body()] = None,
) -> QueryMembersResponse:
    """Filter on `user_id`, `role`, `created_at`, `updated_at`, `custom.<key>`; sort on
    `created_at` (default), `updated_at` or `user_id`."""
    return await state.members.query_members(actor, type, id, body or QueryMembersRequest())


@router.post("/{type}/{id}/go-live", response_model=CallEnvelope, summary="Leave backstage")
async def go_live(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: Annotated[GoLiveRequest | None, Body()] = None,
) -> CallEnvelope:
    notify = body is not None and body.notify
    announce = state.rings.announcer(False, notify, None, None)
    return await state.calls.set_live(actor, type, id, True, announce)


@router.post("/{type}/{id}/stop-live", response_model=CallEnvelope, summary="Go back to backstage")
async def stop_live(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId
) -> CallEnvelope:
    return await state.calls.set_live(actor, type, id, False)


@router.post("/{type}/{id}/ring", response_model=RingStateEnvelope, summary="Ring members")
async def ring_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    connection_id: ConnectionId = None,
    body: Annotated[RingCallRequest | None, Body()] = None,
) -> RingStateEnvelope:
    """Sends `call.ring` to `member_ids` (default: every other member) on all their devices.
    You must be a member. With `connection_id`, losing that connection stops the ring."""
    request = body or RingCallRequest()
    return await state.rings.ring(actor, type, id, request.member_ids, request.video, connection_id)


@router.get("/{type}/{id}/ring", response_model=RingStateEnvelope, summary="Ring state")
async def get_ring(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId
) -> RingStateEnvelope:
    """Whether the ring is on, who accepted, rejected or missed it, and the deadlines."""
    return await state.rings.get_ring(actor, type, id)


@router.post("/{type}/{id}/accept", response_model=RingStateEnvelope, summary="Accept a ring")
async def accept_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: Annotated[AcceptCallRequest | None, Body()] = None,
) -> RingStateEnvelope:
    """`call.accepted` goes to every member's devices; your other devices stop ringing."""
    return await state.rings.answer(actor, type, id, None)


@router.post(
    "/{type}/{id}/reject", response_model=RingStateEnvelope, summary="Reject or cancel a ring"
)
async def reject_call(
    state: State,
    actor: CurrentActor,
    type: CallTypeName,
    id: CallId,
    body: Annotated[RejectCallRequest | None, Body()] = None,
) -> RingStateEnvelope:
    """Callees: `decline` (default), `busy`, or `timeout` (counted as missed). The caller:
    `cancel` stops the ring for every callee."""
    return await state.rings.answer(actor, type, id, (body or RejectCallRequest()).reason)


@router.post("/{type}/{id}/events", response_model=SendEventResponse, summary="Send a custom event")
async def send_event(
    state: State, actor: CurrentActor, type: CallTypeName, id: CallId, body: SendEventRequest
) -> SendEventResponse:
    """Delivered as `call.custom` to every connection watching the call."""
    return await state.calls.send_event(actor, type, id, body.custom)
