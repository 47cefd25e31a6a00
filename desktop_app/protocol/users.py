"""Users as the wire sees them, and the requests that create or change them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from .base import Request, Response
from .custom import CustomData
from .ids import Identifier
from .permissions import Role

DisplayName = Annotated[str, Field(max_length=200, examples=["Alice Liddell"])]
ImageUrl = Annotated[str, Field(max_length=2048, examples=["https://example.org/alice.png"])]


class UserRequest(Request):
    """A user to create or update (server tokens set ``role`` and ``teams``)."""

    id: Identifier
    name: DisplayName | None = None
    image: ImageUrl | None = None
    role: Role | None = None
    teams: Annotated[list[Identifier], Field(max_length=50)] | None = None
    custom: CustomData | None = None


class UpdateUserRequest(Request):
    """``PUT /v1/users/{id}``: the fields to change; users may change their own profile."""

    name: DisplayName | None = None
    image: ImageUrl | None = None
    role: Role | None = None
    teams: Annotated[list[Identifier], Field(max_length=50)] | None = None
    custom: CustomData | None = None


class UpsertUsersRequest(Request):
    users: Annotated[list[UserRequest], Field(min_length=1, max_length=100)]


class UserResponse(Response):
    id: str
    name: str | None = None
    image: str | None = None
    role: Role = Role.USER
    teams: list[str] = Field(default_factory=list)
    custom: dict[str, object] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class UserPresenceResponse(UserResponse):
    """A user and whether they can be reached now (user lists and presence events)."""

    online: bool | None = Field(
        default=None,
        description="True while the user has at least one connected event stream "
        "(a running app, signed in); a ring reaches only online users at once. Always "
        "given by this coordinator; null (unknown) from one that predates presence.",
    )


class UsersResponse(Response):
    users: list[UserPresenceResponse]
    next: str | None = None


class UserEnvelope(Response):
    user: UserPresenceResponse


class SignUpRequest(Request):
    user_id: Identifier
    name: DisplayName | None = None
    image: ImageUrl | None = None


class SignUpResponse(Response):
    token: str
    user: UserResponse
