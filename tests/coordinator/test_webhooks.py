"""Webhooks: delivered off the request path, signed, retried, and never in the API's way."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from desktop_app.coordinator.config import CoordinatorConfig
from desktop_app.coordinator.webhooks import WebhookRefused, verify_webhook, webhook_key
from tests.support.coordinator import SECRET, RunningCoordinator, running, serve_app, unique
from tests.support.served import free_port

#: What the deployment's webhook receiver is given: the derived key, not the secret.
KEY = webhook_key(SECRET)


@dataclass
class Receiver:
    """The deployment's own webhook endpoint: checks signatures, may fail on purpose."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        delivery = request.headers["webhook-id"]
        self.attempts[delivery] = self.attempts.get(delivery, 0) + 1
        if self.attempts[delivery] <= self.fail_first:
            return Response(status_code=503)
        try:
            valid = verify_webhook(KEY, dict(request.headers), body) == delivery
        except WebhookRefused:
            valid = False
        self.received.append(
            {
                "valid_signature": valid,
                "headers": dict(request.headers),
                "raw": body,
                "delivery": delivery,
                "event": request.headers["x-parley-event"],
                "body": json.loads(body),
            }
        )
        self.arrived.set()
        return Response(status_code=204)

    async def wait(self, event_type: str, within: float = 10.0) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for item in self.received:
                if item["event"] == event_type:
                    return item
            self.arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, (
                f"no {event_type} webhook; got {[i['event'] for i in self.received]}"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)


async def _serve(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    server, task, port = await serve_app(app)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    yield receiver
    server.should_exit = True
    await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async for served in _serve(Receiver()):
        yield served


@pytest.fixture
async def flaky_receiver() -> AsyncIterator[Receiver]:
    async for served in _serve(Receiver(fail_first=2)):
        yield served


@pytest.fixture
async def fast_retries(config: CoordinatorConfig) -> AsyncIterator[RunningCoordinator]:
    config.webhook_retry_delays = (0.05, 0.1, 0.2)
    async with running(config) as coordinator:
        yield coordinator


async def test_a_captured_delivery_cannot_be_replayed_or_altered(
    fast_retries: RunningCoordinator, receiver: Receiver
) -> None:
    """The signature covers the delivery id and the attempt's time with the body: replayed
    later, re-dated, re-labelled or edited, a captured request is refused."""
    coordinator = fast_retries
    await coordinator.api().patch("/v1/app", {"webhook_url": receiver.url})
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    ring = await receiver.wait("call.ring")
    headers, body = ring["headers"], ring["raw"]
    sent_at = int(headers["webhook-timestamp"])
    assert headers["webhook-signature"].startswith("v1,")
    assert verify_webhook(KEY, headers, body, now=sent_at + 60) == headers["webhook-id"]
    refusals = {
        "replayed ten minutes later": (headers, body, sent_at + 600),
        "re-dated to now": (
            {**headers, "webhook-timestamp": str(sent_at + 600)},
            body,
            sent_at + 600,
        ),
        "another delivery id": ({**headers, "webhook-id": "x" * 32}, body, sent_at),
        "an edited body": (headers, body.replace(b"alice", b"mallory"), sent_at),
        "another secret": (headers, body, sent_at),
        "a signature that is not ASCII": (
            {**headers, "webhook-signature": "v1,ünïcode"},
            body,
            sent_at,
        ),
        "a padded timestamp": ({**headers, "webhook-timestamp": f" {sent_at}"}, body, sent_at),
        "the token secret as the key": (headers, body, sent_at),
    }
    for case, (sent_headers, sent_body, now) in refusals.items():
        key = {
            "another secret": webhook_key("another-secret-entirely-0123456789abcdef"),
            "the token secret as the key": "whsec_" + base64.b64encode(SECRET.encode()).decode(),
        }.get(case, KEY)
        with pytest.raises(WebhookRefused):
            verify_webhook(key, sent_headers, sent_body, now=now)
            pytest.fail(f"accepted: {case}")


async def test_ring_events_are_posted_and_signed(
    fast_retries: RunningCoordinator, receiver: Receiver
) -> None:
    coordinator = fast_retries
    status, body = await coordinator.api().patch("/v1/app", {"webhook_url": receiver.url})
    assert status == 200
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    ring = await receiver.wait("call.ring")
    assert ring["valid_signature"] and ring["body"]["type"] == "call.ring"
    assert ring["body"]["call_cid"] == path.removeprefix("/v1/calls/").replace("/", ":")
    await coordinator.api("bob").post(f"{path}/accept")
    accepted = await receiver.wait("call.accepted")
    assert accepted["valid_signature"] and accepted["body"]["user"]["id"] == "bob"
    await coordinator.api("alice").post(f"{path}/end")
    await receiver.wait("call.ended")
    assert len({item["delivery"] for item in receiver.received}) == len(receiver.received), (
        "unique delivery ids"
    )
    assert "call.created" not in [item["event"] for item in receiver.received], (
        "only ring-related events"
    )


async def test_event_filter(fast_retries: RunningCoordinator, receiver: Receiver) -> None:
    coordinator = fast_retries
    await coordinator.api().patch(
        "/v1/app", {"webhook_url": receiver.url, "webhook_events": ["call.rejected"]}
    )
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    await coordinator.api("bob").post(f"{path}/reject", {"reason": "busy"})
    rejected = await receiver.wait("call.rejected")
    assert rejected["body"]["reason"] == "busy"
    assert [item["event"] for item in receiver.received] == ["call.rejected"]


async def test_failing_receiver_gets_retries_with_the_same_delivery_id(
    fast_retries: RunningCoordinator, flaky_receiver: Receiver
) -> None:
    coordinator = fast_retries
    await coordinator.api().patch("/v1/app", {"webhook_url": flaky_receiver.url})
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    ring = await flaky_receiver.wait("call.ring")
    assert flaky_receiver.attempts[ring["delivery"]] == 3, "two failures, then delivered"


async def test_unreachable_receiver_never_fails_the_api(fast_retries: RunningCoordinator) -> None:
    coordinator = fast_retries
    await coordinator.api().patch(
        "/v1/app", {"webhook_url": f"http://127.0.0.1:{free_port()}/nobody-home"}
    )
    bob = await coordinator.ws("bob")
    path = f"/v1/calls/default/{unique()}"
    for _ in range(3):
        status, _ = await coordinator.api("alice").post(
            path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
        )
        assert status in (200, 201)
        await bob.wait_for("call.ring")
        status, _ = await coordinator.api("bob").post(f"{path}/reject", {"reason": "decline"})
        assert status == 200
    await bob.close()


async def test_webhook_url_from_the_environment(
    tmp_path: Path, receiver: Receiver, database_url: str
) -> None:
    from tests.conftest import make_config

    config = make_config(tmp_path, database_url)
    config.webhook_url = receiver.url  # what PARLEY_WEBHOOK_URL sets
    async with running(config) as coordinator:
        path = f"/v1/calls/default/{unique()}"
        await coordinator.api("alice").post(
            path, {"notify": True, "data": {"members": [{"user_id": "bob"}]}}
        )
        note = await receiver.wait("call.notification")
        assert note["valid_signature"]
