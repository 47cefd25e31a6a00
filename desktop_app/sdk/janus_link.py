"""The SDK's line to a Janus server: one WebSocket, one Janus session on it, plugin handles.

Janus's WebSocket API (subprotocol ``janus-protocol``) answers a request by its
``transaction``: a synchronous request with ``success`` (or ``error``), an asynchronous one
(a VideoRoom ``join``, ``publish``, ``start``, ``subscribe`` …) with ``ack`` and later an
``event`` carrying the same transaction. :meth:`JanusHandle.request` returns whichever
settles it, with the SDP (``jsep``) that came along. Everything else — a publisher that
arrives or leaves, a subscriber offer Janus sends by itself when a feed goes away,
``webrtcup``, ``media``, ``hangup`` — goes to the handle's ``on_event``.

The session lives while a keepalive goes out every :data:`KEEPALIVE_SECONDS` (Janus
drops a silent one after its ``session_timeout``, 60 s by default). When the socket
closes or the session times out, :attr:`JanusLink.closed` is set and ``on_close`` is told:
whatever the SFU session built on it has failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

log = logging.getLogger(__name__)

SUBPROTOCOL = "janus-protocol"
VIDEOROOM = "janus.plugin.videoroom"
KEEPALIVE_SECONDS = 25.0
#: How long a request may wait for its answer (joining a room includes Janus's own work).
REQUEST_SECONDS = 10.0
CONNECT_SECONDS = 5.0

#: An event for one handle: (Janus's message, the plugin's data in it, the jsep or None).
EventListener = Callable[[dict[str, Any], dict[str, Any], dict[str, Any] | None], None]


class JanusError(Exception):
    """Janus, or its plugin, refused a request (``code`` is Janus's number)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class Reply:
    data: dict[str, Any]
    jsep: dict[str, Any] | None


def plugin_data(message: dict[str, Any]) -> dict[str, Any]:
    data = message.get("plugindata", {}).get("data", {})
    return data if isinstance(data, dict) else {}


def settle(message: dict[str, Any]) -> Reply:
    """The reply a message carries for a request, or the error it reports (pure)."""
    if message.get("janus") == "error":
        error = message.get("error", {})
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown")))
    data = plugin_data(message)
    if "error_code" in data or "error" in data:
        raise JanusError(int(data.get("error_code", 0)), str(data.get("error", "unknown")))
    jsep = message.get("jsep")
    return Reply(data if data else dict(message.get("data", {})), jsep)


@dataclass
class JanusHandle:
    link: JanusLink
    id: int
    on_event: EventListener | None = None
    detached: bool = field(default=False)

    async def request(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> Reply:
        message: dict[str, Any] = {"janus": "message", "handle_id": self.id, "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        return await self.link.send(message)

    async def detach(self) -> None:
        if self.detached or self.link.closed.is_set():
            return
        self.detached = True
        with contextlib.suppress(JanusError, ConnectionError, TimeoutError):
            await self.link.send({"janus": "detach", "handle_id": self.id})
        self.link.handles.pop(self.id, None)


class JanusLink:
    def __init__(self, socket: Any, on_close: Callable[[], None] | None = None) -> None:
        self._socket = socket
        self.on_close = on_close
        self.session_id = 0
        self.handles: dict[int, JanusHandle] = {}
        self.closed = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        #: Requests whose answer is Janus's ``ack`` itself (keepalives).
        self._acked: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._closer: asyncio.Future[None] | None = None

    @classmethod
    async def open(cls, url: str, on_close: Callable[[], None] | None = None) -> JanusLink:
        socket = await asyncio.wait_for(
            websockets.connect(url, subprotocols=[SUBPROTOCOL], max_size=2**22),  # type: ignore[list-item]
            CONNECT_SECONDS,
        )
        link = cls(socket, on_close)
        link._reader = asyncio.ensure_future(link._read())
        try:
            created = await link.send({"janus": "create"})
            link.session_id = int(created.data["id"])
        except BaseException:
            await link.close()
            raise
        link._keepalive = asyncio.ensure_future(link._keep_alive())
        return link

    async def attach(self, on_event: EventListener | None = None) -> JanusHandle:
        attached = await self.send({"janus": "attach", "plugin": VIDEOROOM})
        handle = JanusHandle(self, int(attached.data["id"]), on_event)
        self.handles[handle.id] = handle
        return handle

    async def send(self, message: dict[str, Any], *, acked: bool = False) -> Reply:
        """Send a request and return its reply; ``acked``: Janus's ``ack`` is the whole
        answer (a keepalive), not the promise of an event."""
        if self.closed.is_set():
            raise ConnectionError("the line to the media server is closed")
        transaction = secrets.token_hex(8)
        message = {**message, "transaction": transaction}
        if self.session_id:
            message["session_id"] = self.session_id
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = waiter
        if acked:
            self._acked.add(transaction)
        try:
            await self._socket.send(json.dumps(message))
            return await asyncio.wait_for(asyncio.shield(waiter), REQUEST_SECONDS)
        finally:
            self._pending.pop(transaction, None)
            self._acked.discard(transaction)

    async def close(self) -> None:
        """Destroy the Janus session (its handles leave their rooms) and close the socket."""
        if self._keepalive is not None:
            self._keepalive.cancel()
        if not self.closed.is_set() and self.session_id:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send({"janus": "destroy"}), 2.0)
        with contextlib.suppress(Exception):
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._finish(tell=False)

    # --- inside ------------------------------------------------------------------------

    async def _keep_alive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await self.send({"janus": "keepalive"}, acked=True)
            except (ConnectionError, TimeoutError, JanusError):
                log.info("media server keepalive unanswered")
                await self._socket.close()
                return

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.info("media server sent something that is not JSON")
                    continue
                if isinstance(message, dict):
                    self._route(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self._finish(tell=True)

    def _route(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        transaction = message.get("transaction")
        waiter = self._pending.get(transaction) if isinstance(transaction, str) else None
        if kind == "ack":
            if waiter is not None and not waiter.done() and transaction in self._acked:
                waiter.set_result(Reply({}, None))
            return  # (otherwise an asynchronous request: its event follows)
        if waiter is not None and not waiter.done() and kind in ("success", "error", "event"):
            try:
                waiter.set_result(settle(message))
            except JanusError as error:
                waiter.set_exception(error)
            return
        if kind == "timeout":
            log.info("the media server timed our session out")
            self._closer = asyncio.ensure_future(self._socket.close())  # the reader ends
            return
        handle = self.handles.get(message.get("sender", 0))
        if handle is not None and handle.on_event is not None:
            handle.on_event(message, plugin_data(message), message.get("jsep"))

    def _finish(self, *, tell: bool) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self._keepalive is not None:
            self._keepalive.cancel()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError("the line to the media server closed"))
        if tell and self.on_close is not None:
            self.on_close()
