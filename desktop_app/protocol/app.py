"""Deployment-wide settings (``/v1/app``), changed with server tokens."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import Request, Response
from .calls import IceServer

Url = Annotated[
    str,
    Field(max_length=2048, pattern=r"^https?://", examples=["https://hooks.example.org/parley"]),
]


class AppSettings(Response):
    open_sign_up: bool = False
    webhook_url: str | None = None
    webhook_events: list[str] = Field(default_factory=list)
    ice_servers: list[IceServer] = Field(default_factory=list)
    max_mesh_participants: int = 4
    janus_url: str | None = None


class UpdateAppRequest(Request):
    """Fields present change; ``null`` clears ``webhook_url`` and ``janus_url``."""

    open_sign_up: bool | None = None
    webhook_url: Url | None = None
    webhook_events: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] | None
    ) = None
    ice_servers: Annotated[list[IceServer], Field(max_length=10)] | None = None
    max_mesh_participants: Annotated[int, Field(ge=2, le=16)] | None = None
    janus_url: Annotated[str, Field(max_length=2048, pattern=r"^wss?://")] | None = None


class AppResponse(Response):
    app: AppSettings


class HealthResponse(Response):
    status: str = "ok"
    version: str
    service: Literal["parley"] = Field(
        default="parley",
        description='Always "parley": how an app tells a Parley coordinator from any '
        "other web server at the address a person typed.",
    )
