"""Query calls: the calls a user may see (created or member of, of types whose grants let
them read calls, never another team's), filtered, sorted and paged; optionally watched."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from desktop_app.protocol.calls import CallStateResponse, QueryCallsRequest, QueryCallsResponse
from desktop_app.protocol.permissions import Permission

from .context import Actor
from .problems import invalid_input
from .services import Loaded, Services, capabilities_of
from .store import Repository, schema
from .store.query import Field, compile_filter, compile_sort, keyset_page
from .store.rows import CallRow

_m = schema.call_members.c
_c = schema.calls.c

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


def _call_key(row: CallRow) -> dict[str, Any]:
    return {"cid": row.cid, "created_at": row.created_at, "updated_at": row.updated_at}


class CallQueryService:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _visible_clause(self, repo: Repository, actor: Actor) -> ColumnElement[bool]:
        """Users see the calls they created or are members of, of types where they may
        read calls, and never calls of teams they are not in. Servers see all."""
        if actor.is_server:
            return true()
        assert actor.user is not None
        user_id = actor.user.id
        types = await self.services.call_types.all(repo)
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
        async with self.services.store.transaction() as repo:
            visible = and_(where, await self._visible_clause(repo, actor))

            async def fetch(position: list[Any] | None, reverse: bool, limit: int) -> list[CallRow]:
                return await repo.query_calls(visible, ordering, limit, position, reverse)

            rows, next_cursor, prev_cursor = await keyset_page(request, ordering, fetch, _call_key)
            states = []
            for row in rows:
                parsed = await self.services.call_types.get(repo, row.type)
                member = await repo.get_member(row.cid, actor.user_id) if actor.user_id else None
                caps = capabilities_of(actor, parsed, member)
                loaded = Loaded(row, parsed, member, caps)
                call, members = await self.services.state(repo, loaded)
                states.append(CallStateResponse(call=call, members=members, own_capabilities=caps))
                if request.watch:
                    self.services.watch(actor, connection_id, row.cid)
        return QueryCallsResponse(calls=states, next=next_cursor, prev=prev_cursor)
