"""The errors the SDK raises, one tree shared with the UI, mapped from the wire's ``code``.

    ParleyError
     ├── ConnectionFailed            the coordinator could not be reached
     ├── ApiError                    the coordinator answered with a problem
     │    ├── InvalidInput           invalid_input
     │    ├── Unauthenticated        unauthenticated
     │    │    └── TokenExpired      token_expired
     │    ├── NotAllowed             not_allowed
     │    │    └── Backstage         backstage
     │    ├── NotFound               not_found
     │    ├── Conflict               conflict, method_not_allowed
     │    │    ├── CallEnded         call_ended
     │    │    └── CallFull          call_full
     │    ├── PayloadTooLarge        payload_too_large, unsupported_media_type,
     │    │                          headers_too_large
     │    ├── RateLimited            rate_limited, server_busy (retry_after: seconds)
     │    └── ServerError            internal, request_timeout, and anything unknown
     ├── CallStateError              the SDK was asked something the call's state forbids
     ├── DeviceError                 a camera, microphone or speaker cannot be used
     └── MediaFailed                 the call's media broke and rejoining did not help

Every error has ``message``: the coordinator's ``detail``, a sentence a person can read.
"""

from __future__ import annotations

from typing import Any

from desktop_app.protocol.errors import ErrorCode


class ParleyError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionFailed(ParleyError):
    pass


class CallStateError(ParleyError):
    pass


class DeviceError(ParleyError):
    """Missing, unplugged or busy: ``message`` says which device and what happened."""


class MediaFailed(ParleyError):
    pass


class ApiError(ParleyError):
    def __init__(
        self, message: str, code: str, status: int, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.errors = errors or []


class InvalidInput(ApiError):
    pass


class Unauthenticated(ApiError):
    pass


class TokenExpired(Unauthenticated):
    pass


class NotAllowed(ApiError):
    pass


class Backstage(NotAllowed):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class CallEnded(Conflict):
    pass


class CallFull(Conflict):
    pass


class PayloadTooLarge(ApiError):
    pass


class RateLimited(ApiError):
    #: Seconds the server asks to wait (its ``Retry-After``), when it said.
    retry_after: float | None = None


class ServerError(ApiError):
    pass


#: Every code of the wire's ``ErrorCode`` and the error it becomes (a test keeps it whole).
BY_CODE: dict[ErrorCode, type[ApiError]] = {
    ErrorCode.INVALID_INPUT: InvalidInput,
    ErrorCode.UNAUTHENTICATED: Unauthenticated,
    ErrorCode.TOKEN_EXPIRED: TokenExpired,
    ErrorCode.NOT_ALLOWED: NotAllowed,
    ErrorCode.BACKSTAGE: Backstage,
    ErrorCode.NOT_FOUND: NotFound,
    ErrorCode.CONFLICT: Conflict,
    ErrorCode.METHOD_NOT_ALLOWED: Conflict,
    ErrorCode.CALL_ENDED: CallEnded,
    ErrorCode.CALL_FULL: CallFull,
    ErrorCode.PAYLOAD_TOO_LARGE: PayloadTooLarge,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: PayloadTooLarge,
    ErrorCode.RATE_LIMITED: RateLimited,
    ErrorCode.HEADERS_TOO_LARGE: PayloadTooLarge,
    ErrorCode.REQUEST_TIMEOUT: ServerError,
    ErrorCode.SERVER_BUSY: RateLimited,
    ErrorCode.INTERNAL: ServerError,
}


def error_from_problem(status: int, problem: Any) -> ApiError:
    """The error for a problem document (or for any answer that is not one)."""
    if isinstance(problem, dict) and isinstance(problem.get("code"), str):
        try:
            cls = BY_CODE[ErrorCode(problem["code"])]
        except ValueError:  # a code from a newer coordinator
            cls = ServerError
        detail = str(problem.get("detail") or problem.get("title") or "The server refused.")
        errors = problem.get("errors") if isinstance(problem.get("errors"), list) else None
        return cls(detail, problem["code"], status, errors)
    return ServerError(f"The server answered with status {status}.", "internal", status)
