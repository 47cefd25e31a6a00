"""Webhooks: ring, notification, missed, accepted, rejected and ended events POSTed to the
deployment's URL, so that it can bridge to push services.

Delivery happens off the request path: publishing only puts the event on a bounded queue,
and one worker task delivers in order, retrying failures with growing delays. A slow or
failing receiver never slows or fails the API; when the queue is full the oldest delivery
is dropped (and logged).

Signing follows the Standard Webhooks scheme, so that a captured request cannot be
replayed: each attempt carries ``webhook-id`` (the delivery's id, the same on every
retry), ``webhook-timestamp`` (the attempt's time, in seconds) and ``webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the deployment secret>``,
plus ``X-Parley-Event``. A receiver checks the signature, refuses timestamps more than
:data:`TOLERANCE_SECONDS` away from its clock, and drops ids it has seen
(:func:`verify_webhook` does the first two).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
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


#: How far a delivery's timestamp may be from the receiver's clock.
TOLERANCE_SECONDS = 300


def webhook_key(secret: str) -> str:
    """The key webhooks are signed with, derived from the deployment secret — a receiver
    holds this, never the secret itself, which signs tokens (``parley-coordinator
    webhook-key`` prints it)."""
    derived = hmac.new(secret.encode(), b"parley webhook signing key v1", hashlib.sha256)
    return "whsec_" + base64.b64encode(derived.digest()).decode()


def _key_bytes(key: str) -> bytes:
    return base64.b64decode(key.removeprefix("whsec_"))


def signature(key: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` over the headers' own text."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key_bytes(key), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookRefused(ValueError):
    """A webhook request that is not (or no longer) one this deployment sent."""


def verify_webhook(
    key: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> str:
    """For receivers, with the ``whsec_`` key: check a delivery's signature and age;
    answers its id (remember the ids seen within the tolerance, and drop repeats).
    Raises :class:`WebhookRefused`."""
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "").split()
    if not delivery_id or not offered or not (stamp.isascii() and stamp.isdigit()):
        raise WebhookRefused("not a signed webhook request")
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        raise WebhookRefused("the delivery's timestamp is too old (or in the future)")
    expected = signature(key, delivery_id, stamp, body).encode()
    if not any(hmac.compare_digest(expected, c.encode("utf-8", "replace")) for c in offered):
        raise WebhookRefused("the signature does not match")
    return delivery_id


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
        self.key = webhook_key(secret)
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
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signature(self.key, delivery.id, timestamp, delivery.body),
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
