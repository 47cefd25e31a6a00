"""The event WebSocket: authentication, keep-alive, and what happens to silent peers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from pathlib import Path

import websockets

from desktop_app.coordinator.config import CoordinatorConfig
from tests.conftest import make_config
from tests.support.coordinator import RunningCoordinator, running, unique


async def _first_answer(coordinator: RunningCoordinator, message: str) -> dict[str, object]:
    async with websockets.connect(coordinator.ws_url) as socket:
        await socket.send(message)
        answer = json.loads(await asyncio.wait_for(socket.recv(), 5))
        try:
            await asyncio.wait_for(socket.recv(), 5)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4001
        return dict(answer)


async def test_first_message_must_authenticate(coordinator: RunningCoordinator) -> None:
    for message in (
        "hello",
        json.dumps({"type": "ping"}),
        json.dumps({"type": "auth"}),
        json.dumps([1, 2]),
    ):
        answer = await _first_answer(coordinator, message)
        assert answer["type"] == "connection.error" and answer["code"] == "invalid_input", answer
    answer = await _first_answer(coordinator, json.dumps({"type": "auth", "token": "x.y.z"}))
    assert answer["code"] == "unauthenticated"


async def test_connection_ok_upserts_the_user_and_answers_pings(
    coordinator: RunningCoordinator,
) -> None:
    client = await coordinator.ws(
        "dora", user={"name": "Dora", "image": "https://img/d.png", "custom": {"tz": "CET"}}
    )
    status, body = await coordinator.api("dora").get("/v1/users/dora")
    assert body["user"]["name"] == "Dora" and body["user"]["custom"] == {"tz": "CET"}
    await client.send({"type": "ping"})
    assert await client.wait_for("pong")
    await client.send({"type": "subscribe"})
    error = await client.wait_for("connection.error")
    assert "ping" in error["detail"]
    assert not client.closed.is_set(), "an unknown message does not close the connection"
    await client.close()


async def test_oversize_custom_in_auth_is_refused(coordinator: RunningCoordinator) -> None:
    answer = await _first_answer(
        coordinator,
        json.dumps(
            {
                "type": "auth",
                "token": coordinator.user_token("eve"),
                "user": {"id": "eve", "custom": {"b": "x" * 6000}},
            }
        ),
    )
    assert answer["code"] == "invalid_input"


async def test_member_events_reach_every_device(coordinator: RunningCoordinator) -> None:
    phone = await coordinator.ws("fay")
    laptop = await coordinator.ws("fay")
    assert phone.connection_id != laptop.connection_id
    await coordinator.api("gus").post(
        f"/v1/calls/default/{unique()}", {"data": {"members": [{"user_id": "fay"}]}}
    )
    await phone.wait_for("call.created")
    await laptop.wait_for("call.created")
    await phone.close()
    await laptop.close()


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    mask = os.urandom(4)
    header = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def test_silent_peer_is_closed_and_leaves_its_calls(tmp_path: Path) -> None:
    """A client that never answers pings is disconnected, then leaves after the grace period."""
    config: CoordinatorConfig = make_config(tmp_path, f"sqlite:///{tmp_path / 'c.sqlite3'}")
    async with running(config, ws_ping=0.4) as coordinator:
        port = int(coordinator.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        auth = {"type": "auth", "token": coordinator.user_token("mute"), "user": {"id": "mute"}}
        writer.write(_frame(json.dumps(auth).encode()))
        await writer.drain()
        head = await reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await reader.readexactly(2))
        body = json.loads(await reader.readexactly(length))
        connection_id = body["connection_id"]

        watcher = await coordinator.ws("host")
        path = f"/v1/calls/default/{unique()}"
        await coordinator.api("host").post(
            f"{path}/join",
            {"create": True, "data": {"members": [{"user_id": "mute"}]}},
            params={"connection_id": watcher.connection_id},
        )
        status, _ = await coordinator.api("mute").post(
            f"{path}/join", {}, params={"connection_id": connection_id}
        )
        assert status == 200
        # never read, never pong: the server's keep-alive gives up and closes
        left = await watcher.wait_for("call.participant_left", timeout=10)
        assert left["participant"]["user_id"] == "mute" and left["reason"] == "disconnected"
        writer.close()
        await watcher.close()
