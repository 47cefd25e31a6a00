"""SDK tests run against a real coordinator (SQLite) on an ephemeral port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from desktop_app.sdk import ClientOptions, VideoClient
from tests.conftest import make_config
from tests.support.coordinator import RunningCoordinator, running

ClientFactory = Callable[..., Awaitable[VideoClient]]


@pytest.fixture
async def coordinator(tmp_path: Path) -> AsyncIterator[RunningCoordinator]:
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'sdk.sqlite3'}")
    async with running(config) as served:
        yield served


@pytest.fixture
async def connect(coordinator: RunningCoordinator) -> AsyncIterator[ClientFactory]:
    clients: list[VideoClient] = []

    async def factory(
        user_id: str, options: ClientOptions | None = None, **kwargs: object
    ) -> VideoClient:
        token = kwargs.pop("token", None) or coordinator.user_token(user_id)
        client = VideoClient(
            {"id": user_id, "name": user_id.title()},
            token=str(token) if token else None,
            base_url=coordinator.base_url,
            options=options,
            **kwargs,  # type: ignore[arg-type]
        )
        await client.connect()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.disconnect()
