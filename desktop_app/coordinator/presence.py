"""Presence: who has a running, signed-in app now, told to everyone else as it changes.

A user is online while at least one of their event streams is attached. The WebSocket
route reports each attach and detach; the first attach and the last detach of a user are
announced as ``user.presence_changed`` to every other attached connection. Users are not
hidden from each other (``GET /v1/users`` lists everyone who signed in), so neither is
their presence. The announcement carries the whole user, so a person who signs up
appears in the others' lists when their app first connects.
"""

from __future__ import annotations

import asyncio
import logging

from desktop_app.protocol.events import UserPresenceChangedEvent

from .context import Clock
from .hub import EventHub
from .store import Store
from .views import listed_user

log = logging.getLogger(__name__)


class PresenceAnnouncer:
    def __init__(self, store: Store, hub: EventHub, clock: Clock) -> None:
        self.store = store
        self.hub = hub
        self.clock = clock
        #: What was last announced per user: compared with the hub's view *now*, so a
        #: change nobody reported (a connection closed for being too slow) or two quick
        #: flips still end with the right state announced, once.
        self._announced: dict[str, bool] = {}
        self._lock = asyncio.Lock()

    async def changed(self, user_id: str) -> None:
        """Announce ``user_id`` if their presence differs from what was last said. Never
        raises: presence is news, and a failure must not break the connection's own
        clean-up."""
        try:
            async with self._lock:  # in order: a later flip is announced after an earlier
                async with self.store.transaction() as repo:
                    row = await repo.get_user(user_id)
                online = self.hub.online(user_id)  # after the read: the state now
                if row is None or online == self._announced.get(user_id, False):
                    return
                if online:
                    self._announced[user_id] = True
                else:
                    self._announced.pop(user_id, None)
                event = UserPresenceChangedEvent(
                    created_at=self.clock(), user=listed_user(row, teams=False, online=online)
                )
                self.hub.deliver(event.model_dump_json(), self.hub.attached_except(user_id))
        except Exception:
            log.exception("announcing the presence of %s failed", user_id)
