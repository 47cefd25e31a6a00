"""Participant sessions: join (creating the call when asked), leave, end for everyone, and
the timers around them — the call's duration limit, and the grace period a dropped
connection gets before its participants leave.

A call's session starts with its first participant and ends with its last; ending a call
removes everyone and stops its ring (through the hook the ring service registers).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from desktop_app.protocol import ErrorCode, make_cid
from desktop_app.protocol.app import AppSettings
from desktop_app.protocol.calls import (
    CallEnvelope,
    CallRequest,
    CallResponse,
    JoinCallResponse,
    MediaInfo,
    MediaServerInfo,
)
from desktop_app.protocol.events import (
    CallEndedEvent,
    CallParticipantJoinedEvent,
    CallParticipantLeftEvent,
    CallSessionEndedEvent,
    CallSessionStartedEvent,
    CallUpdatedEvent,
)
from desktop_app.protocol.permissions import Permission, Role

from . import policy
from .call_type_cache import ParsedCallType
from .context import Actor, Outbox
from .creation import create_call
from .media_rooms import Credentials, MediaRooms
from .problems import ApiError, invalid_input
from .ring import RingEnd
from .room_upkeep import RoomUpkeep, back_to_p2p_key
from .services import Announce, Loaded, Services
from .store import Repository
from .store.rows import CallRow, ParticipantRow, SessionRow, UserRow
from .store.types import to_micros
from .turn import TurnSettings, ice_servers_for
from .views import call_response, find_participant, user_response

#: Who joined a session is kept for its first this many people (a call's history; a
#: livestream's thousands of viewers would make every event of the call grow).
JOINED_BY_LIMIT = 100

#: Stops a call's ring inside the caller's transaction: (repo, call, reason, outbox).
RingStopper = Callable[[Repository, CallRow, RingEnd, Outbox], Awaitable[None]]


def _duration_key(cid: str) -> str:
    return f"duration:{cid}"


def _grace_key(connection_id: str) -> str:
    return f"grace:{connection_id}"


def _with_feeds(server: MediaServerInfo | None, call: CallResponse) -> MediaServerInfo | None:
    """The room's commitments as the call (same transaction) shows them."""
    media = call.session.media if call.session is not None else None
    if server is None or media is None or media.room != server.room:
        return server
    return server.model_copy(update={"feeds": dict(media.feeds)})


class SessionService:
    def __init__(
        self,
        services: Services,
        grace_seconds: float,
        turn: TurnSettings | None = None,
        rooms: MediaRooms | None = None,
    ) -> None:
        self.services = services
        self.grace_seconds = grace_seconds
        self.turn = turn or TurnSettings()
        #: Janus rooms for calls of three or more (None: every call is peer to peer).
        self.rooms = rooms
        self.upkeep = RoomUpkeep(services, rooms) if rooms is not None else None
        #: Stops the ring of a call that ends (set by the ring service).
        self.ring_stopper: RingStopper | None = None
        #: Told when a dropped connection's grace period is over, before its participants leave.
        self.connection_listeners: list[Callable[[str], Awaitable[None]]] = []

    # --- join, leave, end ------------------------------------------------------------

    async def join(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        create: bool,
        data: CallRequest | None,
        video: bool | None,
        members_limit: int,
        connection_id: str | None,
        ring: bool = False,
        announce: Announce | None = None,
    ) -> JoinCallResponse:
        """Add a participant session bound to the caller's connection, creating the call
        first with ``create``; ``announce`` (ring, notify) runs in the same transaction."""
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only users join calls; a server token cannot.")
        if connection_id is None:
            raise invalid_input(
                "Joining needs 'connection_id': the id of your open WebSocket connection.",
                "connection_id",
            )
        self.services.own_connection(actor, connection_id)
        app = await self.services.app_settings()
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            cid = make_cid(call_type, call_id)
            created = False
            loaded: Loaded | None = None
            await self.services.call_types.get(repo, call_type)
            if await repo.get_call(cid) is None:
                if not create:
                    raise ApiError(
                        ErrorCode.NOT_FOUND,
                        f"There is no call {cid}; join with create to start it.",
                    )
                loaded = await create_call(
                    self.services,
                    repo,
                    actor,
                    call_type,
                    call_id,
                    data or CallRequest(),
                    video,
                    outbox,
                    ring,
                )
                created = loaded is not None
            if loaded is None:
                loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            now = self.services.clock()
            settings = loaded.settings
            policy.check_join_admission(
                granted=loaded.capabilities,
                settings=settings,
                live=loaded.call.live,
                starts_at=loaded.call.starts_at,
                ended_at=loaded.call.ended_at,
                now=now,
            )
            participant, session, count = await self._add_participant(
                repo, loaded, actor.user, connection_id, now, outbox, app
            )
            credentials = await self._credentials(
                repo, loaded, session, participant.session_id, count, app, outbox
            )
            if announce is not None:
                await announce(repo, actor, loaded, outbox)
            self.services.hub.watch(connection_id, cid)
            call, members = await self.services.state(repo, loaded, members_limit)
            for event, _, _ in outbox.items:
                if event.call.cid == cid:
                    event.call = call
        self.services.publish(outbox)
        self.arm_duration_limit(cid, call)
        return JoinCallResponse(
            call=call,
            members=members,
            own_capabilities=loaded.capabilities,
            created=created,
            media=self._media_info(actor.user, participant, call, credentials, app),
        )

    async def media(self, actor: Actor, call_type: str, call_id: str, session_id: str) -> MediaInfo:
        """``POST …/media``: how one of the caller's participant sessions reaches the others
        now — after the session's media mode or room changed."""
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only participants have media.")
        app = await self.services.app_settings()
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            participant = await repo.get_participant(session_id)
            session = (
                await repo.get_session(loaded.call.current_session_id)
                if loaded.call.current_session_id
                else None
            )
            if (
                participant is None
                or session is None
                or participant.user_id != actor.user.id
                or participant.call_session_id != session.id
            ):
                raise ApiError(ErrorCode.NOT_FOUND, "You are not in this call.")
            count = len(await repo.list_participants(session.id))
            credentials = await self._credentials(
                repo, loaded, session, session_id, count, app, outbox
            )
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            for event, _, _ in outbox.items:
                event.call = call
        self.services.publish(outbox)
        return self._media_info(actor.user, participant, call, credentials, app)

    def _media_info(
        self,
        user: UserRow,
        participant: ParticipantRow,
        call: CallResponse,
        credentials: Credentials,
        app: AppSettings,
    ) -> MediaInfo:
        now = self.services.clock()
        return MediaInfo(
            mode=credentials.mode,
            session_id=participant.session_id,
            ice_servers=[
                *ice_servers_for(
                    self.turn, user.id, now, call.settings.limits.max_duration_seconds
                ),
                *app.ice_servers,
            ],
            max_mesh_participants=app.max_mesh_participants,
            media_server=_with_feeds(credentials.server, call),
        )

    async def _credentials(
        self,
        repo: Repository,
        loaded: Loaded,
        session: SessionRow,
        participant_session_id: str,
        count: int,
        app: AppSettings,
        outbox: Outbox,
    ) -> Credentials:
        """The media credentials of a participant session; a placement that changed (the
        call moved to the SFU, or to another server) is announced with ``call.updated``."""
        if self.rooms is None:
            return Credentials("p2p")
        now = self.services.clock()
        rooms = self.rooms
        credentials, placed = await rooms.credentials(
            repo, session, participant_session_id, count, app.max_mesh_participants, app, now
        )
        outbox.if_rolled_back.append(functools.partial(rooms.discard, placed.made))
        outbox.after_commit.append(functools.partial(rooms.discard, placed.left))
        if count >= 3:
            key = back_to_p2p_key(session.id)
            outbox.after_commit.append(lambda: self.services.scheduler.cancel(key))
        if placed.changed:
            call = loaded.call
            snapshot = await call_response(repo, call, loaded.call_type.settings)
            outbox.add(CallUpdatedEvent(call_cid=call.cid, created_at=now, call=snapshot), [])
        return credentials

    async def _add_participant(
        self,
        repo: Repository,
        loaded: Loaded,
        user: UserRow,
        connection_id: str,
        now: datetime,
        outbox: Outbox,
        app: AppSettings,
    ) -> tuple[ParticipantRow, SessionRow, int]:
        """The participant session of ``connection_id`` (added unless it is there), its
        call session, and how many participants the session has now."""
        call = loaded.call
        session = (
            await repo.get_session(call.current_session_id) if call.current_session_id else None
        )
        if session is None or session.ended_at is not None:
            session = SessionRow(
                id=secrets.token_hex(12), call_cid=call.cid, created_at=now, started_at=now
            )
            await repo.insert_session(session)
            call.current_session_id = session.id
            await repo.update_call(call.cid, {"current_session_id": session.id})
            started = True
        else:
            started = False
            if session.started_at is None:
                session.started_at = now
                await repo.update_session(session.id, {"started_at": now})
                started = True
        participants = await repo.list_participants(session.id)
        for existing in participants:
            if existing.connection_id == connection_id and existing.user_id == user.id:
                return existing, session, len(participants)
        policy.check_room(loaded.settings, len(participants))
        if self.rooms is None or not self.rooms.servers(app):
            policy.check_mesh(app.max_mesh_participants, len(participants))
        role = loaded.member.role if loaded.member else (Role(user.role).value)
        participant = ParticipantRow(
            session_id=secrets.token_hex(12),
            call_cid=call.cid,
            call_session_id=session.id,
            user_id=user.id,
            connection_id=connection_id,
            role=role,
            joined_at=now,
        )
        await repo.insert_participant(participant)
        joined_by = dict(session.joined_by or {})
        if user.id not in joined_by and len(joined_by) < JOINED_BY_LIMIT:  # who was in it
            joined_by[user.id] = to_micros(now)
            session.joined_by = joined_by
            await repo.update_session(session.id, {"joined_by": joined_by})
        snapshot = await call_response(repo, call, loaded.call_type.settings)
        if started:
            outbox.add(
                CallSessionStartedEvent(
                    call_cid=call.cid, created_at=now, call=snapshot, session_id=session.id
                ),
                [],
            )
        joined = find_participant(snapshot, participant.session_id)
        if joined is not None:
            outbox.add(
                CallParticipantJoinedEvent(
                    call_cid=call.cid,
                    created_at=now,
                    call=snapshot,
                    session_id=session.id,
                    participant=joined,
                ),
                [],
            )
        return participant, session, len(participants) + 1

    async def _remove_participants(
        self,
        repo: Repository,
        call: CallRow,
        call_type: ParsedCallType,
        leaving: Sequence[ParticipantRow],
        reason: str,
        now: datetime,
        outbox: Outbox,
    ) -> None:
        """Remove participant sessions; ends the call session when the last one leaves."""
        if not leaving:
            return
        before = await call_response(repo, call, call_type.settings)
        by_id = {p.session_id: p for p in before.session.participants} if before.session else {}
        for participant in leaving:
            await repo.delete_participant(participant.session_id)
        session_id = leaving[0].call_session_id
        remaining = await repo.list_participants(session_id)
        if not remaining:
            await repo.update_session(session_id, {"ended_at": now})
        session = await repo.get_session(session_id)
        if self.upkeep is not None and session is not None and session.media:
            await self.upkeep.released(repo, session, leaving, remaining, outbox)
        after = await call_response(repo, call, call_type.settings)
        for participant in leaving:
            gone = by_id.get(participant.session_id)
            if gone is not None:
                outbox.add(
                    CallParticipantLeftEvent(
                        call_cid=call.cid,
                        created_at=now,
                        call=after,
                        session_id=session_id,
                        participant=gone,
                        reason=reason,
                    ),
                    [],
                )
        if not remaining:
            outbox.add(
                CallSessionEndedEvent(
                    call_cid=call.cid, created_at=now, call=after, session_id=session_id
                ),
                [],
            )
            cid = call.cid
            outbox.after_commit.append(lambda: self.services.scheduler.cancel(_duration_key(cid)))

    async def leave(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        session_id: str | None,
        connection_id: str | None,
    ) -> CallEnvelope:
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only users leave calls; a server token cannot.")
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            participants = (
                await repo.list_participants(loaded.call.current_session_id)
                if loaded.call.current_session_id
                else []
            )
            mine = [p for p in participants if p.user_id == actor.user.id]
            if session_id is not None:
                mine = [p for p in mine if p.session_id == session_id]
            elif connection_id is not None:
                mine = [p for p in mine if p.connection_id == connection_id]
            if not mine:
                raise ApiError(ErrorCode.NOT_FOUND, "You are not in this call.")
            await self._remove_participants(
                repo, loaded.call, loaded.call_type, mine, "left", self.services.clock(), outbox
            )
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
        self.services.publish(outbox)
        return CallEnvelope(call=call)

    async def end(self, actor: Actor, call_type: str, call_id: str) -> CallEnvelope:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.END_CALL)
            if loaded.call.ended_at is not None:
                raise ApiError(ErrorCode.CALL_ENDED, "This call has already ended.")
            call = await self._end(
                repo, loaded.call, loaded.call_type, "ended_by_user", actor, outbox
            )
        self.services.publish(outbox)
        return CallEnvelope(call=call)

    async def _end(
        self,
        repo: Repository,
        call: CallRow,
        call_type: ParsedCallType,
        reason: str,
        actor: Actor | None,
        outbox: Outbox,
    ) -> CallResponse:
        now = self.services.clock()
        if self.ring_stopper is not None:
            await self.ring_stopper(repo, call, RingEnd.CALL_ENDED, outbox)
        if call.current_session_id:
            participants = await repo.list_participants(call.current_session_id)
            await self._remove_participants(
                repo, call, call_type, participants, "call_ended", now, outbox
            )
            session = await repo.get_session(call.current_session_id)
            if session is not None and session.ended_at is None:
                await repo.update_session(session.id, {"ended_at": now})
        await repo.update_call(call.cid, {"ended_at": now, "updated_at": now})
        call.ended_at = now
        call.updated_at = now
        response = await call_response(repo, call, call_type.settings)
        outbox.add(
            CallEndedEvent(
                call_cid=call.cid,
                created_at=now,
                call=response,
                reason=reason,
                user=user_response(actor.user) if actor and actor.user else None,
            ),
            await self.services.audience(repo, call),
        )
        return response

    # --- limits and disconnects (driven by timers) -----------------------------------

    def arm_duration_limit(self, cid: str, call: CallResponse) -> None:
        """Schedule the end of a call whose session would outlast ``max_duration_seconds``."""
        limit = call.settings.limits.max_duration_seconds
        session = call.session
        key = _duration_key(cid)
        if (
            limit is None
            or session is None
            or session.started_at is None
            or session.ended_at is not None
            or call.ended_at
        ):
            self.services.scheduler.cancel(key)
            return
        remaining = (session.started_at.timestamp() + limit) - self.services.clock().timestamp()
        self.services.scheduler.schedule(
            key, remaining, lambda: self._end_for_duration(cid, session.id)
        )

    def disarm_duration_limit(self, cid: str) -> None:
        self.services.scheduler.cancel(_duration_key(cid))

    async def _end_for_duration(self, cid: str, session_id: str) -> None:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            call = await repo.get_call(cid, lock=True)
            if call is None or call.ended_at is not None or call.current_session_id != session_id:
                return
            parsed = await self.services.call_types.get(repo, call.type)
            await self._end(repo, call, parsed, "max_duration", None, outbox)
        self.services.publish(outbox)

    def schedule_grace(self, connection_id: str) -> None:
        """A connection dropped: give it the grace period to resume, then let it go."""
        self.services.scheduler.schedule(
            _grace_key(connection_id),
            self.grace_seconds,
            functools.partial(self.connection_gone, connection_id),
        )

    async def connection_gone(self, connection_id: str) -> None:
        """The grace period of a dropped connection is over: its rings stop, its
        participants leave."""
        for listener in self.connection_listeners:
            await listener(connection_id)
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            mine = await repo.participants_of_connection(connection_id)
            by_call: dict[str, list[ParticipantRow]] = {}
            for participant in mine:
                by_call.setdefault(participant.call_cid, []).append(participant)
            for cid, leaving in by_call.items():
                call = await repo.get_call(cid, lock=True)
                if call is None:
                    continue
                parsed = await self.services.call_types.get(repo, call.type)
                await self._remove_participants(
                    repo, call, parsed, leaving, "disconnected", self.services.clock(), outbox
                )
        self.services.publish(outbox)
        self.services.hub.forget(connection_id)

    async def adopt_orphans(self, connection_id: str, user_id: str) -> bool:
        """After a restart, a client resumes a connection this process never knew: when
        participant sessions of that connection are still stored and waiting out their
        grace period, and every one is this user's, the new connection takes them over
        (the client's call goes on; only its watches are gone, which it renews)."""
        if not self.services.scheduler.pending(_grace_key(connection_id)):
            return False
        async with self.services.store.transaction() as repo:
            orphans = await repo.participants_of_connection(connection_id)
        if not orphans or any(p.user_id != user_id for p in orphans):
            return False
        self.services.scheduler.cancel(_grace_key(connection_id))
        return True

    async def restore_timers(self) -> None:
        """After a restart: re-arm duration limits, and give orphaned participants (whose
        connections died with the old process) one grace period to come back."""
        async with self.services.store.transaction() as repo:
            sessions = await repo.sessions_in_progress()
            orphans = {p.connection_id for p in await repo.all_participants()}
            responses = []
            for session in sessions:
                call = await repo.get_call(session.call_cid)
                if call is None:
                    continue
                parsed = await self.services.call_types.get(repo, call.type)
                responses.append(await call_response(repo, call, parsed.settings))
        for response in responses:
            self.arm_duration_limit(response.cid, response)
        if self.upkeep is not None:
            await self.upkeep.restore(sessions)
        for connection_id in orphans:
            if self.services.hub.get(connection_id) is None:
                self.schedule_grace(connection_id)
