"""Reading and writing the coordinator's tables inside one transaction.

A :class:`Repository` wraps one open connection; :class:`Store` hands one out per
operation (``async with store.transaction() as repo``), so an operation's writes land
together or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, fields
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import schema
from .query import Ordering, after, order_by
from .rows import CallRow, CallTypeRow, MemberRow, ParticipantRow, SessionRow, UserRow

R = TypeVar("R")


def _row(cls: type[R], mapping: Mapping[Any, Any]) -> R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in mapping.items() if k in names})


class Repository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._dialect = connection.dialect.name

    async def _one(
        self, table: Table, cls: type[R], where: ColumnElement[bool], lock: bool = False
    ) -> R | None:
        statement = select(table).where(where)
        if lock and self._dialect == "postgresql":
            statement = statement.with_for_update()
        result = await self.connection.execute(statement)
        found = result.mappings().first()
        return None if found is None else _row(cls, found)

    async def _many(self, statement: Any, cls: type[R]) -> list[R]:
        result = await self.connection.execute(statement)
        return [_row(cls, m) for m in result.mappings().all()]

    def _insert_ignoring_conflict(self, table: Table) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # --- users ---------------------------------------------------------------------

    async def get_user(self, user_id: str) -> UserRow | None:
        return await self._one(schema.users, UserRow, schema.users.c.id == user_id)

    async def get_users(self, user_ids: Iterable[str]) -> dict[str, UserRow]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = await self._many(select(schema.users).where(schema.users.c.id.in_(wanted)), UserRow)
        return {r.id: r for r in rows}

    async def insert_user_if_missing(self, row: UserRow) -> bool:
        result = await self.connection.execute(
            self._insert_ignoring_conflict(schema.users).values(**asdict(row))
        )
        return bool(result.rowcount)

    async def update_user(self, user_id: str, values: Mapping[str, Any]) -> None:
        await self.connection.execute(
            update(schema.users).where(schema.users.c.id == user_id).values(**values)
        )

    async def query_users(
        self,
        where: ColumnElement[bool],
        ordering: Ordering,
        limit: int,
        position: Sequence[Any] | None,
    ) -> list[UserRow]:
        statement = select(schema.users).where(where)
        if position is not None:
            statement = statement.where(after(ordering, position))
        statement = statement.order_by(*order_by(ordering)).limit(limit)
        return await self._many(statement, UserRow)

    # --- call types ----------------------------------------------------------------

    async def list_call_types(self) -> list[CallTypeRow]:
        return await self._many(
            select(schema.call_types).order_by(schema.call_types.c.name), CallTypeRow
        )

    async def get_call_type(self, name: str) -> CallTypeRow | None:
        return await self._one(schema.call_types, CallTypeRow, schema.call_types.c.name == name)

    async def insert_call_type(self, row: CallTypeRow) -> bool:
        result = await self.connection.execute(
            self._insert_ignoring_conflict(schema.call_types).values(**asdict(row))
        )
        return bool(result.rowcount)

    async def update_call_type(self, name: str, values: Mapping[str, Any]) -> None:
        await self.connection.execute(
            update(schema.call_types).where(schema.call_types.c.name == name).values(**values)
        )

    async def delete_call_type(self, name: str) -> None:
        await self.connection.execute(
            delete(schema.call_types).where(schema.call_types.c.name == name)
        )

    async def count_calls_of_type(self, name: str) -> int:
        result = await self.connection.execute(
            select(func.count()).select_from(schema.calls).where(schema.calls.c.type == name)
        )
        return int(result.scalar_one())

    # --- calls ---------------------------------------------------------------------

    async def get_call(self, cid: str, lock: bool = False) -> CallRow | None:
        return await self._one(schema.calls, CallRow, schema.calls.c.cid == cid, lock=lock)

    async def insert_call(self, row: CallRow) -> bool:
        """Insert unless a call with this cid exists; says whether this insert made it."""
        result = await self.connection.execute(
            self._insert_ignoring_conflict(schema.calls).values(**asdict(row))
        )
        return bool(result.rowcount)

    async def update_call(self, cid: str, values: Mapping[str, Any]) -> None:
        await self.connection.execute(
            update(schema.calls).where(schema.calls.c.cid == cid).values(**values)
        )

    async def delete_call(self, cid: str) -> None:
        for table, column in (
            (schema.participants, schema.participants.c.call_cid),
            (schema.call_sessions, schema.call_sessions.c.call_cid),
            (schema.call_members, schema.call_members.c.call_cid),
            (schema.calls, schema.calls.c.cid),
        ):
            await self.connection.execute(delete(table).where(column == cid))

    async def query_calls(
        self,
        where: ColumnElement[bool],
        ordering: Ordering,
        limit: int,
        position: Sequence[Any] | None,
        reverse: bool,
    ) -> list[CallRow]:
        statement = select(schema.calls).where(where)
        if position is not None:
            statement = statement.where(after(ordering, position, reverse))
        statement = statement.order_by(*order_by(ordering, reverse)).limit(limit)
        return await self._many(statement, CallRow)

    # --- members -------------------------------------------------------------------

    async def get_member(self, cid: str, user_id: str) -> MemberRow | None:
        m = schema.call_members.c
        return await self._one(
            schema.call_members, MemberRow, (m.call_cid == cid) & (m.user_id == user_id)
        )

    async def list_members(self, cid: str, limit: int | None = None) -> list[MemberRow]:
        m = schema.call_members.c
        statement = (
            select(schema.call_members).where(m.call_cid == cid).order_by(m.created_at, m.user_id)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return await self._many(statement, MemberRow)

    async def member_roles(self, cid: str) -> dict[str, str]:
        m = schema.call_members.c
        result = await self.connection.execute(select(m.user_id, m.role).where(m.call_cid == cid))
        return {row[0]: row[1] for row in result.all()}

    async def member_ids(self, cid: str) -> list[str]:
        m = schema.call_members.c
        result = await self.connection.execute(select(m.user_id).where(m.call_cid == cid))
        return [r[0] for r in result.all()]

    async def insert_member(self, row: MemberRow) -> None:
        await self.connection.execute(insert(schema.call_members).values(**asdict(row)))

    async def update_member(self, cid: str, user_id: str, values: Mapping[str, Any]) -> None:
        m = schema.call_members.c
        await self.connection.execute(
            update(schema.call_members)
            .where((m.call_cid == cid) & (m.user_id == user_id))
            .values(**values)
        )

    async def delete_members(self, cid: str, user_ids: Sequence[str]) -> None:
        m = schema.call_members.c
        await self.connection.execute(
            delete(schema.call_members).where((m.call_cid == cid) & m.user_id.in_(list(user_ids)))
        )

    async def query_members(
        self,
        cid: str,
        where: ColumnElement[bool],
        ordering: Ordering,
        limit: int,
        position: Sequence[Any] | None,
        reverse: bool,
    ) -> list[MemberRow]:
        statement = select(schema.call_members).where(schema.call_members.c.call_cid == cid, where)
        if position is not None:
            statement = statement.where(after(ordering, position, reverse))
        statement = statement.order_by(*order_by(ordering, reverse)).limit(limit)
        return await self._many(statement, MemberRow)

    # --- sessions and participants -------------------------------------------------

    async def get_session(self, session_id: str) -> SessionRow | None:
        return await self._one(
            schema.call_sessions, SessionRow, schema.call_sessions.c.id == session_id
        )

    async def insert_session(self, row: SessionRow) -> None:
        await self.connection.execute(insert(schema.call_sessions).values(**asdict(row)))

    async def update_session(self, session_id: str, values: Mapping[str, Any]) -> None:
        await self.connection.execute(
            update(schema.call_sessions)
            .where(schema.call_sessions.c.id == session_id)
            .values(**values)
        )

    async def list_participants(self, call_session_id: str) -> list[ParticipantRow]:
        p = schema.participants.c
        return await self._many(
            select(schema.participants)
            .where(p.call_session_id == call_session_id)
            .order_by(p.joined_at),
            ParticipantRow,
        )

    async def get_participant(self, session_id: str) -> ParticipantRow | None:
        return await self._one(
            schema.participants, ParticipantRow, schema.participants.c.session_id == session_id
        )

    async def insert_participant(self, row: ParticipantRow) -> None:
        await self.connection.execute(insert(schema.participants).values(**asdict(row)))

    async def delete_participant(self, session_id: str) -> None:
        await self.connection.execute(
            delete(schema.participants).where(schema.participants.c.session_id == session_id)
        )

    async def participants_of_connection(self, connection_id: str) -> list[ParticipantRow]:
        p = schema.participants.c
        return await self._many(
            select(schema.participants).where(p.connection_id == connection_id), ParticipantRow
        )

    async def all_participants(self) -> list[ParticipantRow]:
        return await self._many(select(schema.participants), ParticipantRow)

    async def sessions_with_ring_deadlines(self) -> list[SessionRow]:
        s = schema.call_sessions.c
        return await self._many(
            select(schema.call_sessions).where(s.ring_deadline.is_not(None)), SessionRow
        )

    async def sessions_ringing_for_connection(self, connection_id: str) -> list[SessionRow]:
        s = schema.call_sessions.c
        return await self._many(
            select(schema.call_sessions).where(s.ring_connection_id == connection_id), SessionRow
        )

    async def get_session_for_update(self, session_id: str) -> SessionRow | None:
        return await self._one(
            schema.call_sessions, SessionRow, schema.call_sessions.c.id == session_id, lock=True
        )

    async def sessions_in_progress(self) -> list[SessionRow]:
        s = schema.call_sessions.c
        return await self._many(
            select(schema.call_sessions).where(s.started_at.is_not(None), s.ended_at.is_(None)),
            SessionRow,
        )

    # --- app settings --------------------------------------------------------------

    async def get_app_settings(self) -> dict[str, Any] | None:
        result = await self.connection.execute(
            select(schema.app_settings.c.value).where(schema.app_settings.c.key == "app")
        )
        value = result.scalar_one_or_none()
        return dict(value) if value is not None else None

    async def put_app_settings(self, value: Mapping[str, Any]) -> None:
        exists = await self.get_app_settings()
        if exists is None:
            await self.connection.execute(
                insert(schema.app_settings).values(key="app", value=dict(value))
            )
        else:
            await self.connection.execute(
                update(schema.app_settings)
                .where(schema.app_settings.c.key == "app")
                .values(value=dict(value))
            )


class Store:
    """The database behind the coordinator; hands out one repository per transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repository]:
        async with self.engine.begin() as connection:
            yield Repository(connection)

    async def close(self) -> None:
        await self.engine.dispose()
