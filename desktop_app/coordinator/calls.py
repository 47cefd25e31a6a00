"""The call operations of the wire: get-or-create, load, update, delete, join, leave, end,
members, queries, backstage and custom events.

Every operation runs in one transaction, checks the caller's capabilities through
:mod:`.policy`, and raises its events into an :class:`Outbox` that is published only after
the transaction commits, so nobody hears of a change that did not happen.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from desktop_app.protocol import ErrorCode, make_cid
from desktop_app.protocol.calls import (
    CallEnvelope,
    CallRequest,
    CallResponse,
    CallStateResponse,
    JoinCallResponse,
    MediaInfo,
    MemberRequest,
    QueryCallsRequest,
    QueryCallsResponse,
    QueryMembersRequest,
    QueryMembersResponse,
    SendEventResponse,
    UpdateCallMembersRequest,
    UpdateCallMembersResponse,
    UpdateCallRequest,
)
from desktop_app.protocol.events import (
    CallCreatedEvent,
    CallCustomEvent,
    CallDeletedEvent,
    CallEndedEvent,
    CallLiveStartedEvent,
    CallLiveStoppedEvent,
    CallMemberAddedEvent,
    CallMemberRemovedEvent,
    CallMemberUpdatedEvent,
    CallParticipantJoinedEvent,
    CallParticipantLeftEvent,
    CallSessionEndedEvent,
    CallSessionStartedEvent,
    CallUpdatedEvent,
)
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import (
    CallSettings,
    CallSettingsOverride,
    combine_overrides,
    merge_settings,
)

from . import policy
from .call_type_cache import CallTypeCache, ParsedCallType
from .context import Actor, Clock, Outbox
from .hub import EventHub
from .problems import ApiError, invalid_input
from .read_cache import SNAPSHOT_MEMBERS, CallCache, CallSnapshot, CallView
from .ring import RingEnd
from .scheduler import Scheduler
from .store import Repository, Store, schema
from .store.query import Field, compile_filter, compile_sort, decode_cursor, encode_cursor
from .store.rows import CallRow, MemberRow, ParticipantRow, SessionRow, UserRow
from .views import (
    call_response,
    find_participant,
    member_response,
    members_response,
    user_response,
)
from .webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

#: Stops a call's ring inside the caller's transaction: (repo, call, reason, outbox).
RingStopper = Callable[[Repository, CallRow, RingEnd, Outbox], Awaitable[None]]

_m = schema.call_members.c
_c = schema.calls.c

MEMBER_FIELDS: dict[str, Field] = {
    "user_id": Field(_m.user_id, "string", sortable=True),
    "role": Field(_m.role, "string"),
    "created_at": Field(_m.created_at, "datetime", sortable=True),
    "updated_at": Field(_m.updated_at, "datetime", sortable=True),
    "custom": Field(_m.custom, "custom"),
}

CALL_FIELDS: dict[str, Field] = {
    "cid": Field(_c.cid, "string", sortable=True),
    "type": Field(_c.type, "string"),
    "id": Field(_c.id, "string"),
    "created_by_user_id": Field(_c.created_by_id, "string"),
    "team": Field(_c.team, "string"),
    "created_at": Field(_c.created_at, "datetime", sortable=True),
    "updated_at": Field(_c.updated_at, "datetime", sortable=True),
    "starts_at": Field(_c.starts_at, "datetime"),
    "ended_at": Field(_c.ended_at, "datetime"),
    "live": Field(_c.live, "bool"),
    "video": Field(_c.video, "bool"),
    "custom": Field(_c.custom, "custom"),
}


@dataclass
class Loaded:
    """A call read for an operation, with its type and the caller's standing in it."""

    call: CallRow
    call_type: ParsedCallType
    member: MemberRow | None
    capabilities: list[Permission]

    @property
    def settings(self) -> CallSettings:
        return effective_settings(self.call, self.call_type)


def effective_settings(call: CallRow, call_type: ParsedCallType) -> CallSettings:
    override = (
        CallSettingsOverride.model_validate(call.settings_override)
        if call.settings_override
        else None
    )
    return merge_settings(call_type.settings, override)


def _not_found(cid: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"There is no call {cid}.")


class CallService:
    def __init__(
        self,
        store: Store,
        hub: EventHub,
        call_types: CallTypeCache,
        snapshots: CallCache,
        scheduler: Scheduler,
        clock: Clock,
        grace_seconds: float,
        app_settings: Any,
        webhooks: WebhookDispatcher,
    ) -> None:
        self.store = store
        self.hub = hub
        self.call_types = call_types
        self.snapshots = snapshots
        self.scheduler = scheduler
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.app_settings = app_settings
        self.webhooks = webhooks
        #: Stops the ring of a call that ends (set by the ring service).
        self.ring_stopper: RingStopper | None = None
        #: Told when a dropped connection's grace period is over, before its participants leave.
        self.connection_listeners: list[Callable[[str], Awaitable[None]]] = []

    # --- plumbing --------------------------------------------------------------------

    def publish(self, outbox: Outbox) -> None:
        for cid in outbox.touched:
            self.snapshots.invalidate(cid)
        for event, member_ids, watchers in outbox.items:
            payload = event.model_dump_json()
            self.hub.deliver(
                payload, self.hub.recipients(event.type, event.call_cid, member_ids, watchers)
            )
            self.webhooks.offer(event.type, payload)
        for action in outbox.after_commit:
            action()

    @staticmethod
    async def audience(
        repo: Repository, call: CallRow, member_ids: list[str] | None = None
    ) -> list[str]:
        """The members who hear the call's member events: all of them, except that a team
        call is never announced to a member outside its team."""
        ids = member_ids if member_ids is not None else await repo.member_ids(call.cid)
        if call.team is None:
            return ids
        users = await repo.get_users(ids)
        return policy.team_audience(call.team, ids, {u: list(r.teams) for u, r in users.items()})

    async def load(
        self, repo: Repository, actor: Actor, call_type: str, call_id: str, lock: bool = False
    ) -> Loaded:
        parsed = await self.call_types.get(repo, call_type)
        cid = make_cid(call_type, call_id)
        call = await repo.get_call(cid, lock=lock)
        if call is None or not policy.team_visible(call.team, actor.teams, actor.is_server):
            raise _not_found(cid)
        member = await repo.get_member(cid, actor.user_id) if actor.user_id else None
        caps = self._capabilities(actor, parsed, member)
        return Loaded(call, parsed, member, caps)

    @staticmethod
    def _capabilities(
        actor: Actor, parsed: ParsedCallType, member: MemberRow | None
    ) -> list[Permission]:
        return policy.capabilities(
            parsed.grants,
            actor.role,
            Role(member.role) if member else None,
            is_server=actor.is_server,
        )

    def _watch(self, actor: Actor, connection_id: str | None, cid: str) -> None:
        if connection_id is None:
            return
        connection = self.hub.get(connection_id)
        if connection is None or (not actor.is_server and connection.user_id != actor.user_id):
            raise invalid_input(
                "connection_id does not name one of your open WebSocket connections.",
                "connection_id",
            )
        self.hub.watch(connection_id, cid)

    async def _state(
        self, repo: Repository, loaded: Loaded, members_limit: int = 25
    ) -> tuple[CallResponse, list[Any]]:
        call = await call_response(repo, loaded.call, loaded.call_type.settings)
        members = await members_response(
            repo, await repo.list_members(loaded.call.cid, members_limit)
        )
        return call, members

    async def _ensure_users(
        self, repo: Repository, user_ids: Sequence[str], now: datetime
    ) -> dict[str, UserRow]:
        users = await repo.get_users(user_ids)
        for user_id in user_ids:
            if user_id not in users:
                row = UserRow(
                    id=user_id, role=Role.USER.value, created_at=now, updated_at=now, claimed=False
                )
                await repo.insert_user_if_missing(row)
                users[user_id] = row
        return users

    # --- get-or-create and create-on-join -------------------------------------------

    async def _creator(self, repo: Repository, actor: Actor, data: CallRequest) -> UserRow:
        if actor.is_server:
            if data.created_by_id is None:
                raise invalid_input(
                    "A server token must say whom the call is created for in 'data.created_by_id'.",
                    "data.created_by_id",
                )
            now = self.clock()
            return (await self._ensure_users(repo, [data.created_by_id], now))[data.created_by_id]
        assert actor.user is not None
        if data.created_by_id is not None and data.created_by_id != actor.user.id:
            raise ApiError(
                ErrorCode.NOT_ALLOWED, "A user token cannot create calls for someone else."
            )
        return actor.user

    async def _create(
        self,
        repo: Repository,
        actor: Actor,
        call_type: str,
        call_id: str,
        data: CallRequest,
        video: bool | None,
        outbox: Outbox,
        ring: bool = False,
    ) -> Loaded | None:
        """Create the call; None when someone else created it first (then load it).
        With ``ring``, a call without members to ring is refused before anything is stored."""
        parsed = await self.call_types.get(repo, call_type)
        creator = await self._creator(repo, actor, data)
        creator_role = None if actor.is_server else actor.role
        creator_caps = policy.capabilities(
            parsed.grants, creator_role or Role(creator.role), None, actor.is_server
        )
        policy.require(creator_caps, Permission.CREATE_CALL)
        if not actor.is_server:
            policy.check_team_on_create(list(creator.teams), data.team)
        if data.settings_override is not None and not actor.is_server:
            # the creator's settings are part of creating; validate that they merge
            merge_settings(parsed.settings, data.settings_override)
        now = self.clock()
        cid = make_cid(call_type, call_id)
        wanted = {m.user_id: m for m in data.members or []}
        if len(wanted) != len(data.members or []):
            raise invalid_input("A user appears twice in 'data.members'.", "data.members")
        if ring and not set(wanted) - {creator.id}:
            raise invalid_input(
                "There is nobody to ring: name the people to call in 'data.members'.",
                "data.members",
            )
        if creator.id not in wanted:
            wanted[creator.id] = MemberRequest(user_id=creator.id, role=Role.HOST)
        row = CallRow(
            cid=cid,
            type=call_type,
            id=call_id,
            created_by_id=creator.id,
            created_at=now,
            updated_at=now,
            custom=dict(data.custom or {}),
            video=video
            if video is not None
            else data.video
            if data.video is not None
            else parsed.settings.video.enabled,
            live=False,
            starts_at=data.starts_at,
            settings_override=data.settings_override.model_dump(exclude_unset=True)
            if data.settings_override
            else None,
            team=data.team,
        )
        if not await repo.insert_call(row):
            return None
        users = await self._ensure_users(repo, list(wanted), now)
        member_rows = []
        for user_id, request in wanted.items():
            role = request.role or (Role.HOST if user_id == creator.id else Role.CALL_MEMBER)
            member = MemberRow(cid, user_id, role.value, dict(request.custom or {}), now, now)
            await repo.insert_member(member)
            member_rows.append(member)
        own_member = next((m for m in member_rows if m.user_id == actor.user_id), None)
        loaded = Loaded(row, parsed, own_member, self._capabilities(actor, parsed, own_member))
        call = await call_response(repo, row, parsed.settings)
        outbox.add(
            CallCreatedEvent(
                call_cid=cid,
                created_at=now,
                call=call,
                members=[member_response(m, users) for m in member_rows],
            ),
            await self.audience(repo, row, list(wanted)),
        )
        return loaded

    async def _snapshot(
        self, repo: Repository, call: CallRow, parsed: ParsedCallType
    ) -> CallSnapshot:
        response = await call_response(repo, call, parsed.settings)
        members = await members_response(repo, await repo.list_members(call.cid, SNAPSHOT_MEMBERS))
        return CallSnapshot(
            call=call,
            call_type=parsed,
            call_json=response.model_dump_json().encode(),
            members_json=tuple(m.model_dump_json().encode() for m in members),
            member_roles={u: Role(r) for u, r in (await repo.member_roles(call.cid)).items()},
        )

    async def _read(self, actor: Actor, call_type: str, call_id: str) -> CallSnapshot | None:
        """The snapshot of a call (from the cache, else built and cached); None if none."""
        cid = make_cid(call_type, call_id)
        snapshot = self.snapshots.get(cid)
        if snapshot is not None:
            return snapshot
        generation = self.snapshots.generation(cid)
        async with self.store.transaction() as repo:
            parsed = await self.call_types.get(repo, call_type)
            call = await repo.get_call(cid)
            if call is None:
                return None
            snapshot = await self._snapshot(repo, call, parsed)
        self.snapshots.put(cid, snapshot, generation)
        return snapshot

    def _view(
        self, actor: Actor, snapshot: CallSnapshot, connection_id: str | None, created: bool
    ) -> CallView:
        """The caller's view of a call they are allowed to read."""
        if not policy.team_visible(snapshot.call.team, actor.teams, actor.is_server):
            raise _not_found(snapshot.call.cid)
        member_role = snapshot.member_roles.get(actor.user_id) if actor.user_id else None
        capabilities = policy.capabilities(
            snapshot.call_type.grants, actor.role, member_role, is_server=actor.is_server
        )
        if not created:
            policy.require(capabilities, Permission.READ_CALL)
        self._watch(actor, connection_id, snapshot.call.cid)
        return CallView(snapshot, capabilities, created)

    async def get_or_create(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        data: CallRequest | None,
        connection_id: str | None,
        video: bool | None = None,
        ring: bool = False,
    ) -> CallView:
        existing = await self._read(actor, call_type, call_id)
        if existing is not None:
            return self._view(actor, existing, connection_id, created=False)
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self._create(
                repo, actor, call_type, call_id, data or CallRequest(), video, outbox, ring
            )
            created = loaded is not None
            if loaded is None:  # created by someone else in the meantime
                loaded = await self.load(repo, actor, call_type, call_id)
            snapshot = await self._snapshot(repo, loaded.call, loaded.call_type)
        self.publish(outbox)
        return self._view(actor, snapshot, connection_id, created=created)

    async def get(
        self, actor: Actor, call_type: str, call_id: str, connection_id: str | None
    ) -> CallView:
        snapshot = await self._read(actor, call_type, call_id)
        if snapshot is None:
            raise _not_found(make_cid(call_type, call_id))
        return self._view(actor, snapshot, connection_id, created=False)

    # --- update, delete --------------------------------------------------------------

    async def update(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        request: UpdateCallRequest,
        connection_id: str | None,
    ) -> CallStateResponse:
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.UPDATE_CALL)
            now = self.clock()
            values: dict[str, Any] = {"updated_at": now}
            present = request.model_fields_set
            if "custom" in present:
                values["custom"] = dict(request.custom or {})
            if "starts_at" in present:
                values["starts_at"] = request.starts_at
            if "settings_override" in present and request.settings_override is not None:
                policy.require(loaded.capabilities, Permission.UPDATE_CALL_SETTINGS)
                old = (
                    CallSettingsOverride.model_validate(loaded.call.settings_override)
                    if loaded.call.settings_override
                    else None
                )
                combined = combine_overrides(old, request.settings_override)
                merge_settings(loaded.call_type.settings, combined)
                values["settings_override"] = combined.model_dump(exclude_unset=True)
            await repo.update_call(loaded.call.cid, values)
            for key, value in values.items():
                setattr(loaded.call, key, value)
            self._watch(actor, connection_id, loaded.call.cid)
            call, members = await self._state(repo, loaded)
            outbox.add(CallUpdatedEvent(call_cid=loaded.call.cid, created_at=now, call=call), [])
        self.publish(outbox)
        self._arm_duration_limit(loaded.call.cid, call)
        return CallStateResponse(call=call, members=members, own_capabilities=loaded.capabilities)

    async def delete(self, actor: Actor, call_type: str, call_id: str) -> CallEnvelope:
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.DELETE_CALL)
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            member_ids = await self.audience(repo, loaded.call)
            await repo.delete_call(loaded.call.cid)
            outbox.add(
                CallDeletedEvent(call_cid=loaded.call.cid, created_at=self.clock(), call=call),
                member_ids,
            )
        self.publish(outbox)
        self.hub.unwatch_call(loaded.call.cid)
        self.scheduler.cancel(f"duration:{loaded.call.cid}")
        return CallEnvelope(call=call)

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
    ) -> JoinCallResponse:
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Only users join calls; a server token cannot.")
        if connection_id is None:
            raise invalid_input(
                "Joining needs 'connection_id': the id of your open WebSocket connection.",
                "connection_id",
            )
        connection = self.hub.get(connection_id)
        if connection is None or connection.user_id != actor.user.id:
            raise invalid_input(
                "connection_id does not name one of your open WebSocket connections.",
                "connection_id",
            )
        app = await self.app_settings()
        outbox = Outbox()
        async with self.store.transaction() as repo:
            cid = make_cid(call_type, call_id)
            created = False
            loaded: Loaded | None = None
            await self.call_types.get(repo, call_type)
            if await repo.get_call(cid) is None:
                if not create:
                    raise ApiError(
                        ErrorCode.NOT_FOUND,
                        f"There is no call {cid}; join with create to start it.",
                    )
                loaded = await self._create(
                    repo, actor, call_type, call_id, data or CallRequest(), video, outbox, ring
                )
                created = loaded is not None
            if loaded is None:
                loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            now = self.clock()
            settings = loaded.settings
            policy.check_join_admission(
                granted=loaded.capabilities,
                settings=settings,
                live=loaded.call.live,
                starts_at=loaded.call.starts_at,
                ended_at=loaded.call.ended_at,
                now=now,
            )
            participant = await self._add_participant(
                repo, loaded, actor.user, connection_id, now, outbox, app.max_mesh_participants
            )
            self.hub.watch(connection_id, cid)
            call, members = await self._state(repo, loaded, members_limit)
            for event, _, _ in outbox.items:
                if event.call.cid == cid:
                    event.call = call
        self.publish(outbox)
        self._arm_duration_limit(cid, call)
        return JoinCallResponse(
            call=call,
            members=members,
            own_capabilities=loaded.capabilities,
            created=created,
            media=MediaInfo(
                mode="p2p",
                session_id=participant.session_id,
                ice_servers=app.ice_servers,
                max_mesh_participants=app.max_mesh_participants,
            ),
        )

    async def _add_participant(
        self,
        repo: Repository,
        loaded: Loaded,
        user: UserRow,
        connection_id: str,
        now: datetime,
        outbox: Outbox,
        mesh_limit: int,
    ) -> ParticipantRow:
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
                return existing
        policy.check_room(loaded.settings, len(participants))
        policy.check_mesh(mesh_limit, len(participants))
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
        return participant

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
            outbox.after_commit.append(lambda: self.scheduler.cancel(f"duration:{cid}"))

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
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
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
                repo, loaded.call, loaded.call_type, mine, "left", self.clock(), outbox
            )
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
        self.publish(outbox)
        return CallEnvelope(call=call)

    async def end(self, actor: Actor, call_type: str, call_id: str) -> CallEnvelope:
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.END_CALL)
            if loaded.call.ended_at is not None:
                raise ApiError(ErrorCode.CALL_ENDED, "This call has already ended.")
            call = await self._end(
                repo, loaded.call, loaded.call_type, "ended_by_user", actor, outbox
            )
        self.publish(outbox)
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
        now = self.clock()
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
            await self.audience(repo, call),
        )
        return response

    # --- limits and disconnects (driven by timers) -----------------------------------

    def _arm_duration_limit(self, cid: str, call: CallResponse) -> None:
        """Schedule the end of a call whose session would outlast ``max_duration_seconds``."""
        limit = call.settings.limits.max_duration_seconds
        session = call.session
        key = f"duration:{cid}"
        if (
            limit is None
            or session is None
            or session.started_at is None
            or session.ended_at is not None
            or call.ended_at
        ):
            self.scheduler.cancel(key)
            return
        remaining = (session.started_at.timestamp() + limit) - self.clock().timestamp()
        self.scheduler.schedule(key, remaining, lambda: self._end_for_duration(cid, session.id))

    async def _end_for_duration(self, cid: str, session_id: str) -> None:
        outbox = Outbox()
        async with self.store.transaction() as repo:
            call = await repo.get_call(cid, lock=True)
            if call is None or call.ended_at is not None or call.current_session_id != session_id:
                return
            parsed = await self.call_types.get(repo, call.type)
            await self._end(repo, call, parsed, "max_duration", None, outbox)
        self.publish(outbox)

    def schedule_grace(self, connection_id: str) -> None:
        """A connection dropped: give it the grace period to resume, then let it go."""
        self.scheduler.schedule(
            f"grace:{connection_id}",
            self.grace_seconds,
            functools.partial(self.connection_gone, connection_id),
        )

    async def connection_gone(self, connection_id: str) -> None:
        """The grace period of a dropped connection is over: its rings stop, its
        participants leave."""
        for listener in self.connection_listeners:
            await listener(connection_id)
        outbox = Outbox()
        async with self.store.transaction() as repo:
            mine = await repo.participants_of_connection(connection_id)
            by_call: dict[str, list[ParticipantRow]] = {}
            for participant in mine:
                by_call.setdefault(participant.call_cid, []).append(participant)
            for cid, leaving in by_call.items():
                call = await repo.get_call(cid, lock=True)
                if call is None:
                    continue
                parsed = await self.call_types.get(repo, call.type)
                await self._remove_participants(
                    repo, call, parsed, leaving, "disconnected", self.clock(), outbox
                )
        self.publish(outbox)
        self.hub.forget(connection_id)

    async def adopt_orphans(self, connection_id: str, user_id: str) -> bool:
        """After a restart, a client resumes a connection this process never knew: when
        participant sessions of that connection are still stored and waiting out their
        grace period, and every one is this user's, the new connection takes them over
        (the client's call goes on; only its watches are gone, which it renews)."""
        if not self.scheduler.pending(f"grace:{connection_id}"):
            return False
        async with self.store.transaction() as repo:
            orphans = await repo.participants_of_connection(connection_id)
        if not orphans or any(p.user_id != user_id for p in orphans):
            return False
        self.scheduler.cancel(f"grace:{connection_id}")
        return True

    async def restore_timers(self) -> None:
        """After a restart: re-arm duration limits, and give orphaned participants (whose
        connections died with the old process) one grace period to come back."""
        async with self.store.transaction() as repo:
            sessions = await repo.sessions_in_progress()
            orphans = {p.connection_id for p in await repo.all_participants()}
            responses = []
            for session in sessions:
                call = await repo.get_call(session.call_cid)
                if call is None:
                    continue
                parsed = await self.call_types.get(repo, call.type)
                responses.append(await call_response(repo, call, parsed.settings))
        for response in responses:
            self._arm_duration_limit(response.cid, response)
        for connection_id in orphans:
            if self.hub.get(connection_id) is None:
                self.schedule_grace(connection_id)

    # --- members ---------------------------------------------------------------------

    async def update_members(
        self, actor: Actor, call_type: str, call_id: str, request: UpdateCallMembersRequest
    ) -> UpdateCallMembersResponse:
        updates = {m.user_id: m for m in request.update_members}
        if len(updates) != len(request.update_members):
            raise invalid_input("A user appears twice in 'update_members'.", "update_members")
        removals = list(dict.fromkeys(request.remove_members))
        both = set(updates) & set(removals)
        if both:
            raise invalid_input(
                f"{sorted(both)[0]!r} cannot be both updated and removed in one request.",
                "remove_members",
            )
        if not updates and not removals:
            raise invalid_input(
                "Give 'update_members', 'remove_members' or both.", "update_members"
            )
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            if updates:
                policy.require(loaded.capabilities, Permission.UPDATE_CALL_MEMBER)
            if removals:
                policy.require(loaded.capabilities, Permission.REMOVE_CALL_MEMBER)
            cid = loaded.call.cid
            now = self.clock()
            users = await self._ensure_users(repo, list(updates), now)
            added: list[MemberRow] = []
            changed: list[MemberRow] = []
            for user_id, request_member in updates.items():
                existing = await repo.get_member(cid, user_id)
                if existing is None:
                    row = MemberRow(
                        cid,
                        user_id,
                        (request_member.role or Role.CALL_MEMBER).value,
                        dict(request_member.custom or {}),
                        now,
                        now,
                    )
                    await repo.insert_member(row)
                    added.append(row)
                else:
                    values: dict[str, Any] = {"updated_at": now}
                    if request_member.role is not None:
                        values["role"] = request_member.role.value
                    if request_member.custom is not None:
                        values["custom"] = dict(request_member.custom)
                    await repo.update_member(cid, user_id, values)
                    for key, value in values.items():
                        setattr(existing, key, value)
                    changed.append(existing)
            removed = [u for u in removals if await repo.get_member(cid, u) is not None]
            member_ids_before = await self.audience(repo, loaded.call)
            if removed:
                await repo.delete_members(cid, removed)
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            member_ids = await self.audience(repo, loaded.call)
            for event_class, rows in (
                (CallMemberAddedEvent, added),
                (CallMemberUpdatedEvent, changed),
            ):
                if rows:
                    members = [member_response(m, users) for m in rows]
                    outbox.add(
                        event_class(call_cid=cid, created_at=now, call=call, members=members),
                        member_ids,
                    )
            if removed:
                outbox.add(
                    CallMemberRemovedEvent(
                        call_cid=cid, created_at=now, call=call, members=removed
                    ),
                    member_ids_before,
                )
        self.publish(outbox)
        return UpdateCallMembersResponse(
            call=call,
            members=[member_response(m, users) for m in [*added, *changed]],
            removed=removed,
        )

    async def query_members(
        self, actor: Actor, call_type: str, call_id: str, request: QueryMembersRequest
    ) -> QueryMembersResponse:
        where = compile_filter(request.filter, MEMBER_FIELDS)
        ordering = compile_sort(
            request.sort, MEMBER_FIELDS, [("created_at", 1)], ("user_id", _m.user_id)
        )
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id)
            policy.require(loaded.capabilities, Permission.READ_CALL)

            async def fetch(
                position: list[Any] | None, reverse: bool, limit: int
            ) -> list[MemberRow]:
                return await repo.query_members(
                    loaded.call.cid, where, ordering, limit, position, reverse
                )

            rows, next_cursor, prev_cursor = await _page(request, ordering, fetch, _member_key)
            members = await members_response(repo, rows)
        return QueryMembersResponse(members=members, next=next_cursor, prev=prev_cursor)

    # --- query calls -----------------------------------------------------------------

    async def _visible_clause(self, repo: Repository, actor: Actor) -> ColumnElement[bool]:
        """Users see the calls they created or are members of, of types where they may
        read calls, and never calls of teams they are not in. Servers see all."""
        if actor.is_server:
            return true()
        assert actor.user is not None
        user_id = actor.user.id
        types = await self.call_types.all(repo)
        is_member = exists(select(_m.user_id).where(_m.call_cid == _c.cid, _m.user_id == user_id))
        alternatives: list[ColumnElement[bool]] = []
        for parsed in types:
            readers = [
                r.value for r, perms in parsed.grants.items() if Permission.READ_CALL in perms
            ]
            member_reads = exists(
                select(_m.user_id).where(
                    _m.call_cid == _c.cid, _m.user_id == user_id, _m.role.in_(readers)
                )
            )
            if actor.role is not None and actor.role.value in readers:
                related = or_(_c.created_by_id == user_id, is_member)
            else:
                related = member_reads
            alternatives.append(and_(_c.type == parsed.name, related))
        teams = actor.teams
        team_ok = or_(_c.team.is_(None), _c.team.in_(teams)) if teams else _c.team.is_(None)
        return and_(or_(false(), *alternatives), team_ok)

    async def query_calls(
        self, actor: Actor, request: QueryCallsRequest, connection_id: str | None
    ) -> QueryCallsResponse:
        if request.watch and connection_id is None:
            raise invalid_input(
                "'watch' needs 'connection_id' of your WebSocket connection.", "connection_id"
            )
        where = compile_filter(request.filter, CALL_FIELDS)
        ordering = compile_sort(request.sort, CALL_FIELDS, [("created_at", -1)], ("cid", _c.cid))
        async with self.store.transaction() as repo:
            visible = and_(where, await self._visible_clause(repo, actor))

            async def fetch(position: list[Any] | None, reverse: bool, limit: int) -> list[CallRow]:
                return await repo.query_calls(visible, ordering, limit, position, reverse)

            rows, next_cursor, prev_cursor = await _page(request, ordering, fetch, _call_key)
            states = []
            for row in rows:
                parsed = await self.call_types.get(repo, row.type)
                member = await repo.get_member(row.cid, actor.user_id) if actor.user_id else None
                caps = self._capabilities(actor, parsed, member)
                loaded = Loaded(row, parsed, member, caps)
                call, members = await self._state(repo, loaded)
                states.append(CallStateResponse(call=call, members=members, own_capabilities=caps))
                if request.watch:
                    self._watch(actor, connection_id, row.cid)
        return QueryCallsResponse(calls=states, next=next_cursor, prev=prev_cursor)

    # --- backstage and custom events -------------------------------------------------

    async def set_live(
        self, actor: Actor, call_type: str, call_id: str, live: bool
    ) -> CallEnvelope:
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.UPDATE_CALL)
            if loaded.call.ended_at is not None:
                raise ApiError(ErrorCode.CALL_ENDED, "This call has ended; it cannot go live.")
            now = self.clock()
            changed = loaded.call.live != live
            if changed:
                await repo.update_call(loaded.call.cid, {"live": live, "updated_at": now})
                loaded.call.live = live
                loaded.call.updated_at = now
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            if changed:
                event_class = CallLiveStartedEvent if live else CallLiveStoppedEvent
                outbox.add(event_class(call_cid=loaded.call.cid, created_at=now, call=call), [])
        self.publish(outbox)
        return CallEnvelope(call=call)

    async def send_event(
        self, actor: Actor, call_type: str, call_id: str, custom: dict[str, Any]
    ) -> SendEventResponse:
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Custom events are sent by users.")
        outbox = Outbox()
        async with self.store.transaction() as repo:
            loaded = await self.load(repo, actor, call_type, call_id)
            policy.require(loaded.capabilities, Permission.SEND_EVENT)
            now = self.clock()
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            user = user_response(actor.user)
            outbox.add(
                CallCustomEvent(
                    call_cid=loaded.call.cid, created_at=now, call=call, custom=custom, user=user
                ),
                [],
            )
        self.publish(outbox)
        return SendEventResponse(call_cid=loaded.call.cid, created_at=now, custom=custom, user=user)


def _member_key(row: MemberRow) -> dict[str, Any]:
    return {"user_id": row.user_id, "created_at": row.created_at, "updated_at": row.updated_at}


def _call_key(row: CallRow) -> dict[str, Any]:
    return {"cid": row.cid, "created_at": row.created_at, "updated_at": row.updated_at}


async def _page(
    request: Any, ordering: Any, fetch: Any, key: Any
) -> tuple[list[Any], str | None, str | None]:
    """One page of keyset pagination: fetch one extra row to know whether more follow."""
    if request.next is not None and request.prev is not None:
        raise invalid_input("Give 'next' or 'prev', not both.", "next")
    limit = request.limit
    if request.prev is not None:
        _, before = decode_cursor(request.prev, ordering, "prev")
        rows = list(reversed(await fetch(before, True, limit + 1)))
        more_before = len(rows) > limit
        rows = rows[1:] if more_before else rows
        next_cursor = encode_cursor(ordering, key(rows[-1]), "next") if rows else None
        prev_cursor = (
            encode_cursor(ordering, key(rows[0]), "prev") if rows and more_before else None
        )
        return rows, next_cursor, prev_cursor
    position: list[Any] | None = (
        decode_cursor(request.next, ordering, "next")[1] if request.next is not None else None
    )
    rows = await fetch(position, False, limit + 1)
    more_after = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(ordering, key(rows[-1]), "next") if rows and more_after else None
    prev_cursor = (
        encode_cursor(ordering, key(rows[0]), "prev") if rows and position is not None else None
    )
    return rows, next_cursor, prev_cursor
