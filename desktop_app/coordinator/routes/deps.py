"""Request dependencies: the coordinator state, the acting principal, common parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from starlette.requests import HTTPConnection

from desktop_app.protocol import ID_PATTERN
from desktop_app.protocol.errors import PROBLEM_CONTENT_TYPE

from ..auth import bearer_token
from ..context import Actor
from ..problems import invalid_input
from ..state import CoordinatorState


async def known_query_only(request: HTTPConnection) -> None:
    """Query parameters an operation does not take are refused, as unknown body fields are:
    a misspelt ``conection_id`` must not be silently ignored."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {p.alias for p in _query_params(dependant)}
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise invalid_input(
            f"{unknown[0][:60]!r} is not a query parameter of this operation (it takes: {listed}).",
            unknown[0][:60],
        )


def _query_params(dependant: Any) -> list[Any]:
    found = list(dependant.query_params)
    for sub in dependant.dependencies:
        found += _query_params(sub)
    return found


async def get_state(request: Request) -> CoordinatorState:
    state: CoordinatorState = request.app.state.coordinator
    return state


State = Annotated[CoordinatorState, Depends(get_state)]


async def current_actor(request: Request) -> Actor:
    """Who is calling. (The bearer scheme is declared in the OpenAPI document by app.py.)"""
    state: CoordinatorState = request.app.state.coordinator
    token = bearer_token(request.headers.get("authorization"))
    principal = state.tokens.verify(token)
    await state.limits.charge(principal)
    return await state.admin.actor(principal)


CurrentActor = Annotated[Actor, Depends(current_actor)]

CallTypeName = Annotated[
    str, Path(pattern=ID_PATTERN, description="The call type, e.g. 'default'.")
]
CallId = Annotated[str, Path(pattern=ID_PATTERN, description="The call id within its type.")]
ConnectionId = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Your WebSocket connection id (from connection.ok): the connection then "
        "watches this call.",
    ),
]


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


#: The problem responses any authenticated operation may give (documented per path).
PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Invalid input (code invalid_input), with 'errors' per field."),
    401: _problem("No token, or a bad or expired one (unauthenticated, token_expired)."),
    403: _problem("Not allowed (not_allowed, backstage)."),
    404: _problem("Not found (not_found)."),
    409: _problem("Conflict (conflict, call_ended, call_full)."),
    413: _problem("Body over 1 MiB (payload_too_large)."),
    415: _problem("The body is not JSON (unsupported_media_type)."),
    429: {
        **_problem("Too many requests for this token or address (rate_limited)."),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        },
    },
    500: _problem("Unexpected server error (internal)."),
}
