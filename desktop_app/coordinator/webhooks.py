"""Webhooks: ring, notification, missed, accepted, rejected and ended events POSTed to the
deployment's URL, so that it can bridge to push services.

Delivery happens off the request path: publishing only puts the event on a bounded queue,
and one worker task delivers in order, retrying failures with growing delays. A slow or
failing receiver never slows or fails the API; when the queue is full the oldest delivery
is dropped (and logged). Each request carries

* ``X-Parley-Signature: sha256=<hex HMAC-SHA256 of the body with the deployment secret>``,
* ``X-Parley-Delivery`` (a unique id, the same on every retry) and ``X-Parley-Event``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from desktop_app.protocol.app import AppSettings

log = logging.getLogger(__name__)

WEBHOOK_EVENT_TYPES = frozenset(
    {
        "call.ring",
        "call.notification",
        "call.missed",
        "call.accepted",
        "call.rejected",
        "call.ended",
    }
)
QUEUE_LIMIT = 10_000
TIMEOUT_SECONDS = 5.0


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    id: str
    event_type: str
    body: bytes
    attempts: int = 0


class WebhookDispatcher:
    def __init__(
        self,
        secret: str,
        settings: Callable[[], Awaitable[AppSettings]],
        fallback_url: str | None = None,
        retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
    ) -> None:
        self.secret = secret
        self.settings = settings
        self.fallback_url = fallback_url
        self.retry_delays = retry_delays
        self._queue: deque[Delivery] = deque()
        self._ready = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._url: str | None = None
        self._events: frozenset[str] = WEBHOOK_EVENT_TYPES
        self.delivered = 0
        self.dropped = 0

    def configure(self, app: AppSettings) -> None:
        """Take the current URL and event filter (called at start and on every change)."""
        self._url = app.webhook_url or self.fallback_url
        wanted = frozenset(app.webhook_events) & WEBHOOK_EVENT_TYPES
        self._events = wanted or WEBHOOK_EVENT_TYPES

    def offer(self, event_type: str, payload: str) -> None:
        """Queue an event if a webhook wants it; never blocks, never raises."""
        if self._url is None or event_type not in self._events:
            return
        if len(self._queue) >= QUEUE_LIMIT:
            lost = self._queue.popleft()
            self.dropped += 1
            log.warning("webhook queue full; dropped delivery %s (%s)", lost.id, lost.event_type)
        self._queue.append(Delivery(secrets.token_hex(16), event_type, payload.encode()))
        self._ready.set()

    async def start(self) -> None:
        self.configure(await self.settings())
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="webhooks")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            delivery = self._queue.popleft()
            while not await self._attempt(delivery):
                if delivery.attempts > len(self.retry_delays):
                    log.warning(
                        "webhook delivery %s given up after %d attempts",
                        delivery.id,
                        delivery.attempts,
                    )
                    break
                await asyncio.sleep(self.retry_delays[delivery.attempts - 1])

    async def _attempt(self, delivery: Delivery) -> bool:
        url = self._url
        if url is None or self._client is None:
            return True
        delivery.attempts += 1
        headers = {
            "Content-Type": "application/json",
            "X-Parley-Signature": signature(self.secret, delivery.body),
            "X-Parley-Delivery": delivery.id,
            "X-Parley-Event": delivery.event_type,
        }
        try:
            response = await self._client.post(url, content=delivery.body, headers=headers)
        except httpx.HTTPError as exc:
            log.info("webhook delivery %s failed: %s", delivery.id, exc)
            return False
        if response.status_code >= 300:
            log.info("webhook delivery %s answered %s", delivery.id, response.status_code)
            return False
        self.delivered += 1
        return True
