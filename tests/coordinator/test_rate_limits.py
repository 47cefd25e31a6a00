"""Request budgets with the deployment's own numbers: a flood from one token is cut off
with 429 and Retry-After while another user goes on unhindered; random tokens open no
fresh budgets; addresses have their own; the SDK waits as told and tries again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desktop_app.coordinator.config import CoordinatorConfig, RateLimitSettings
from desktop_app.sdk import VideoClient
from desktop_app.sdk.errors import RateLimited
from tests.support.coordinator import RunningCoordinator, running, unique


def _config(tmp_path: Path, limits: RateLimitSettings) -> CoordinatorConfig:
    return CoordinatorConfig(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}",
        secret="rate-limit-secret-0123456789abcdef012345",
        data_dir=tmp_path,
        rate_limits=limits,
    )


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[RunningCoordinator]:
    limits = RateLimitSettings(user="20/second", server="40/second", address="1000/second")
    async with running(_config(tmp_path, limits)) as coordinator:
        yield coordinator


async def test_a_flood_from_one_token_is_cut_off_and_others_go_on(
    limited: RunningCoordinator,
) -> None:
    flooder, other = limited.api("mallory"), limited.api("alice")
    path = f"/v1/calls/default/{unique()}"
    await other.post(path, {})
    answers = await asyncio.gather(*(flooder.client.get("/v1/users") for _ in range(60)))
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) >= 30, [r.status_code for r in answers]
    problem = refused[0].json()
    assert problem["code"] == "rate_limited" and "try again" in problem["detail"]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    status, _ = await other.get(path)
    assert status == 200, "another user's budget is their own"


async def test_random_tokens_open_no_fresh_budgets(tmp_path: Path) -> None:
    # A minute-long window: the check after the burst cannot fall into a fresh second.
    limits = RateLimitSettings(user="1000/second", server="1000/second", address="30/minute")
    async with running(_config(tmp_path, limits)) as coordinator:
        client = coordinator.api("alice").client
        forged = [
            client.get("/v1/users", headers={"Authorization": f"Bearer forged-{i}"})
            for i in range(60)
        ]
        answers = [r.status_code for r in await asyncio.gather(*forged)]
        assert answers.count(401) <= 30 and answers.count(429) >= 30, answers
        response = await coordinator.api("alice").client.get("/healthz")
        assert response.status_code == 429, "the address's budget covers every request"


async def test_the_sdk_waits_as_told_and_tries_again(limited: RunningCoordinator) -> None:
    client = VideoClient(
        {"id": "sam", "name": "Sam"},
        token=limited.user_token("sam"),
        base_url=limited.base_url,
    )
    await client.connect()
    try:
        results = await asyncio.gather(
            *(client.connection.request("GET", "/v1/users") for _ in range(45)),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert failures == [], failures[:1]
    finally:
        await client.disconnect()


async def test_the_sdk_gives_up_with_a_sentence_after_waiting_enough(tmp_path: Path) -> None:
    limits = RateLimitSettings(user="1/hour", server="1/hour", address="1000/second")
    async with running(_config(tmp_path, limits)) as coordinator:
        client = VideoClient(
            {"id": "sam", "name": "Sam"},
            token=coordinator.user_token("sam"),
            base_url=coordinator.base_url,
        )
        await client.connection.request("GET", "/v1/users")
        with pytest.raises(RateLimited) as raised:
            await client.connection.request("GET", "/v1/users")
        assert "try again" in raised.value.message
        assert raised.value.retry_after is not None and raised.value.retry_after > 5
        await client.disconnect()


async def test_websocket_messages_spend_the_same_budget(limited: RunningCoordinator) -> None:
    """3,000 messages over one socket ran 3,000 transactions; now they are counted."""
    ws = await limited.ws("mallory")
    for _ in range(60):
        await ws.send({"type": "participant.update", "call_cid": "default:x", "session_id": "s"})
    refused = await ws.wait_for("connection.error", code="rate_limited")
    assert "try again" in refused["detail"]
    await ws.send({"type": "ping"})
    await ws.wait_for("pong")  # pings are free, and the socket stays open
    await ws.close()
