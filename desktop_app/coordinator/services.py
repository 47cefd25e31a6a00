"""What every call operation stands on: the store, the event hub, the call types, the read
cache, the timers and the clock, with the steps they all share — load a call together
with the caller's standing in it, and publish a transaction's outbox once it committed.

The operations themselves live one concept to a module (:mod:`.calls`, :mod:`.sessions`,
:mod:`.members`, :mod:`.call_queries`, :mod:`.ringing`, :mod:`.signalling`); each takes
this context explicitly instead of reaching through another service.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from desktop_app.protocol import ErrorCode, make_cid
from desktop_app.protocol.app import AppSettings
from desktop_app.protocol.calls import CallResponse, MemberResponse
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import CallSettings, CallSettingsOverride, merge_settings

from . import policy
from .call_type_cache import CallTypeCache, ParsedCallType
from .context import Actor, Clock, Outbox
from .hub import EventHub
from .problems import ApiError, invalid_input
from .read_cache import CallCache
from .scheduler import Scheduler
from .store import Repository, Store
from .store.rows import CallRow, MemberRow, UserRow
from .views import call_response, members_response
from .webhooks import WebhookDispatcher


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


def not_found(cid: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"There is no call {cid}.")


def capabilities_of(
    actor: Actor, parsed: ParsedCallType, member: MemberRow | None
) -> list[Permission]:
    return policy.capabilities(
        parsed.grants,
        actor.role,
        Role(member.role) if member else None,
        is_server=actor.is_server,
    )


#: A step another operation runs inside its transaction once the call is loaded (or
#: created): ringing or notifying the members as part of get-or-create, load or join.
Announce = Callable[[Repository, Actor, Loaded, Outbox], Awaitable[None]]


@dataclass
class Services:
    store: Store
    hub: EventHub
    call_types: CallTypeCache
    snapshots: CallCache
    scheduler: Scheduler
    clock: Clock
    #: The deployment's settings as they are now (ICE servers, mesh size …).
    app_settings: Callable[[], Awaitable[AppSettings]]
    webhooks: WebhookDispatcher

    @contextlib.asynccontextmanager
    async def write(self, outbox: Outbox) -> AsyncIterator[Repository]:
        """A write transaction whose events are serialized before it commits; one that
        does not commit runs the outbox's ``if_rolled_back`` actions."""
        try:
            async with self.store.transaction(before_commit=outbox.seal) as repo:
                yield repo
        except BaseException:
            for action in outbox.if_rolled_back:
                action()
            raise

    def publish(self, outbox: Outbox) -> None:
        """After a commit: drop stale snapshots, deliver the events (and offer them to the
        webhook), run the deferred actions."""
        for cid in outbox.touched:
            self.snapshots.invalidate(cid)
        if len(outbox.payloads) != len(outbox.items):
            outbox.seal()  # written without :meth:`write`
        for (event, member_ids, watchers), payload in zip(
            outbox.items, outbox.payloads, strict=True
        ):
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
        """The call with the caller's membership and capabilities; a call of a team the
        caller is not in does not exist for them."""
        parsed = await self.call_types.get(repo, call_type)
        cid = make_cid(call_type, call_id)
        call = await repo.get_call(cid, lock=lock)
        if call is None or not policy.team_visible(call.team, actor.teams, actor.is_server):
            raise not_found(cid)
        member = await repo.get_member(cid, actor.user_id) if actor.user_id else None
        return Loaded(call, parsed, member, capabilities_of(actor, parsed, member))

    def own_connection(self, actor: Actor, connection_id: str) -> None:
        """Refuse a ``connection_id`` that is not one of the caller's open connections
        (a server token may name any open connection: it acts for its users)."""
        connection = self.hub.get(connection_id)
        if connection is None or (not actor.is_server and connection.user_id != actor.user_id):
            raise invalid_input(
                "connection_id does not name one of your open WebSocket connections.",
                "connection_id",
            )

    def watch(self, actor: Actor, connection_id: str | None, cid: str) -> None:
        if connection_id is None:
            return
        self.own_connection(actor, connection_id)
        self.hub.watch(connection_id, cid)

    @staticmethod
    async def state(
        repo: Repository, loaded: Loaded, members_limit: int = 25
    ) -> tuple[CallResponse, list[MemberResponse]]:
        call = await call_response(repo, loaded.call, loaded.call_type.settings)
        members = await members_response(
            repo, await repo.list_members(loaded.call.cid, members_limit)
        )
        return call, members

    async def ensure_users(
        self, repo: Repository, user_ids: Sequence[str], now: datetime
    ) -> dict[str, UserRow]:
        """The users named, creating (unclaimed) those the deployment has not met yet."""
        users = await repo.get_users(user_ids)
        for user_id in user_ids:
            if user_id not in users:
                row = UserRow(
                    id=user_id, role=Role.USER.value, created_at=now, updated_at=now, claimed=False
                )
                await repo.insert_user_if_missing(row)
                users[user_id] = row
        return users


__all__ = ["Announce", "Loaded", "Services", "capabilities_of", "effective_settings", "not_found"]
