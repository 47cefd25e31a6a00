"""Refuse request bodies over the size limit, and JSON bodies that break the wire's JSON
rule (:mod:`desktop_app.protocol.wire_json`), before any handler parses them: one check
at the edge for every route, so no operation can store a value that later breaks reads."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop_app.protocol import ErrorCode, FieldError
from desktop_app.protocol.wire_json import WireJsonError, parse_wire_json

from .problems import ApiError, problem_response


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        #: Seconds the whole body may take (a body trickled a byte a second holds a
        #: connection and a task for nothing).
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The request body is larger than {self.max_bytes // 1024} KiB.",
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await problem_response(too_large)(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        try:
            async with asyncio.timeout(self.timeout):
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        # Not closing: a client that sends its whole body before reading
                        # would lose the answer to a reset connection.
                        await problem_response(too_large)(scope, receive, send)
                        return
                    chunks.append(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            slow = ApiError(
                ErrorCode.REQUEST_TIMEOUT,
                f"The request body did not arrive within {self.timeout:g} seconds.",
            )
            await problem_response(slow, {"Connection": "close"})(scope, receive, send)
            return
        body = b"".join(chunks)
        if body and _is_json(scope):
            try:
                parse_wire_json(body)
            except WireJsonError as error:
                await problem_response(_invalid(error))(scope, receive, send)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _is_json(scope: Scope) -> bool:
    """FastAPI reads a body without a content type as JSON, too."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return b"json" in value.lower()
    return True


def _invalid(error: WireJsonError) -> ApiError:
    if error.path:
        detail = f"The field '{error.path}' {error.message}."
    else:
        detail = f"The request body {error.message}."
    field = error.path or "body"
    return ApiError(
        ErrorCode.INVALID_INPUT, detail, [FieldError(field=field, message=error.message)]
    )
