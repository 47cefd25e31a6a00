"""Baseline of bench_ring.py: the least a server can do to fan a ring out — keep each
user's WebSocket, and on ``POST /ring/{user}`` send that user one small JSON message."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

SOCKETS: dict[str, set[WebSocket]] = {}


async def index(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def events(websocket: WebSocket) -> None:
    user = websocket.path_params["user"]
    await websocket.accept()
    SOCKETS.setdefault(user, set()).add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        SOCKETS[user].discard(websocket)


async def ring(request: Request) -> JSONResponse:
    body = await request.json()
    message = json.dumps({"type": "call.ring", "call_cid": body["call_cid"]})
    for websocket in list(SOCKETS.get(request.path_params["user"], ())):
        await websocket.send_text(message)
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route("/", index),
        Route("/ring/{user}", ring, methods=["POST"]),
        WebSocketRoute("/ws/{user}", events),
    ]
)
