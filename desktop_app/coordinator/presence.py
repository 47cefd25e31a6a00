"""Presence: who has a running, signed-in app now, told to everyone else as it changes.

A user is online while at least one of their event streams is attached. The WebSocket
route reports each attach and detach; the first attach and the last detach of a user are
announced as ``user.presence_changed`` to every other attached connection. Users are not
hidden from each other (``GET /v1/users`` lists everyone who signed in), so neither is
their presence. The announcement carries the whole user, so a person who signs up
appears in the others' lists when their app first connects.
"""

from __future__ import annotations

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

    async def changed(self, user_id: str, was_online: bool) -> None:
        """Announce ``user_id`` if a connection change flipped their presence."""
        online = self.hub.online(user_id)
        if online == was_online:
            return
        async with self.store.transaction() as repo:
            row = await repo.get_user(user_id)
        if row is None:
            return
        event = UserPresenceChangedEvent(
            created_at=self.clock(), user=listed_user(row, teams=False, online=online)
        )
        self.hub.deliver(event.model_dump_json(), self.hub.attached_except(user_id))
