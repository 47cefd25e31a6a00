"""``/v1/ws``: the event stream.

The first message authenticates (``auth`` → ``connection.ok`` or ``connection.error`` and
close). After that the server only pushes events; the client may send ``{"type": "ping"}``
and gets ``{"type": "pong"}``. WebSocket-level pings from the server detect dead peers
(uvicorn's ``ws_ping_interval`` / ``ws_ping_timeout``). When the socket closes, the
connection stays resumable for the grace period, then its participant sessions leave.
A coordinator that restarted knows no connection, but its stored participant sessions
wait one grace period: a client resuming the connection they belong to takes them back
(``resumed`` is false — the watches died with the old process — and the client renews
them by loading its calls again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.events import (
    ConnectionErrorEvent,
    ConnectionOkEvent,
    WsAuthMessage,
    WsPublishMessage,
    WsSignalMessage,
)
from desktop_app.protocol.wire_json import WireJsonError, parse_wire_json

from ..auth import verify_token
from ..hub import Connection
from ..problems import ApiError
from ..state import CoordinatorState
from ..views import user_response

log = logging.getLogger(__name__)
router = APIRouter()

AUTH_TIMEOUT_SECONDS = 10.0
CLOSE_AUTH_FAILED = 4001
CLOSE_SLOW = 4008


async def _refuse(websocket: WebSocket, code: str, detail: str) -> None:
    await websocket.send_text(ConnectionErrorEvent(code=code, detail=detail).model_dump_json())
    await websocket.close(code=CLOSE_AUTH_FAILED, reason=code)


async def _authenticate(websocket: WebSocket, state: CoordinatorState) -> Connection | None:
    try:
        raw = await asyncio.wait_for(_receive(websocket), AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await _refuse(
            websocket, ErrorCode.UNAUTHENTICATED, "No auth message came within 10 seconds."
        )
        return None
    try:
        if raw is None:
            raise ValueError("a binary frame")
        message = WsAuthMessage.model_validate(parse_wire_json(raw))
    except (ValueError, ValidationError):
        await _refuse(
            websocket,
            ErrorCode.INVALID_INPUT,
            'The first message must be {"type": "auth", "token": "<JWT>", "user": {...}}.',
        )
        return None
    try:
        principal = verify_token(state.config.secret, message.token)
        if principal.is_server or principal.user_id is None:
            raise ApiError(
                ErrorCode.NOT_ALLOWED, "Event connections are for users; use a user token."
            )
        if message.user is not None and message.user.id != principal.user_id:
            raise ApiError(ErrorCode.NOT_ALLOWED, "The token is for another user than 'user.id'.")
        actor = await state.admin.actor(principal)
        details = message.user.model_dump(exclude={"id"}) if message.user else {}
        user = await state.admin.upsert_from_connection(actor, details)
    except ApiError as error:
        await _refuse(websocket, error.code, error.detail)
        return None
    connection = None
    if message.resume_connection_id:
        connection = state.hub.resume(message.resume_connection_id, user.id)
        if connection is not None:
            state.scheduler.cancel(f"grace:{connection.id}")
            if connection.role != principal.role:
                connection.role = principal.role  # a new token may claim another role
                await state.watches.recheck(user_ids=[user.id])
    resumed = connection is not None
    if (
        connection is None
        and message.resume_connection_id
        and state.hub.get(message.resume_connection_id) is None
        and await state.sessions.adopt_orphans(message.resume_connection_id, user.id)
    ):
        connection = state.hub.adopt(message.resume_connection_id, user.id, principal.role)
    if connection is None:
        connection = state.hub.connect(user.id, principal.role)
    ok = ConnectionOkEvent(
        connection_id=connection.id, user=user_response(user, teams=True), resumed=resumed
    )
    await websocket.send_text(ok.model_dump_json())
    await state.presence.changed(user.id)
    return connection


async def _pump(websocket: WebSocket, connection: Connection) -> None:
    queue = connection.queue
    while True:
        payload = await queue.get()
        if payload is None:
            await websocket.close(code=CLOSE_SLOW, reason="too slow")
            return
        await websocket.send_text(payload)


@router.websocket("/v1/ws")
async def events(websocket: WebSocket) -> None:
    state: CoordinatorState = websocket.app.state.coordinator
    await websocket.accept()
    try:
        connection = await _authenticate(websocket, state)
    except WebSocketDisconnect:
        return
    if connection is None:
        return
    own_queue = connection.queue  # a later resume swaps the queue; then this socket is stale
    sender = asyncio.create_task(_pump(websocket, connection))
    try:
        while True:
            receiving = asyncio.create_task(_receive(websocket))
            done, _ = await asyncio.wait({receiving, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receiving.cancel()
                break
            try:
                text = receiving.result()
            except (WebSocketDisconnect, RuntimeError):
                break
            await _answer(state, connection, text)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        if state.hub.get(connection.id) is connection and connection.queue is own_queue:
            state.hub.detach(connection.id)
            state.sessions.schedule_grace(connection.id)
        # Also for a connection closed as too slow (detached before this point).
        await state.presence.changed(connection.user_id)


async def _receive(websocket: WebSocket) -> str | None:
    """The next text frame; None for a binary frame (the protocol is JSON text). A closed
    socket raises ``WebSocketDisconnect``."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if isinstance(text, str) else None


async def _answer(state: CoordinatorState, connection: Connection, text: str | None) -> None:
    """Messages a client may send after auth: ping, WebRTC signals, and its publish state.
    A bad message gets a ``connection.error`` event; the connection stays open."""
    message: object = None
    kind = None
    try:
        if text is None:
            raise ApiError(ErrorCode.INVALID_INPUT, "Messages are JSON in text frames.")
        try:
            message = parse_wire_json(text)
        except WireJsonError as bad:
            raise ApiError(ErrorCode.INVALID_INPUT, f"The message: {bad}.") from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind != "ping":  # messages cost what requests cost (signals, publishes)
            await state.limits.charge_user(connection.user_id)
        if kind == "ping":
            connection.send('{"type":"pong"}')
        elif kind == "call.signal":
            await state.signalling.signal(connection, WsSignalMessage.model_validate(message))
        elif kind == "participant.update":
            await state.signalling.publish(connection, WsPublishMessage.model_validate(message))
        else:
            raise ApiError(
                ErrorCode.INVALID_INPUT,
                "Unknown message; send 'ping', 'call.signal' or 'participant.update'.",
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        error = ApiError(
            ErrorCode.INVALID_INPUT,
            f"The {kind} message is not valid: {where} {first.get('msg', '')}.",
        )
        connection.send(
            ConnectionErrorEvent(code=error.code, detail=error.detail).model_dump_json()
        )
    except ApiError as error:
        connection.send(
            ConnectionErrorEvent(code=error.code, detail=error.detail).model_dump_json()
        )
    except Exception:  # a bug must not drop the user's event stream
        log.exception("unexpected error answering a %s message", kind)
        detail = "Something went wrong on the server; nothing was changed."
        connection.send(
            ConnectionErrorEvent(code=ErrorCode.INTERNAL, detail=detail).model_dump_json()
        )
