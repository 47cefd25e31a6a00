"""Ring and notify, driven by the coordinator: the I/O around the state machine in ring.py.

Each operation locks the call, loads the ring of its current session, lets ring.py decide,
stores the result (with the next deadline, so a restart re-arms the timer and never fires
a deadline twice) and publishes the outcomes as events once the transaction commits.
"""

from __future__ import annotations

import functools
import logging
import secrets
from datetime import datetime
from typing import Any

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.calls import CallResponse, RingStateEnvelope, RingStateResponse
from desktop_app.protocol.events import (
    CallAcceptedEvent,
    CallMissedEvent,
    CallNotificationEvent,
    CallRejectedEvent,
    CallRingEvent,
)
from desktop_app.protocol.permissions import Permission

from . import policy
from . import ring as ringing
from .context import Actor, Outbox
from .problems import ApiError, invalid_input
from .read_cache import SNAPSHOT_MEMBERS
from .services import Announce, Loaded, Services
from .sessions import SessionService
from .store import Repository
from .store.rows import CallRow, MemberRow, SessionRow
from .store.types import to_micros
from .views import (
    CallParts,
    build_call_response,
    call_response,
    member_response,
    members_response,
    session_response,
    user_response,
)

log = logging.getLogger(__name__)

_ERROR_CODES = {
    "no_callees": ErrorCode.INVALID_INPUT,
    "caller": ErrorCode.INVALID_INPUT,
    "reason": ErrorCode.INVALID_INPUT,
    "not_ringing": ErrorCode.CONFLICT,
    "not_rung": ErrorCode.CONFLICT,
    "answered": ErrorCode.CONFLICT,
}


def _api_error(error: ringing.RingError) -> ApiError:
    if error.kind == "reason":
        return invalid_input(error.detail, "reason")
    return ApiError(_ERROR_CODES.get(error.kind, ErrorCode.CONFLICT), error.detail)


def _timer_key(session_id: str) -> str:
    return f"ring:{session_id}"


class RingService:
    def __init__(self, services: Services, sessions: SessionService) -> None:
        self.services = services
        self.sessions = sessions
        sessions.ring_stopper = self.stop_in_transaction
        sessions.connection_listeners.append(self.connection_gone)

    # --- helpers ---------------------------------------------------------------------

    @staticmethod
    def _check_caller(actor: Actor, loaded: Loaded) -> None:
        """Who may ring, answer or notify: a user who is a member of a call not ended."""
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only users ring, accept or reject calls.")
        if loaded.member is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "You are not a member of this call.")
        if loaded.call.ended_at is not None:
            raise ApiError(ErrorCode.CALL_ENDED, "This call has ended.")

    async def _member_caller(
        self, repo: Repository, actor: Actor, call_type: str, call_id: str
    ) -> Loaded:
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only users ring, accept or reject calls.")
        loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
        self._check_caller(actor, loaded)
        return loaded

    async def _open_session(
        self, repo: Repository, call: CallRow, now: datetime, fresh: bool
    ) -> SessionRow:
        """The session a ring or notification belongs to: the current one while people are
        in it (or, unless ``fresh``, while it is open), else a new one."""
        session = (
            await repo.get_session_for_update(call.current_session_id)
            if call.current_session_id
            else None
        )
        if session is not None and session.ended_at is None:
            in_call = bool(await repo.list_participants(session.id))
            if in_call or not fresh:
                return session
        session = SessionRow(id=secrets.token_hex(12), call_cid=call.cid, created_at=now)
        await repo.insert_session(session)
        call.current_session_id = session.id
        await repo.update_call(call.cid, {"current_session_id": session.id})
        return session

    async def _save(self, repo: Repository, session: SessionRow, ring: ringing.Ring) -> None:
        values: dict[str, Any] = {
            "ring": ringing.to_json(ring),
            "ring_deadline": ring.next_deadline(),
            "ring_connection_id": ring.caller_connection_id if ring.ringing else None,
            "accepted_by": {u: to_micros(t) for u, t in ring.accepted.items()},
            "rejected_by": {
                u: {"at": to_micros(t), "reason": r.value} for u, (t, r) in ring.rejected.items()
            },
            "missed_by": {u: to_micros(t) for u, t in ring.missed.items()},
        }
        await repo.update_session(session.id, values)
        for key, value in values.items():
            setattr(session, key, value)

    async def _publish_outcomes(
        self,
        repo: Repository,
        loaded: Loaded,
        session: SessionRow,
        ring: ringing.Ring,
        outcomes: list[ringing.Outcome],
        outbox: Outbox,
        now: datetime,
        member_rows: list[MemberRow] | None = None,
    ) -> CallResponse:
        """Turn the state machine's outcomes into events and re-arm the timer after commit;
        answers the call as it now is. Everything is loaded once: members, participants and
        every user any of them needs."""
        call_row = loaded.call
        if member_rows is None:
            member_rows = await repo.list_members(call_row.cid)
        participants = await repo.list_participants(session.id)
        named = {ring.caller} | {
            o.user for o in outcomes if not isinstance(o, ringing.Rung | ringing.Ended)
        }
        shown = member_rows[:SNAPSHOT_MEMBERS]
        wanted = [call_row.created_by_id, *named, *(p.user_id for p in participants)]
        wanted += [m.user_id for m in (member_rows if call_row.team else shown)]
        users = await repo.get_users(wanted)
        call = build_call_response(
            call_row, loaded.call_type.settings, CallParts(session, participants, users)
        )
        audience = policy.team_audience(
            call_row.team,
            [m.user_id for m in member_rows],
            {u: list(r.teams) for u, r in users.items()},
        )
        caller = users.get(ring.caller)
        for outcome in outcomes:
            event: Any = None
            if isinstance(outcome, ringing.Rung):
                if outcome.users and caller is not None:
                    event = CallRingEvent(
                        call_cid=call.cid,
                        created_at=now,
                        call=call,
                        members=[member_response(m, users) for m in shown],
                        session_id=session.id,
                        user=user_response(caller),
                        video=ring.video,
                    )
                    outbox.add(event, [u for u in audience if u in outcome.users], watchers=False)
                continue
            if isinstance(outcome, ringing.Ended) or outcome.user not in users:
                continue
            who = user_response(users[outcome.user])
            if isinstance(outcome, ringing.Accepted):
                event = CallAcceptedEvent(call_cid=call.cid, created_at=now, call=call, user=who)
            elif isinstance(outcome, ringing.Rejected):
                event = CallRejectedEvent(
                    call_cid=call.cid,
                    created_at=now,
                    call=call,
                    user=who,
                    reason=outcome.reason.value,
                )
            else:
                event = CallMissedEvent(
                    call_cid=call.cid, created_at=now, call=call, user=who, session_id=session.id
                )
            outbox.add(event, audience)
        outbox.touch(call_row.cid)
        deadline = ring.next_deadline()
        cid, session_id = call_row.cid, session.id
        outbox.after_commit.append(lambda: self._arm(cid, session_id, deadline))
        return call

    def _arm(self, cid: str, session_id: str, deadline: datetime | None) -> None:
        key = _timer_key(session_id)
        if deadline is None:
            self.services.scheduler.cancel(key)
            return
        delay = deadline.timestamp() - self.services.clock().timestamp()
        self.services.scheduler.schedule(
            key, delay, functools.partial(self._on_deadline, cid, session_id)
        )

    def _online(self, user_ids: list[str]) -> set[str]:
        return {u for u in user_ids if self.services.hub.connections_of(u)}

    @staticmethod
    def _state(session: SessionRow | None) -> RingStateResponse:
        if session is None or not session.ring:
            return RingStateResponse(session_id=session.id if session else None)
        ring = ringing.from_json(session.ring)
        summary = session_response(session, [], {})
        return RingStateResponse(
            session_id=session.id,
            ringing=ring.ringing,
            caller_id=ring.caller,
            video=ring.video,
            started_at=ring.started_at,
            auto_cancel_at=ring.auto_cancel_at,
            deadlines=dict(ring.deadlines),
            accepted_by=summary.accepted_by,
            rejected_by=summary.rejected_by,
            missed_by=summary.missed_by,
            ended_at=ring.ended_at,
            end_reason=ring.end_reason.value if ring.end_reason else None,
        )

    # --- operations --------------------------------------------------------------------

    def announcer(
        self, ring: bool, notify: bool, video: bool | None, connection_id: str | None
    ) -> Announce | None:
        """Ringing and/or notifying as a step of another operation (get-or-create, load,
        join), inside its transaction: a ring that is refused undoes the whole request."""
        if not ring and not notify:
            return None

        async def announce(repo: Repository, actor: Actor, loaded: Loaded, outbox: Outbox) -> None:
            self._check_caller(actor, loaded)
            if ring:
                await self._ring(repo, actor, loaded, None, video, connection_id, outbox)
            if notify:
                await self._notify(repo, actor, loaded, outbox)

        return announce

    async def ring(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        member_ids: list[str] | None,
        video: bool | None,
        connection_id: str | None,
    ) -> RingStateEnvelope:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self._member_caller(repo, actor, call_type, call_id)
            call, session = await self._ring(
                repo, actor, loaded, member_ids, video, connection_id, outbox
            )
        self.services.publish(outbox)
        return RingStateEnvelope(call=call, ring=self._state(session))

    async def _ring(
        self,
        repo: Repository,
        actor: Actor,
        loaded: Loaded,
        member_ids: list[str] | None,
        video: bool | None,
        connection_id: str | None,
        outbox: Outbox,
    ) -> tuple[CallResponse, SessionRow]:
        """Start the ring of the call's session (or ring more members of the ring on)."""
        assert actor.user is not None
        policy.require(loaded.capabilities, Permission.RING_CALL)
        if connection_id is not None:
            self.services.own_connection(actor, connection_id)
        member_rows = await repo.list_members(loaded.call.cid)
        members = [m.user_id for m in member_rows]
        if member_ids is not None:
            strangers = [u for u in member_ids if u not in members]
            if strangers:
                raise invalid_input(
                    f"{strangers[0]!r} is not a member of this call; add members before ringing them.",
                    "member_ids",
                )
        callees = [u for u in (member_ids or members) if u != actor.user.id]
        now = self.services.clock()
        session = await self._open_session(repo, loaded.call, now, fresh=True)
        settings = loaded.settings.ring
        try:
            if session.ring and ringing.from_json(session.ring).ringing:
                ring = ringing.from_json(session.ring)
                if ring.caller != actor.user.id:
                    raise ApiError(
                        ErrorCode.CONFLICT, "This call is already ringing; answer it instead."
                    )
                outcomes = ringing.add_callees(
                    ring, callees, settings=settings, now=now, online=self._online(callees)
                )
            else:
                ring, outcomes = ringing.start(
                    actor.user.id,
                    callees,
                    video=loaded.call.video if video is None else video,
                    settings=settings,
                    now=now,
                    online=self._online(callees),
                    caller_connection_id=connection_id,
                )
        except ringing.RingError as error:
            raise _api_error(error) from None
        await self._save(repo, session, ring)
        call = await self._publish_outcomes(
            repo, loaded, session, ring, outcomes, outbox, now, member_rows
        )
        return call, session

    async def answer(
        self, actor: Actor, call_type: str, call_id: str, reason: str | None
    ) -> RingStateEnvelope:
        """Accept (``reason`` None) or reject the ring of the call's current session."""
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self._member_caller(repo, actor, call_type, call_id)
            assert actor.user is not None
            session = (
                await repo.get_session_for_update(loaded.call.current_session_id)
                if loaded.call.current_session_id
                else None
            )
            if session is None or not session.ring:
                raise ApiError(ErrorCode.CONFLICT, "This call is not ringing.")
            ring = ringing.from_json(session.ring)
            now = self.services.clock()
            try:
                if reason is None:
                    outcomes = ringing.accept(ring, actor.user.id, now)
                else:
                    outcomes = ringing.reject(
                        ring, actor.user.id, ringing.RejectReason(reason), now
                    )
            except ringing.RingError as error:
                raise _api_error(error) from None
            await self._save(repo, session, ring)
            call = await self._publish_outcomes(repo, loaded, session, ring, outcomes, outbox, now)
        self.services.publish(outbox)
        return RingStateEnvelope(call=call, ring=self._state(session))

    async def get_ring(self, actor: Actor, call_type: str, call_id: str) -> RingStateEnvelope:
        async with self.services.store.transaction() as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id)
            policy.require(loaded.capabilities, Permission.READ_CALL)
            session = (
                await repo.get_session(loaded.call.current_session_id)
                if loaded.call.current_session_id
                else None
            )
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            return RingStateEnvelope(call=call, ring=self._state(session))

    async def notify(self, actor: Actor, call_type: str, call_id: str) -> None:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self._member_caller(repo, actor, call_type, call_id)
            await self._notify(repo, actor, loaded, outbox)
        self.services.publish(outbox)

    async def _notify(self, repo: Repository, actor: Actor, loaded: Loaded, outbox: Outbox) -> None:
        """``call.notification`` to every other member, on all their devices."""
        assert actor.user is not None
        policy.require(loaded.capabilities, Permission.RING_CALL)
        now = self.services.clock()
        session = await self._open_session(repo, loaded.call, now, fresh=False)
        call = await call_response(repo, loaded.call, loaded.call_type.settings)
        members = await members_response(repo, await repo.list_members(loaded.call.cid, 100))
        audience = [
            u for u in await self.services.audience(repo, loaded.call) if u != actor.user.id
        ]
        event = CallNotificationEvent(
            call_cid=call.cid,
            created_at=now,
            call=call,
            members=members,
            session_id=session.id,
            user=user_response(actor.user),
        )
        outbox.add(event, audience, watchers=False)
        outbox.touch(loaded.call.cid)

    # --- driven by timers, connections and the call's end -------------------------------

    async def _on_deadline(self, cid: str, session_id: str) -> None:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            session = await repo.get_session_for_update(session_id)
            call = await repo.get_call(cid, lock=True)
            if session is None or call is None or not session.ring:
                return
            ring = ringing.from_json(session.ring)
            outcomes = ringing.tick(ring, self.services.clock())
            if not outcomes:
                # woke early (clock skew) or nothing left: re-arm for what remains
                deadline = ring.next_deadline()
                outbox.after_commit.append(lambda: self._arm(cid, session_id, deadline))
            else:
                await self._apply(repo, call, session, ring, outcomes, outbox)
        self.services.publish(outbox)

    async def _apply(
        self,
        repo: Repository,
        call: CallRow,
        session: SessionRow,
        ring: ringing.Ring,
        outcomes: list[ringing.Outcome],
        outbox: Outbox,
    ) -> None:
        parsed = await self.services.call_types.get(repo, call.type)
        loaded = Loaded(call, parsed, None, [])
        await self._save(repo, session, ring)
        await self._publish_outcomes(
            repo, loaded, session, ring, outcomes, outbox, self.services.clock()
        )

    async def stop_in_transaction(
        self, repo: Repository, call: CallRow, reason: ringing.RingEnd, outbox: Outbox
    ) -> None:
        """The call ends (or is deleted) while its ring is on: stop ringing everyone."""
        if not call.current_session_id:
            return
        session = await repo.get_session_for_update(call.current_session_id)
        if session is None or not session.ring:
            return
        ring = ringing.from_json(session.ring)
        outcomes = ringing.stop(ring, reason, self.services.clock())
        if outcomes:
            await self._apply(repo, call, session, ring, outcomes, outbox)

    async def connection_gone(self, connection_id: str) -> None:
        """The caller's app vanished (its connection's grace period is over): no zombie rings."""
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            for session in await repo.sessions_ringing_for_connection(connection_id):
                call = await repo.get_call(session.call_cid, lock=True)
                if call is None or not session.ring:
                    continue
                ring = ringing.from_json(session.ring)
                outcomes = ringing.caller_gone(ring, self.services.clock())
                if outcomes:
                    await self._apply(repo, call, session, ring, outcomes, outbox)
        self.services.publish(outbox)

    async def restore_timers(self) -> None:
        """After a restart: re-arm every stored ring deadline (past ones fire at once)."""
        async with self.services.store.transaction() as repo:
            pending = [
                (s.call_cid, s.id, s.ring_deadline)
                for s in await repo.sessions_with_ring_deadlines()
            ]
            callers = {s.ring_connection_id for s in await repo.sessions_with_ring_deadlines()}
        for cid, session_id, deadline in pending:
            self._arm(cid, session_id, deadline)
        for connection_id in callers:
            if connection_id and self.services.hub.get(connection_id) is None:
                self.sessions.schedule_grace(connection_id)
