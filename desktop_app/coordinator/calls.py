"""The call as a resource: get-or-create, load, update, delete, backstage (go live, stop
live) and custom events.

Every operation runs in one transaction, checks the caller's capabilities through
:mod:`.policy`, and raises its events into an :class:`Outbox` that is published only after
the transaction commits, so nobody hears of a change that did not happen. Reads go through
the snapshot cache (:mod:`.read_cache`).
"""

from __future__ import annotations

import functools
from typing import Any

from desktop_app.protocol import ErrorCode, make_cid
from desktop_app.protocol.calls import (
    CallEnvelope,
    CallRequest,
    CallStateResponse,
    SendEventResponse,
    UpdateCallRequest,
)
from desktop_app.protocol.events import (
    CallCustomEvent,
    CallDeletedEvent,
    CallLiveStartedEvent,
    CallLiveStoppedEvent,
    CallUpdatedEvent,
)
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import CallSettingsOverride, combine_overrides, merge_settings

from . import policy
from .call_type_cache import ParsedCallType
from .context import Actor, Outbox
from .creation import create_call
from .problems import ApiError
from .read_cache import SNAPSHOT_MEMBERS, CallSnapshot, CallView
from .services import Announce, Services, not_found
from .sessions import SessionService
from .store import Repository
from .store.rows import CallRow
from .views import call_response, members_response, user_response


class CallService:
    def __init__(self, services: Services, sessions: SessionService) -> None:
        self.services = services
        #: Told when an update changes the call's duration limit, or the call goes.
        self.sessions = sessions

    # --- reading (through the snapshot cache) and get-or-create -----------------------

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
        snapshot = self.services.snapshots.get(cid)
        if snapshot is not None:
            return snapshot
        generation = self.services.snapshots.generation(cid)
        async with self.services.store.transaction() as repo:
            parsed = await self.services.call_types.get(repo, call_type)
            call = await repo.get_call(cid)
            if call is None:
                return None
            snapshot = await self._snapshot(repo, call, parsed)
        self.services.snapshots.put(cid, snapshot, generation)
        return snapshot

    def _view(
        self, actor: Actor, snapshot: CallSnapshot, connection_id: str | None, created: bool
    ) -> CallView:
        """The caller's view of a call they are allowed to read."""
        if not policy.team_visible(snapshot.call.team, actor.teams, actor.is_server):
            raise not_found(snapshot.call.cid)
        member_role = snapshot.member_roles.get(actor.user_id) if actor.user_id else None
        capabilities = policy.capabilities(
            snapshot.call_type.grants, actor.role, member_role, is_server=actor.is_server
        )
        if not created:
            policy.require(capabilities, Permission.READ_CALL)
        self.services.watch(actor, connection_id, snapshot.call.cid)
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
        announce: Announce | None = None,
    ) -> CallView:
        """The call, created first when it does not exist. ``ring``: the request rings, so
        a new call with nobody to ring is refused before it is stored. ``announce`` (the
        ring itself, a notification) runs in the same transaction: a refused ring leaves
        no call behind."""
        if announce is None:
            existing = await self._read(actor, call_type, call_id)
            if existing is not None:
                return self._view(actor, existing, connection_id, created=False)
        return await self._write_then_read(
            actor, call_type, call_id, connection_id, announce, data or CallRequest(), video, ring
        )

    async def get(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        connection_id: str | None,
        announce: Announce | None = None,
    ) -> CallView:
        if announce is not None:
            return await self._write_then_read(actor, call_type, call_id, connection_id, announce)
        snapshot = await self._read(actor, call_type, call_id)
        if snapshot is None:
            raise not_found(make_cid(call_type, call_id))
        return self._view(actor, snapshot, connection_id, created=False)

    async def _write_then_read(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        connection_id: str | None,
        announce: Announce | None,
        create: CallRequest | None = None,
        video: bool | None = None,
        ring: bool = False,
    ) -> CallView:
        """One transaction: create the call (with ``create``) or load it, announce it, and
        read it once as it then is."""
        if connection_id is not None:
            self.services.own_connection(actor, connection_id)
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = None
            if create is not None and await repo.get_call(make_cid(call_type, call_id)) is None:
                loaded = await create_call(
                    self.services, repo, actor, call_type, call_id, create, video, outbox, ring
                )
            created = loaded is not None
            if loaded is None:  # it exists (perhaps created by someone else a moment ago)
                loaded = await self.services.load(
                    repo, actor, call_type, call_id, lock=announce is not None
                )
                policy.require(loaded.capabilities, Permission.READ_CALL)
            if announce is not None:
                await announce(repo, actor, loaded, outbox)
            # Watching before the commit: a connection gone by now must not turn a write
            # that happened into an error answer.
            self.services.watch(actor, connection_id, loaded.call.cid)
            snapshot = await self._snapshot(repo, loaded.call, loaded.call_type)
        self.services.publish(outbox)
        return self._view(actor, snapshot, None, created=created)

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
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.UPDATE_CALL)
            now = self.services.clock()
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
            self.services.watch(actor, connection_id, loaded.call.cid)
            call, members = await self.services.state(repo, loaded)
            outbox.add(CallUpdatedEvent(call_cid=loaded.call.cid, created_at=now, call=call), [])
        self.services.publish(outbox)
        self.sessions.arm_duration_limit(loaded.call.cid, call)
        return CallStateResponse(call=call, members=members, own_capabilities=loaded.capabilities)

    async def delete(self, actor: Actor, call_type: str, call_id: str) -> CallEnvelope:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.DELETE_CALL)
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            member_ids = await self.services.audience(repo, loaded.call)
            current = loaded.call.current_session_id
            session = await repo.get_session(current) if current else None
            rooms = self.sessions.rooms
            if session is not None and session.ended_at is None and rooms is not None:
                outbox.after_commit.append(functools.partial(rooms.release_room, session))
            await repo.delete_call(loaded.call.cid)
            outbox.add(
                CallDeletedEvent(
                    call_cid=loaded.call.cid, created_at=self.services.clock(), call=call
                ),
                member_ids,
            )
        self.services.publish(outbox)
        self.services.hub.unwatch_call(loaded.call.cid)
        self.sessions.disarm_duration_limit(loaded.call.cid)
        return CallEnvelope(call=call)

    # --- backstage and custom events -------------------------------------------------

    async def set_live(
        self,
        actor: Actor,
        call_type: str,
        call_id: str,
        live: bool,
        announce: Announce | None = None,
    ) -> CallEnvelope:
        """Go live (leave backstage) or back to backstage; going live may notify the
        members (``announce``) in the same transaction."""
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            policy.require(loaded.capabilities, Permission.UPDATE_CALL)
            if loaded.call.ended_at is not None:
                raise ApiError(ErrorCode.CALL_ENDED, "This call has ended; it cannot go live.")
            now = self.services.clock()
            changed = loaded.call.live != live
            if changed:
                await repo.update_call(loaded.call.cid, {"live": live, "updated_at": now})
                loaded.call.live = live
                loaded.call.updated_at = now
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            if changed:
                event_class = CallLiveStartedEvent if live else CallLiveStoppedEvent
                outbox.add(event_class(call_cid=loaded.call.cid, created_at=now, call=call), [])
            if announce is not None:  # the notification follows the news that it is live
                await announce(repo, actor, loaded, outbox)
                call = await call_response(repo, loaded.call, loaded.call_type.settings)
        self.services.publish(outbox)
        return CallEnvelope(call=call)

    async def send_event(
        self, actor: Actor, call_type: str, call_id: str, custom: dict[str, Any]
    ) -> SendEventResponse:
        if actor.user is None:
            raise ApiError(ErrorCode.NOT_ALLOWED, "Custom events are sent by users.")
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id)
            policy.require(loaded.capabilities, Permission.SEND_EVENT)
            now = self.services.clock()
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            user = user_response(actor.user)
            outbox.add(
                CallCustomEvent(
                    call_cid=loaded.call.cid, created_at=now, call=call, custom=custom, user=user
                ),
                [],
            )
        self.services.publish(outbox)
        return SendEventResponse(call_cid=loaded.call.cid, created_at=now, custom=custom, user=user)
