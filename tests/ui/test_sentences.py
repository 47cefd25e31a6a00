"""Every error the UI can meet becomes a sentence, never a traceback or a code."""

from __future__ import annotations

import pytest

from desktop_app.sdk.errors import (
    Backstage,
    CallEnded,
    CallFull,
    ConnectionFailed,
    DeviceError,
    NotAllowed,
    ServerError,
    TokenExpired,
    Unauthenticated,
)
from desktop_app.ui.sentences import sentence


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectionFailed("x"), "The server can't be reached"),
        (TokenExpired("x", "token_expired", 401), "Your sign-in has expired"),
        (Unauthenticated("x", "unauthenticated", 401), "did not accept your sign-in"),
        (Backstage("x", "backstage", 403), "still backstage"),
        (NotAllowed("You may not join this call.", "not_allowed", 403), "You are not allowed"),
        (CallEnded("x", "call_ended", 409), "This call has ended."),
        (CallFull("It holds 4.", "call_full", 409), "This call is full. It holds 4."),
        (
            DeviceError("The camera “USB” is in use by another program."),
            "in use by another program",
        ),
        (ServerError("The server failed.", "internal", 500), "The server failed."),
        (TimeoutError(), "took too long"),
        (KeyError("boom"), "Something went wrong. Please try again."),
    ],
)
def test_errors_become_sentences(error: BaseException, expected: str) -> None:
    text = sentence(error)
    assert expected in text
    assert "Traceback" not in text and "_" not in text.split(".")[0]
