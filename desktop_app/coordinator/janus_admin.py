"""The coordinator's line to its Janus servers: make, open and destroy VideoRoom rooms.

Each operation opens its own WebSocket (subprotocol ``janus-protocol``), makes a Janus
session, attaches the VideoRoom plugin, sends its requests and destroys the session: a
handful of round trips on the media network, and nothing to keep alive between calls.
A server that cannot be reached, or answers with nonsense, raises :class:`JanusDown`; one
that took the connection but did not answer in time raises :class:`JanusSlow` (a kind of
``JanusDown``: busy, not dead — see :mod:`.media_rooms`); a refusal (wrong admin key, a room that is not there) raises :class:`JanusRefused`.

Rooms are private (``is_private``: not listed), let in only a token from their
``allowed`` list (publishers and subscribers alike), ask each subscription for the private id
of a publisher in the room (``require_pvtid``), and are
edited or destroyed only with their ``secret``; only the admin key makes them (``admin_key`` in the plugin's
configuration, ``packaging/janus/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import websockets

log = logging.getLogger(__name__)

SUBPROTOCOL = "janus-protocol"
VIDEOROOM = "janus.plugin.videoroom"
#: How long one operation may take before the server counts as down.
OPERATION_SECONDS = 3.0
#: Janus's VideoRoom error for "no such room".
NO_SUCH_ROOM = 426
#: … and for "no such publisher".
NO_SUCH_FEED = 428

Request = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class JanusDown(Exception):
    """The server did not answer (connection refused, timed out, closed, not Janus)."""


class JanusSlow(JanusDown):
    """The server took the WebSocket connection but did not finish in time: alive, and
    busy (a loaded machine), so not to be passed over as a dead one."""


class JanusRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus refused ({code}): {reason}")
        self.code = code


class JanusAdmin:
    def __init__(self, admin_key: str | None, seconds: float = OPERATION_SECONDS) -> None:
        self.admin_key = admin_key
        self.seconds = seconds

    async def create_room(
        self, url: str, room: str, secret: str, tokens: list[str], publishers: int
    ) -> None:
        body: dict[str, Any] = {
            "request": "create",
            "room": room,
            "secret": secret,
            "is_private": True,
            # A subscription must name a publisher of the room (its private id): a token
            # alone does not let anyone watch. (Janus 1.1 does not end a kicked
            # publisher's subscriptions, measured: see docs/decisions.md.)
            "require_pvtid": True,
            "allowed": tokens,
            "publishers": publishers,
            "notify_joining": False,
            "permanent": False,
        }
        if self.admin_key:
            body["admin_key"] = self.admin_key
        await self._run(url, [body])

    async def allow(self, url: str, room: str, secret: str, tokens: list[str]) -> None:
        await self._run(
            url,
            [{"request": "allowed", "room": room, "secret": secret, "action": "add",
              "allowed": tokens}],
        )  # fmt: skip

    async def disallow(self, url: str, room: str, secret: str, tokens: list[str]) -> None:
        await self._run(
            url,
            [{"request": "allowed", "room": room, "secret": secret, "action": "remove",
              "allowed": tokens}],
        )  # fmt: skip

    async def kick(self, url: str, room: str, secret: str, publisher: str) -> None:
        """Out of the room, if still in it (a publisher that left already is fine)."""
        try:
            await self._run(url, [{"request": "kick", "room": room, "secret": secret,
                                   "id": publisher}])  # fmt: skip
        except JanusRefused as refused:
            if refused.code != NO_SUCH_FEED:
                raise

    async def destroy_room(self, url: str, room: str, secret: str) -> None:
        try:
            await self._run(url, [{"request": "destroy", "room": room, "secret": secret}])
        except JanusRefused as refused:
            if refused.code != NO_SUCH_ROOM:  # gone already (Janus restarted): fine
                raise

    async def reachable(self, url: str) -> bool:
        try:
            await asyncio.wait_for(self._info(url), self.seconds)
        except (JanusDown, TimeoutError, OSError, websockets.WebSocketException):
            return False
        return True

    # --- inside ------------------------------------------------------------------------

    async def _info(self, url: str) -> None:
        async with websockets.connect(url, subprotocols=[SUBPROTOCOL]) as socket:  # type: ignore[list-item]
            await socket.send(json.dumps({"janus": "info", "transaction": "info"}))
            reply = json.loads(await socket.recv())
            if not isinstance(reply, dict) or reply.get("janus") != "server_info":
                raise JanusDown(f"{url} is not a Janus server")

    async def _run(self, url: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        connected = asyncio.Event()
        answers: list[dict[str, Any]] | None = None
        try:
            async with asyncio.timeout(self.seconds), self._videoroom(url, connected) as request:
                answers = [await request(body) for body in bodies]
            return answers
        except JanusRefused:
            raise
        except TimeoutError as e:
            if answers is not None:
                return answers  # done; only the Janus session's clean-up was late
            kind = JanusSlow if connected.is_set() else JanusDown
            raise kind(f"{url}: no answer in {self.seconds} s") from e
        except (OSError, ValueError, KeyError, websockets.WebSocketException) as e:
            raise JanusDown(f"{url}: {type(e).__name__}: {e}") from e

    @contextlib.asynccontextmanager
    async def _videoroom(self, url: str, connected: asyncio.Event) -> AsyncIterator[Request]:
        async with websockets.connect(url, subprotocols=[SUBPROTOCOL]) as socket:  # type: ignore[list-item]
            connected.set()

            async def call(message: dict[str, Any]) -> dict[str, Any]:
                transaction = secrets.token_hex(6)
                await socket.send(json.dumps({**message, "transaction": transaction}))
                while True:
                    reply = json.loads(await socket.recv())
                    if isinstance(reply, dict) and reply.get("transaction") == transaction:
                        if reply.get("janus") == "ack":
                            continue
                        if reply.get("janus") == "error":
                            error = reply.get("error", {})
                            raise JanusRefused(int(error.get("code", 0)), str(error.get("reason")))
                        return reply

            session = (await call({"janus": "create"}))["data"]["id"]
            handle = (await call({"janus": "attach", "plugin": VIDEOROOM, "session_id": session}))[
                "data"
            ]["id"]

            async def request(body: dict[str, Any]) -> dict[str, Any]:
                reply = await call(
                    {"janus": "message", "session_id": session, "handle_id": handle, "body": body}
                )
                data = reply.get("plugindata", {}).get("data", {})
                if "error_code" in data:
                    raise JanusRefused(int(data["error_code"]), str(data.get("error")))
                return dict(data)

            try:
                yield request
            finally:
                with contextlib.suppress(Exception):
                    await call({"janus": "destroy", "session_id": session})
