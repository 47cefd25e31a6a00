"""Watching follows access: a connection hears a call's events only while its user may
read the call.

Access is checked when a connection starts watching; it can be lost later — by being
removed from a call (or given a role without ``read-call``), by leaving the call's team,
by a change of deployment role, or by an edit of the call type's grants. Each of those
re-checks the watches it could affect, and a watch whose user lost access stops. (Member
events of a call still reach its members, and a removed member hears of its own removal:
that event is published before the re-check.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from desktop_app.protocol.permissions import Permission, Role

from . import policy
from .call_type_cache import CallTypeCache
from .context import Outbox
from .hub import Connection, EventHub
from .store import Repository, Store
from .store.rows import CallRow

log = logging.getLogger(__name__)


class WatchGuard:
    def __init__(self, store: Store, hub: EventHub, call_types: CallTypeCache) -> None:
        self.store = store
        self.hub = hub
        self.call_types = call_types

    async def recheck(
        self,
        *,
        cids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        call_type: str | None = None,
    ) -> int:
        """Re-check the watches of ``cids`` (only of ``user_ids`` when both are given), of
        every call ``user_ids`` watch, or of every call of ``call_type``; stop those that
        lost access. Answers how many stopped."""
        pairs = self._pairs(set(cids), set(user_ids), call_type)
        if not pairs:
            return 0
        async with self.store.transaction() as repo:
            lost = await self._lost(repo, pairs)
        self._stop(lost)
        return len(lost)

    async def recheck_in(
        self, repo: Repository, outbox: Outbox, *, cids: Iterable[str], user_ids: Iterable[str]
    ) -> None:
        """The same, inside a write's transaction: the watches stop right after its events
        are delivered, so no later event reaches them (a removed member still hears of
        its own removal)."""
        pairs = self._pairs(set(cids), set(user_ids), None)
        if pairs:
            lost = await self._lost(repo, pairs)
            outbox.after_commit.append(lambda: self._stop(lost))

    async def _lost(
        self, repo: Repository, pairs: list[tuple[Connection, str]]
    ) -> list[tuple[Connection, str]]:
        lost: list[tuple[Connection, str]] = []
        calls: dict[str, CallRow | None] = {}
        for connection, cid in pairs:
            if cid not in calls:
                calls[cid] = await repo.get_call(cid)
            call = calls[cid]
            if call is None or not await self._may_read(repo, connection, call):
                lost.append((connection, cid))
        return lost

    def _stop(self, lost: list[tuple[Connection, str]]) -> None:
        for connection, cid in lost:
            self.hub.unwatch(connection.id, cid)
        if lost:
            log.info("stopped %d watch(es) that lost access", len(lost))

    def _pairs(
        self, cids: set[str], user_ids: set[str], call_type: str | None
    ) -> list[tuple[Connection, str]]:
        if cids:
            return [
                (connection, cid)
                for cid in cids
                for connection in self.hub.watchers_of(cid)
                if not user_ids or connection.user_id in user_ids
            ]
        if user_ids:
            return [
                (connection, cid)
                for user_id in user_ids
                for connection in self.hub.connections_of(user_id)
                for cid in list(connection.watching)
            ]
        if call_type is not None:
            prefix = f"{call_type}:"
            return [
                (connection, cid)
                for cid in self.hub.watched_calls()
                if cid.startswith(prefix)
                for connection in self.hub.watchers_of(cid)
            ]
        return []

    async def _may_read(self, repo: Repository, connection: Connection, call: CallRow) -> bool:
        user = await repo.get_user(connection.user_id)
        if user is None:
            return False
        if not policy.team_visible(call.team, list(user.teams), is_server=False):
            return False
        parsed = await self.call_types.get(repo, call.type)
        member = await repo.get_member(call.cid, user.id)
        granted = policy.capabilities(
            parsed.grants,
            connection.role or Role(user.role),
            Role(member.role) if member else None,
        )
        return Permission.READ_CALL in granted
