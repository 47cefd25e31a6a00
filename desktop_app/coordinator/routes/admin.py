"""Users, call types, deployment settings and open sign-up."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from desktop_app.protocol import ID_PATTERN
from desktop_app.protocol.app import AppResponse, UpdateAppRequest
from desktop_app.protocol.call_types import (
    CallTypeResponse,
    CallTypesResponse,
    CreateCallTypeRequest,
    UpdateCallTypeRequest,
)
from desktop_app.protocol.users import (
    SignUpRequest,
    SignUpResponse,
    UpdateUserRequest,
    UpsertUsersRequest,
    UserEnvelope,
    UsersResponse,
)

from .deps import PROBLEMS, CurrentActor, State

router = APIRouter(prefix="/v1", responses=PROBLEMS)


@router.post(
    "/users", response_model=UsersResponse, tags=["users"], summary="Create or update users"
)
async def upsert_users(
    state: State, actor: CurrentActor, body: UpsertUsersRequest
) -> UsersResponse:
    """Server tokens only. Fields left out keep their stored value."""
    return await state.admin.upsert_users(actor, body)


@router.get("/users", response_model=UsersResponse, tags=["users"], summary="List users")
async def query_users(
    state: State,
    actor: CurrentActor,
    id: Annotated[list[str] | None, Query(max_length=100, description="User ids to fetch.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    next: Annotated[str | None, Query(max_length=1000)] = None,
) -> UsersResponse:
    """Users in id order (only those who have signed in, for user tokens); `id` may repeat."""
    return await state.admin.query_users(actor, id or [], limit, next)


@router.get("/users/{user_id}", response_model=UserEnvelope, tags=["users"], summary="Get a user")
async def get_user(
    state: State, actor: CurrentActor, user_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> UserEnvelope:
    return UserEnvelope(user=await state.admin.get_user(actor, user_id))


@router.put(
    "/users/{user_id}",
    response_model=UserEnvelope,
    tags=["users"],
    summary="Create or update a user",
)
async def put_user(
    state: State,
    actor: CurrentActor,
    user_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: UpdateUserRequest,
) -> UserEnvelope:
    """Users may change their own `name`, `image` and `custom`; server tokens anything."""
    return UserEnvelope(user=await state.admin.put_user(actor, user_id, body))


@router.get(
    "/call-types", response_model=CallTypesResponse, tags=["call types"], summary="List call types"
)
async def list_call_types(state: State, actor: CurrentActor) -> CallTypesResponse:
    return await state.admin.list_call_types(actor)


@router.post(
    "/call-types",
    response_model=CallTypeResponse,
    status_code=201,
    tags=["call types"],
    summary="Create a call type",
)
async def create_call_type(
    state: State, actor: CurrentActor, body: CreateCallTypeRequest
) -> CallTypeResponse:
    return await state.admin.create_call_type(actor, body)


@router.get(
    "/call-types/{name}",
    response_model=CallTypeResponse,
    tags=["call types"],
    summary="Get a call type",
)
async def get_call_type(
    state: State, actor: CurrentActor, name: Annotated[str, Path(pattern=ID_PATTERN)]
) -> CallTypeResponse:
    return await state.admin.get_call_type(actor, name)


@router.put(
    "/call-types/{name}",
    response_model=CallTypeResponse,
    tags=["call types"],
    summary="Update a call type",
)
async def update_call_type(
    state: State,
    actor: CurrentActor,
    name: Annotated[str, Path(pattern=ID_PATTERN)],
    body: UpdateCallTypeRequest,
) -> CallTypeResponse:
    """`settings` replaces the stored settings; each role in `grants` replaces that role's grants."""
    return await state.admin.update_call_type(actor, name, body)


@router.delete(
    "/call-types/{name}",
    response_model=CallTypeResponse,
    tags=["call types"],
    summary="Delete a call type",
)
async def delete_call_type(
    state: State, actor: CurrentActor, name: Annotated[str, Path(pattern=ID_PATTERN)]
) -> CallTypeResponse:
    """Refused (conflict) while calls of the type exist."""
    return await state.admin.delete_call_type(actor, name)


@router.get("/app", response_model=AppResponse, tags=["app"], summary="Deployment settings")
async def get_app(state: State, actor: CurrentActor) -> AppResponse:
    return AppResponse(app=await state.admin.get_app(actor))


@router.patch(
    "/app", response_model=AppResponse, tags=["app"], summary="Change deployment settings"
)
async def update_app(state: State, actor: CurrentActor, body: UpdateAppRequest) -> AppResponse:
    return AppResponse(app=await state.admin.update_app(actor, body))


@router.post(
    "/auth/sign-up",
    response_model=SignUpResponse,
    status_code=201,
    tags=["auth"],
    summary="Sign up",
)
async def sign_up(state: State, body: Annotated[SignUpRequest, Body()]) -> SignUpResponse:
    """Hands out a user token for a new user id, where the deployment allows open sign-up."""
    return await state.admin.sign_up(body)
