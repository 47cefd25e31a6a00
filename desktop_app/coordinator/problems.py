"""Turning every failure into an RFC 9457 problem response.

Handlers here cover our own ``ApiError``, request validation, unknown routes and methods,
and — as the last line of defence — anything unexpected, which is logged and answered with
a problem too, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from desktop_app.protocol import ERROR_STATUS, PROBLEM_CONTENT_TYPE, ErrorCode, FieldError
from desktop_app.protocol.errors import problem_type_uri

from .store.query import QueryError
from .store.repository import wrote_in_this_task

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A failure to report to the client: a code, a sentence, and optional field errors."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.errors = list(errors) if errors else None
        #: HTTP headers that go with the answer (``Retry-After`` …).
        self.headers = dict(headers or {})

    @property
    def status(self) -> int:
        return ERROR_STATUS[self.code][0]

    def body(self) -> dict[str, Any]:
        status, title = ERROR_STATUS[self.code]
        body: dict[str, Any] = {
            "type": problem_type_uri(self.code),
            "title": title,
            "status": status,
            "detail": self.detail,
            "code": self.code.value,
        }
        if self.errors:
            body["errors"] = [e.model_dump() for e in self.errors]
        return body


def invalid_input(detail: str, field: str | None = None) -> ApiError:
    errors = [FieldError(field=field, message=detail)] if field else None
    return ApiError(ErrorCode.INVALID_INPUT, detail, errors)


def problem_response(error: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    headers = {**error.headers, **(headers or {})}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(
        content=json.dumps(error.body()),
        status_code=error.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _readable(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    if kind == "json_invalid":
        return "the body is not valid JSON"
    message = str(error.get("msg", "is not valid"))
    return message[0].lower() + message[1:] if message else "is not valid"


def validation_problem(errors: Sequence[dict[str, Any]]) -> ApiError:
    field_errors = [
        FieldError(field=_field_path(e.get("loc", ())), message=_readable(e)) for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "The request body is not valid JSON."
    elif any(_field_path(e.get("loc", ())) == "body" for e in errors):
        detail = "The request body must be a JSON object."
    elif len(field_errors) == 1:
        only = field_errors[0]
        detail = f"The field '{only.field}' {only.message}."
    else:
        detail = f"{len(field_errors)} fields of the request are not valid; see 'errors'."
    return ApiError(ErrorCode.INVALID_INPUT, detail, field_errors[:50])


_HTTP_CODES: dict[int, tuple[ErrorCode, str]] = {
    404: (ErrorCode.NOT_FOUND, "There is nothing at this address."),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "This address does not accept that method."),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "The request body is larger than 1 MiB."),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "The request body must be JSON."),
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return problem_response(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(list(exc.errors())))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code, detail = _HTTP_CODES.get(exc.status_code, (ErrorCode.INVALID_INPUT, str(exc.detail)))
        return problem_response(ApiError(code, detail), exc.headers)  # 405 keeps its Allow

    async def on_query(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, QueryError)
        return problem_response(invalid_input(exc.detail, exc.field))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(QueryError, on_query)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _internal() -> ApiError:
    if wrote_in_this_task():
        detail = (
            "Something went wrong on the server after your change was saved; "
            "load it again to see where things stand."
        )
    else:
        detail = "Something went wrong on the server; nothing was changed."
    return ApiError(ErrorCode.INTERNAL, detail)


class UnexpectedErrorMiddleware:
    """A bug answers 500 in the problem shape, and the connection stays usable: Starlette's
    own last-resort handler re-raises after answering, and the server then drops the
    keep-alive connection without saying ``Connection: close``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer is out: only dropping the connection is honest
            await problem_response(_internal())(scope, receive, send)
