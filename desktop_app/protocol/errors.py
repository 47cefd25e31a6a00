"""Problem details (RFC 9457): the one error shape of the wire.

Every failure the coordinator reports has a stable machine-readable ``code`` next to a
``detail`` sentence meant for a person, so that clients can branch on the code and show the
sentence as it is.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"


class ErrorCode(StrEnum):
    """Stable error codes; clients switch on these, never on ``title`` or ``detail``."""

    INVALID_INPUT = "invalid_input"
    UNAUTHENTICATED = "unauthenticated"
    TOKEN_EXPIRED = "token_expired"
    NOT_ALLOWED = "not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    HEADERS_TOO_LARGE = "headers_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    SERVER_BUSY = "server_busy"
    CALL_ENDED = "call_ended"
    CALL_FULL = "call_full"
    BACKSTAGE = "backstage"
    INTERNAL = "internal"


#: The HTTP status and short title that belong to each code.
ERROR_STATUS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.INVALID_INPUT: (400, "Invalid input"),
    ErrorCode.UNAUTHENTICATED: (401, "Not signed in"),
    ErrorCode.TOKEN_EXPIRED: (401, "Token expired"),
    ErrorCode.NOT_ALLOWED: (403, "Not allowed"),
    ErrorCode.BACKSTAGE: (403, "Call is in backstage"),
    ErrorCode.NOT_FOUND: (404, "Not found"),
    ErrorCode.METHOD_NOT_ALLOWED: (405, "Method not allowed"),
    ErrorCode.CONFLICT: (409, "Conflict"),
    ErrorCode.CALL_ENDED: (409, "Call ended"),
    ErrorCode.CALL_FULL: (409, "Call full"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, "Payload too large"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: (415, "Unsupported media type"),
    ErrorCode.RATE_LIMITED: (429, "Too many requests"),
    ErrorCode.HEADERS_TOO_LARGE: (431, "Request headers too large"),
    ErrorCode.REQUEST_TIMEOUT: (408, "Request timeout"),
    ErrorCode.SERVER_BUSY: (503, "Server busy"),
    ErrorCode.INTERNAL: (500, "Internal error"),
}


class FieldError(BaseModel):
    """One problem with one input field; ``field`` is a dotted path such as ``data.custom``."""

    field: str = Field(examples=["data.members.0.user_id"])
    message: str = Field(examples=["must match [A-Za-z0-9_-]{1,64}"])


class Problem(BaseModel):
    """An RFC 9457 problem document, extended with ``code`` and ``errors``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "https://parley.dev/problems/not_found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "There is no call default:standup.",
                    "code": "not_found",
                }
            ]
        }
    )

    type: str
    title: str
    status: int
    detail: str
    code: ErrorCode
    errors: list[FieldError] | None = None


def problem_type_uri(code: ErrorCode) -> str:
    """The ``type`` URI of a problem; it names the code so that it stays stable."""
    return f"https://parley.dev/problems/{code.value}"
