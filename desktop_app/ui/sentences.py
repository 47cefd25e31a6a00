"""Errors as sentences a person can read (the UI never shows a traceback)."""

from __future__ import annotations

import logging

from desktop_app.sdk.errors import (
    ApiError,
    Backstage,
    CallEnded,
    CallFull,
    CallStateError,
    ConnectionFailed,
    DeviceError,
    NotAllowed,
    NotFound,
    ParleyError,
    TokenExpired,
    Unauthenticated,
)

log = logging.getLogger(__name__)


def sentence(error: BaseException) -> str:
    if isinstance(error, ConnectionFailed):
        return "The server can't be reached. Check its address and your network, then try again."
    if isinstance(error, TokenExpired):
        return "Your sign-in has expired. Please sign in again."
    if isinstance(error, Unauthenticated):
        return "The server did not accept your sign-in. Check the token, or sign in again."
    if isinstance(error, Backstage):
        return "This call has not started yet: the host is still backstage."
    if isinstance(error, NotAllowed):
        return f"You are not allowed to do that. {error.message}"
    if isinstance(error, CallEnded):
        return "This call has ended."
    if isinstance(error, CallFull):
        return f"This call is full. {error.message}"
    if isinstance(error, NotFound):
        return f"Not found. {error.message}"
    if isinstance(error, DeviceError):
        return error.message
    if isinstance(error, CallStateError | ApiError | ParleyError):
        return error.message
    if isinstance(error, TimeoutError):
        return "The server took too long to answer. Please try again."
    log.error("unexpected error", exc_info=error)
    return "Something went wrong. Please try again."
