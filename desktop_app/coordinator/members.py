"""A call's members: add, update (role, custom data) and remove them, and query them with
filters, sort and cursors. ``call.member_added`` / ``…_updated`` / ``…_removed`` go to the
members (a removed member hears of its own removal)."""

from __future__ import annotations

from typing import Any

from desktop_app.protocol.calls import (
    QueryMembersRequest,
    QueryMembersResponse,
    UpdateCallMembersRequest,
    UpdateCallMembersResponse,
)
from desktop_app.protocol.events import (
    CallMemberAddedEvent,
    CallMemberRemovedEvent,
    CallMemberUpdatedEvent,
)
from desktop_app.protocol.permissions import Permission, Role

from . import policy
from .context import Actor, Outbox
from .problems import invalid_input
from .services import Services
from .store import schema
from .store.query import Field, compile_filter, compile_sort, keyset_page
from .store.rows import MemberRow
from .views import call_response, member_response, members_response
from .watch_access import WatchGuard

_m = schema.call_members.c

MEMBER_FIELDS: dict[str, Field] = {
    "user_id": Field(_m.user_id, "string", sortable=True),
    "role": Field(_m.role, "string"),
    "created_at": Field(_m.created_at, "datetime", sortable=True),
    "updated_at": Field(_m.updated_at, "datetime", sortable=True),
    "custom": Field(_m.custom, "custom"),
}


def _member_key(row: MemberRow) -> dict[str, Any]:
    return {"user_id": row.user_id, "created_at": row.created_at, "updated_at": row.updated_at}


class MemberService:
    def __init__(self, services: Services, watches: WatchGuard) -> None:
        self.services = services
        self.watches = watches

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
        async with self.services.write(outbox) as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id, lock=True)
            if updates:
                policy.require(loaded.capabilities, Permission.UPDATE_CALL_MEMBER)
                for wanted in updates.values():
                    if wanted.role is not None:
                        policy.check_role_assignable(
                            loaded.capabilities,
                            wanted.role,
                            loaded.call_type.grants,
                            actor.is_server,
                        )
            if removals:
                policy.require(loaded.capabilities, Permission.REMOVE_CALL_MEMBER)
            cid = loaded.call.cid
            for user_id in [*removals, *(u for u, m in updates.items() if m.role is not None)]:
                current = await repo.get_member(cid, user_id)
                if current is not None and current.user_id != actor.user_id:
                    policy.check_role_assignable(
                        loaded.capabilities,
                        Role(current.role),
                        loaded.call_type.grants,
                        actor.is_server,
                        taking=True,
                    )
            now = self.services.clock()
            users = await self.services.ensure_users(repo, list(updates), now)
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
            member_ids_before = await self.services.audience(repo, loaded.call)
            if removed:
                await repo.delete_members(cid, removed)
            call = await call_response(repo, loaded.call, loaded.call_type.settings)
            member_ids = await self.services.audience(repo, loaded.call)
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
            demoted = [m.user_id for m in changed if updates[m.user_id].role is not None]
            await self.watches.recheck_in(repo, outbox, cids=[cid], user_ids=[*removed, *demoted])
            if removed:
                outbox.add(
                    CallMemberRemovedEvent(
                        call_cid=cid, created_at=now, call=call, members=removed
                    ),
                    member_ids_before,
                )
        self.services.publish(outbox)  # a removed member hears of it, then stops watching
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
        async with self.services.store.transaction() as repo:
            loaded = await self.services.load(repo, actor, call_type, call_id)
            policy.require(loaded.capabilities, Permission.READ_CALL)

            async def fetch(
                position: list[Any] | None, reverse: bool, limit: int
            ) -> list[MemberRow]:
                return await repo.query_members(
                    loaded.call.cid, where, ordering, limit, position, reverse
                )

            rows, next_cursor, prev_cursor = await keyset_page(
                request, ordering, fetch, _member_key
            )
            members = await members_response(repo, rows)
        return QueryMembersResponse(members=members, next=next_cursor, prev=prev_cursor)
