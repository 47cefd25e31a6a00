"""A real coordinator on an ephemeral port, and clients that talk to it like apps do."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
import websockets

from desktop_app.coordinator.app import create_app
from desktop_app.coordinator.auth import create_server_token, create_user_token
from desktop_app.coordinator.clock import Clock
from desktop_app.coordinator.config import CoordinatorConfig
from desktop_app.coordinator.server import server_options
from desktop_app.protocol.permissions import Role

SECRET = "test-secret-" + "x" * 32


@dataclass
class RunningCoordinator:
    config: CoordinatorConfig
    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://") + "/v1/ws"

    def user_token(self, user_id: str, ttl: int | None = None, role: Role | None = None) -> str:
        return create_user_token(self.config.secret, user_id, ttl, role)

    def server_token(self) -> str:
        return create_server_token(self.config.secret)

    def api(self, user_id: str | None = None, token: str | None = None) -> Api:
        if token is None:
            token = self.server_token() if user_id is None else self.user_token(user_id)
        return Api(
            httpx.AsyncClient(
                base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
        )

    async def ws(self, user_id: str, token: str | None = None, **auth: Any) -> EventClient:
        client = EventClient(self.ws_url)
        ok = await client.connect(
            token or self.user_token(user_id), {"id": user_id, **auth.pop("user", {})}, **auth
        )
        assert ok["type"] == "connection.ok", ok
        return client

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def serve_app(
    app: Any, ws_ping: float = 20.0, config: CoordinatorConfig | None = None
) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """Run an ASGI app under uvicorn on an ephemeral loopback port in this event loop
    (a coordinator's ``config``: served as the command line serves it)."""
    options = server_options(config) if config is not None else {"ws_max_size": 64 * 1024}
    options.update(ws_ping_interval=ws_ping, ws_ping_timeout=ws_ping)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **options)
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    for _ in range(500):  # uvicorn offers no event for "started"
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("server did not start")
    return server, task, server.servers[0].sockets[0].getsockname()[1]


async def start_coordinator(
    config: CoordinatorConfig, ws_ping: float = 20.0, clock: Clock | None = None
) -> RunningCoordinator:
    server, task, port = await serve_app(create_app(config, clock), ws_ping, config)
    return RunningCoordinator(config, server, task, f"http://127.0.0.1:{port}")


@contextlib.asynccontextmanager
async def running(
    config: CoordinatorConfig, ws_ping: float = 20.0, clock: Clock | None = None
) -> AsyncIterator[RunningCoordinator]:
    coordinator = await start_coordinator(config, ws_ping, clock)
    try:
        yield coordinator
    finally:
        await coordinator.stop()


class Api:
    """httpx with a token; ``call`` returns (status, json) so tests can assert both."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = await self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), (
                response.text
            )
        return response.status_code, response.json() if response.content else None

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("POST", path, json=body, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kwargs)

    async def patch(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("PATCH", path, json=body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("PUT", path, json=body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("DELETE", path, **kwargs)

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class EventClient:
    """A real WebSocket client that keeps every event it receives, in order."""

    url: str
    events: list[dict[str, Any]] = field(default_factory=list)
    connection_id: str = ""
    _socket: Any = None
    _reader: asyncio.Task[None] | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(
        self, token: str, user: dict[str, Any] | None, **extra: Any
    ) -> dict[str, Any]:
        self._socket = await websockets.connect(self.url)
        await self._socket.send(json.dumps({"type": "auth", "token": token, "user": user, **extra}))
        first = json.loads(await asyncio.wait_for(self._socket.recv(), 5))
        if first.get("type") == "connection.ok":
            self.connection_id = first["connection_id"]
            self._reader = asyncio.get_running_loop().create_task(self._read())
        return dict(first)

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                self.events.append(json.loads(message))
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._arrived.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self._socket.send(json.dumps(message))

    async def wait_for(self, event_type: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first event of this type (and matching fields) not yet taken."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("type") == event_type and all(
                    event.get(k) == v for k, v in match.items()
                ):
                    return self.events.pop(index)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [e.get("type") for e in self.events]
                raise AssertionError(f"no {event_type} within {timeout}s; have {seen}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def wait_until(
        self, matches: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first event not yet taken that ``matches``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for index, event in enumerate(self.events):
                if matches(event):
                    return self.events.pop(index)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no such event within {timeout}s; have {self.types()}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def expect_none(self, event_type: str, within: float = 0.3) -> None:
        await asyncio.sleep(within)
        assert not [e for e in self.events if e.get("type") == event_type], (
            f"unexpected {event_type}: {self.events}"
        )

    def types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)


def unique(prefix: str = "c") -> str:
    return f"{prefix}{secrets.token_hex(4)}"
