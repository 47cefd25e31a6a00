"""A session's room after people leave: kicks, a fresh room, back to peer to peer, and
the old rooms' end — on timers that survive a restart.

* **Someone leaves** (their participant session goes): their token is taken back and
  their publisher kicked, in the session's room and in any room still retiring, at once.
  Janus does not end what a kicked publisher *subscribed to*, so the room itself must go:
  :data:`ROTATE_AFTER_SECONDS` later the others move to a fresh room
  (:meth:`MediaRooms.rotate`, announced with ``call.updated``) — unless everyone who
  left is back by then: a client whose media broke rejoins as a new session of the same
  person, who may see everything anyway, and nobody should switch rooms for that.
  Several departures in that time make one move.
* **Back at two** the session returns to peer to peer after
  :attr:`MediaRooms.back_to_p2p_seconds` (no flapping when someone drops for a moment).
* **Retiring rooms** are destroyed once their clients had time to switch, make before
  break (:attr:`MediaRooms.rotate_grace_seconds`).

What is due is stored with the session (``call_sessions.media``: who left, which rooms
retire when), and :meth:`RoomUpkeep.restore` re-arms the timers after a restart: a
leaver's subscriptions end even if the coordinator died in between. The Janus I/O of a
move happens in the timer's transaction (under the call's lock), never in a leave's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from desktop_app.protocol.events import CallUpdatedEvent

from .context import Outbox
from .media_rooms import SFU_FROM, MediaRooms, Upkeep
from .services import Services
from .store import Repository
from .store.rows import ParticipantRow, SessionRow
from .views import call_response

log = logging.getLogger(__name__)

#: How long after someone leaves the others move to a fresh room (a rejoin comes back
#: within it; several departures make one move).
ROTATE_AFTER_SECONDS = 3.0


def back_to_p2p_key(session_id: str) -> str:
    return f"back-to-p2p:{session_id}"


def _rotate_key(session_id: str) -> str:
    return f"fresh-room:{session_id}"


def _retire_key(session_id: str) -> str:
    return f"retire-rooms:{session_id}"


class RoomUpkeep:
    def __init__(self, services: Services, rooms: MediaRooms) -> None:
        self.services = services
        self.rooms = rooms

    async def released(
        self,
        repo: Repository,
        session: SessionRow,
        leaving: Sequence[ParticipantRow],
        remaining: Sequence[ParticipantRow],
        outbox: Outbox,
    ) -> None:
        """Participants left ``session`` (in the leave's transaction): see the module."""
        rooms = self.rooms
        keys = [back_to_p2p_key(session.id), _rotate_key(session.id), _retire_key(session.id)]
        if not remaining:  # the session ends: its rooms go whole
            outbox.after_commit.append(functools.partial(rooms.release_room, session))
            for key in keys:
                outbox.after_commit.append(functools.partial(self.services.scheduler.cancel, key))
            return
        for participant in leaving:
            outbox.after_commit.append(
                functools.partial(rooms.release_participant, session, participant.session_id)
            )
        if not rooms.mark_left(session, [p.user_id for p in leaving]):
            return
        await repo.update_session(session.id, {"media": session.media})
        cid, session_id = session.call_cid, session.id
        scheduler = self.services.scheduler

        def arm() -> None:
            if not scheduler.pending(_rotate_key(session_id)):
                scheduler.schedule(
                    _rotate_key(session_id),
                    ROTATE_AFTER_SECONDS,
                    functools.partial(self._fresh_room, cid, session_id),
                )
            if len(remaining) < SFU_FROM:
                scheduler.schedule(
                    back_to_p2p_key(session_id),
                    rooms.back_to_p2p_seconds,
                    functools.partial(self._back_to_p2p, cid, session_id),
                )

        outbox.after_commit.append(arm)

    async def restore(self, sessions: Sequence[SessionRow]) -> None:
        """After a restart: a fresh room still due is made now; retiring rooms go when
        their time comes (or now)."""
        for session in sessions:
            upkeep = Upkeep.of(session.media)
            if upkeep.left:
                self.services.scheduler.schedule(
                    _rotate_key(session.id),
                    0.0,
                    functools.partial(self._fresh_room, session.call_cid, session.id),
                )
            self._arm_retire(session)

    # --- timers ------------------------------------------------------------------------

    async def _fresh_room(self, cid: str, session_id: str) -> None:
        now = self.services.clock()
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            session = await self._current(repo, cid, session_id)
            if session is None:
                return
            participants = await repo.list_participants(session_id)
            staying = {p.session_id: p.user_id for p in participants}
            placed = await self.rooms.rotate(repo, session, staying, now)
            outbox.if_rolled_back.append(functools.partial(self.rooms.discard, placed.made))
            if placed.again is not None:
                outbox.after_commit.append(
                    functools.partial(
                        self.services.scheduler.schedule,
                        _rotate_key(session_id),
                        placed.again,
                        functools.partial(self._fresh_room, cid, session_id),
                    )
                )
            if placed.changed:
                await self._announce(repo, cid, outbox)
                outbox.after_commit.append(functools.partial(self._arm_retire, session))
        self.services.publish(outbox)

    async def _back_to_p2p(self, cid: str, session_id: str) -> None:
        """A session that stayed at two (or fewer) returns to peer to peer."""
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            session = await self._current(repo, cid, session_id)
            if session is None or len(await repo.list_participants(session_id)) >= SFU_FROM:
                return
            if not self.rooms.back_to_p2p(session, self.services.clock()):
                return
            await repo.update_session(session_id, {"media": session.media})
            await self._announce(repo, cid, outbox)
            outbox.after_commit.append(functools.partial(self._arm_retire, session))
        self.services.publish(outbox)

    async def _retire(self, cid: str, session_id: str) -> None:
        """Destroy the retiring rooms whose time has come."""
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            session = await repo.get_session(session_id)
            if session is None:
                return
            due = self.rooms.retire_due(session, self.services.clock())
            if due:
                await repo.update_session(session_id, {"media": session.media})
            for room in due:
                outbox.after_commit.append(functools.partial(self.rooms.discard, room))
            outbox.after_commit.append(functools.partial(self._arm_retire, session))
        self.services.publish(outbox)

    def _arm_retire(self, session: SessionRow) -> None:
        when = Upkeep.of(session.media).next_due()
        if when is None:
            return
        delay = max(0.0, (when - self.services.clock()).total_seconds())
        self.services.scheduler.schedule(
            _retire_key(session.id),
            delay,
            functools.partial(self._retire, session.call_cid, session.id),
        )

    # --- inside --------------------------------------------------------------------------

    async def _current(self, repo: Repository, cid: str, session_id: str) -> SessionRow | None:
        """The session, locked with its call, if it is still the call's and going on."""
        call = await repo.get_call(cid, lock=True)
        session = await repo.get_session(session_id)
        if call is None or session is None or call.current_session_id != session_id:
            return None
        return session if session.ended_at is None else None

    async def _announce(self, repo: Repository, cid: str, outbox: Outbox) -> None:
        call = await repo.get_call(cid)
        if call is None:
            return
        parsed = await self.services.call_types.get(repo, call.type)
        snapshot = await call_response(repo, call, parsed.settings)
        outbox.add(
            CallUpdatedEvent(call_cid=cid, created_at=self.services.clock(), call=snapshot), []
        )
