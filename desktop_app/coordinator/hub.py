"""Live connections and who hears which event.

Members of a call hear its membership, ring and end events on every connection they have;
connections that watch a call hear everything else about it. A connection that drops is
kept *detached* for a grace period so that the same client can resume it (its watches and
participant sessions survive a network blip). Each event is serialized once and queued to
every recipient; a connection that falls too far behind is closed rather than allowed to
slow the others down.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from desktop_app.protocol.events import MEMBER_EVENT_TYPES
from desktop_app.protocol.permissions import Role

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


@dataclass(eq=False)
class Connection:
    id: str
    user_id: str
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    watching: set[str] = field(default_factory=set)
    attached: bool = True
    #: The deployment role its token claims (None: the user's stored role applies).
    role: Role | None = None

    def send(self, payload: str) -> bool:
        """Queue a payload; False (and the connection is told to close) when it is full."""
        if not self.attached:
            return True
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            log.warning("connection %s is too slow; closing it", self.id)
            self.attached = False
            self._drain_and_close()
            return False
        return True

    def _drain_and_close(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}
        self._by_user: dict[str, set[str]] = {}
        self._watchers: dict[str, set[str]] = {}

    # --- connections ----------------------------------------------------------------

    def connect(self, user_id: str, role: Role | None = None) -> Connection:
        connection = Connection(id=secrets.token_hex(12), user_id=user_id, role=role)
        self._connections[connection.id] = connection
        self._by_user.setdefault(user_id, set()).add(connection.id)
        return connection

    def get(self, connection_id: str) -> Connection | None:
        return self._connections.get(connection_id)

    def detach(self, connection_id: str) -> None:
        """The socket is gone, but the connection may still be resumed."""
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.attached = False

    def resume(self, connection_id: str, user_id: str) -> Connection | None:
        connection = self._connections.get(connection_id)
        if connection is None or connection.user_id != user_id or connection.attached:
            return None
        connection.queue = asyncio.Queue(QUEUE_LIMIT)
        connection.attached = True
        return connection

    def adopt(self, connection_id: str, user_id: str, role: Role | None = None) -> Connection:
        """Make a connection under an id this process has never seen (the id of one that
        died with a previous process, whose participant sessions are still stored)."""
        connection = Connection(id=connection_id, user_id=user_id, role=role)
        self._connections[connection.id] = connection
        self._by_user.setdefault(user_id, set()).add(connection.id)
        return connection

    def forget(self, connection_id: str) -> None:
        connection = self._connections.get(connection_id)
        if connection is None:
            return
        for cid in list(connection.watching):
            self.unwatch(connection_id, cid)
        del self._connections[connection_id]
        user_connections = self._by_user.get(connection.user_id)
        if user_connections is not None:
            user_connections.discard(connection_id)
            if not user_connections:
                del self._by_user[connection.user_id]

    def connections_of(self, user_id: str) -> list[Connection]:
        return [self._connections[c] for c in self._by_user.get(user_id, ())]

    def online(self, user_id: str) -> bool:
        """Whether the user has an attached connection (a detached one waiting for its
        client to resume does not count: that app is gone or cut off)."""
        return any(c.attached for c in self.connections_of(user_id))

    def attached_except(self, user_id: str) -> list[str]:
        """The attached connections of everyone but ``user_id``."""
        return [c.id for c in self._connections.values() if c.attached and c.user_id != user_id]

    # --- watching -------------------------------------------------------------------

    def watch(self, connection_id: str, cid: str) -> None:
        connection = self._connections.get(connection_id)
        if connection is None:
            return
        connection.watching.add(cid)
        self._watchers.setdefault(cid, set()).add(connection_id)

    def unwatch(self, connection_id: str, cid: str) -> None:
        connection = self._connections.get(connection_id)
        if connection is not None:
            connection.watching.discard(cid)
        watchers = self._watchers.get(cid)
        if watchers is not None:
            watchers.discard(connection_id)
            if not watchers:
                del self._watchers[cid]

    def watchers_of(self, cid: str) -> list[Connection]:
        return [self._connections[c] for c in self._watchers.get(cid, ()) if c in self._connections]

    def watched_calls(self) -> list[str]:
        return list(self._watchers)

    def unwatch_call(self, cid: str) -> None:
        for connection_id in self._watchers.pop(cid, set()):
            connection = self._connections.get(connection_id)
            if connection is not None:
                connection.watching.discard(cid)

    # --- delivery -------------------------------------------------------------------

    def recipients(
        self, event_type: str, cid: str, member_ids: Iterable[str], watchers: bool = True
    ) -> set[str]:
        targets = set(self._watchers.get(cid, ())) if watchers else set()
        if event_type in MEMBER_EVENT_TYPES:
            for user_id in member_ids:
                targets.update(self._by_user.get(user_id, ()))
        return targets

    def deliver(self, payload: str, connection_ids: Iterable[str]) -> int:
        delivered = 0
        for connection_id in connection_ids:
            connection = self._connections.get(connection_id)
            if connection is not None and connection.send(payload):
                delivered += 1
        return delivered
