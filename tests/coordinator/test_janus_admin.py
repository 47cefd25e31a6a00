"""``coordinator/janus_admin.py`` against real sockets: a server that is not there is
down; one that takes the connection and never answers is slow (alive, busy) — the
coordinator passes over the first and not the second. (Real Janus: tests/sfu.)"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
import websockets

from desktop_app.coordinator.janus_admin import SUBPROTOCOL, JanusAdmin, JanusDown, JanusSlow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_nobody_listening_is_down_and_a_silent_server_is_slow() -> None:
    admin = JanusAdmin("key", seconds=0.5)
    nobody = f"ws://127.0.0.1:{_free_port()}"
    with pytest.raises(JanusDown) as down:
        await admin.create_room(nobody, "r1", "s", ["t"], 4)
    assert not isinstance(down.value, JanusSlow)

    heard: list[str] = []

    async def silent(connection: websockets.ServerConnection) -> None:
        async for message in connection:  # reads, never answers: a Janus too busy
            heard.append(str(message))

    async with websockets.serve(silent, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:  # type: ignore[list-item]
        port = next(iter(server.sockets)).getsockname()[1]
        with pytest.raises(JanusSlow):
            await admin.create_room(f"ws://127.0.0.1:{port}", "r1", "s", ["t"], 4)
    assert heard and '"create"' in heard[0], "the request reached it"
    await asyncio.sleep(0)


async def test_an_operation_done_is_done_though_its_clean_up_answers_late() -> None:
    """The room was made; only the Janus session's destroy went unanswered: not slow (a
    retry would make a second room)."""
    admin = JanusAdmin("key", seconds=0.5)

    async def answers_all_but_destroy(connection: websockets.ServerConnection) -> None:
        async for raw in connection:
            message = json.loads(raw)
            reply: dict[str, object] = {"transaction": message["transaction"]}
            if message["janus"] == "create":
                reply |= {"janus": "success", "data": {"id": 1}}
            elif message["janus"] == "attach":
                reply |= {"janus": "success", "data": {"id": 2}}
            elif message["janus"] == "message":
                reply |= {"janus": "success", "plugindata": {"data": {"videoroom": "created"}}}
            else:
                continue  # destroy: never answered
            await connection.send(json.dumps(reply))

    async with websockets.serve(
        answers_all_but_destroy,
        "127.0.0.1",
        0,
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        await admin.create_room(f"ws://127.0.0.1:{port}", "r1", "s", ["t"], 4)
