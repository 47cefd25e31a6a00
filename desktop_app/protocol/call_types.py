"""Call types: named settings plus a grant table from role to permissions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from .base import Request, Response
from .ids import Identifier
from .permissions import Permission, Role
from .settings import CallSettings

Grants = Annotated[
    dict[Role, list[Permission]],
    Field(examples=[{"user": ["create-call", "read-call", "join-call"]}]),
]


class CreateCallTypeRequest(Request):
    name: Identifier
    settings: CallSettings = Field(default_factory=CallSettings)
    grants: Grants = Field(default_factory=dict)


class UpdateCallTypeRequest(Request):
    """Fields present replace the stored ones; a role missing from ``grants`` keeps its grants."""

    settings: CallSettings | None = None
    grants: Grants | None = None


class CallTypeResponse(Response):
    name: str
    settings: CallSettings
    grants: dict[Role, list[Permission]]
    created_at: datetime
    updated_at: datetime


class CallTypesResponse(Response):
    call_types: list[CallTypeResponse]
