"""Reading and writing the coordinator's tables inside one transaction.

A :class:`Repository` wraps one open connection; :class:`Store` hands one out per
operation (``async with store.transaction() as repo``), so an operation's writes land
together or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import asdict, fields
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import schema
from .engine import (
    Checkpointer,
    create_postgres_engine,
    create_sqlite_engine,
    is_sqlite,
    sqlite_path,
    upgrade,
)
from .query import Ordering, after, order_by
from .rows import CallRow, CallTypeRow, MemberRow, ParticipantRow, SessionRow, UserRow

R = TypeVar("R")
T = TypeVar("T")

_wrote: ContextVar[bool] = ContextVar("parley_store_wrote", default=False)


def wrote_in_this_task() -> bool:
    """Whether a transaction of the running task (one request) committed a change: an
    error answered after that must not claim that nothing was changed."""
    return _wrote.get()


def _row(cls: type[R], mapping: Mapping[Any, Any]) -> R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in mapping.items() if k in names})


def _where_equal(table: Table, *columns: str) -> Select[Any]:
    return select(table).where(*(table.c[name] == bindparam(name) for name in columns))


# The statements every request runs, built once: SQLAlchemy memoizes a statement's cache
# key on the statement object, so reusing them (with bound parameters) skips rebuilding
# and re-keying a statement on each call — most of the cost of a query on SQLite.
_USER = _where_equal(schema.users, "id")
_USERS = select(schema.users).where(schema.users.c.id.in_(bindparam("ids", expanding=True)))
_CALL = _where_equal(schema.calls, "cid")
_MEMBER = _where_equal(schema.call_members, "call_cid", "user_id")
_MEMBERS = _where_equal(schema.call_members, "call_cid").order_by(
    schema.call_members.c.created_at, schema.call_members.c.user_id
)
_MEMBER_ROLES = select(schema.call_members.c.user_id, schema.call_members.c.role).where(
    schema.call_members.c.call_cid == bindparam("call_cid")
)
_SESSION = _where_equal(schema.call_sessions, "id")
_PARTICIPANT = _where_equal(schema.participants, "session_id")
_PARTICIPANTS = _where_equal(schema.participants, "call_session_id").order_by(
    schema.participants.c.joined_at
)
_LOCKED = {id(q): q.with_for_update() for q in (_CALL, _SESSION)}
_INSERT = {
    t.name: insert(t) for t in (schema.call_members, schema.call_sessions, schema.participants)
}
_INSERT_NEW = {
    dialect: {
        t.name: module.insert(t).on_conflict_do_nothing()
        for t in (schema.users, schema.call_types, schema.calls)
    }
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite))
}
#: One UPDATE per table, keyed by primary key; the parameters name the columns to set.
_UPDATE = {
    t.name: update(t).where(*(c == bindparam(f"key_{c.key}") for c in t.primary_key.columns))
    for t in (
        schema.users,
        schema.call_types,
        schema.calls,
        schema.call_members,
        schema.call_sessions,
        schema.participants,
    )
}


class Repository:
    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._dialect = connection.dialect.name
        #: Whether this transaction changed anything (an INSERT, UPDATE or DELETE ran).
        self.wrote = False

    async def _execute(self, statement: Any, params: Any = None) -> Any:
        if getattr(statement, "is_dml", False):
            self.wrote = True
        return await self.connection.execute(statement, params)

    async def _one(
        self, statement: Select[Any], cls: type[R], lock: bool = False, **params: Any
    ) -> R | None:
        if lock and self._dialect == "postgresql":
            statement = _LOCKED[id(statement)]
        result = await self._execute(statement, params)
        found = result.mappings().first()
        return None if found is None else _row(cls, found)

    async def _many(self, statement: Any, cls: type[R], **params: Any) -> list[R]:
        result = await self._execute(statement, params or None)
        return [_row(cls, m) for m in result.mappings().all()]

    async def _insert(self, table: Table, row: Any) -> None:
        await self._execute(_INSERT[table.name], asdict(row))

    async def _insert_new(self, table: Table, row: Any) -> bool:
        """Insert unless the primary key exists; says whether this insert stored the row."""
        result = await self._execute(_INSERT_NEW[self._dialect][table.name], asdict(row))
        return bool(result.rowcount)

    async def _update(
        self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
    ) -> None:
        if values:
            params = {f"key_{name}": value for name, value in key.items()}
            await self._execute(_UPDATE[table.name], {**params, **values})

    # --- users ---------------------------------------------------------------------

    async def get_user(self, user_id: str) -> UserRow | None:
        return await self._one(_USER, UserRow, id=user_id)

    async def get_users(self, user_ids: Iterable[str]) -> dict[str, UserRow]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = await self._many(_USERS, UserRow, ids=wanted)
        return {r.id: r for r in rows}

    async def insert_user_if_missing(self, row: UserRow) -> bool:
        return await self._insert_new(schema.users, row)

    async def update_user(self, user_id: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.users, {"id": user_id}, values)

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
        return await self._one(_where_equal(schema.call_types, "name"), CallTypeRow, name=name)

    async def insert_call_type(self, row: CallTypeRow) -> bool:
        return await self._insert_new(schema.call_types, row)

    async def update_call_type(self, name: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.call_types, {"name": name}, values)

    async def delete_call_type(self, name: str) -> None:
        await self._execute(delete(schema.call_types).where(schema.call_types.c.name == name))

    async def count_calls_of_type(self, name: str) -> int:
        result = await self._execute(
            select(func.count()).select_from(schema.calls).where(schema.calls.c.type == name)
        )
        return int(result.scalar_one())

    # --- calls ---------------------------------------------------------------------

    async def get_call(self, cid: str, lock: bool = False) -> CallRow | None:
        return await self._one(_CALL, CallRow, lock=lock, cid=cid)

    async def insert_call(self, row: CallRow) -> bool:
        """Insert unless a call with this cid exists; says whether this insert made it."""
        return await self._insert_new(schema.calls, row)

    async def update_call(self, cid: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.calls, {"cid": cid}, values)

    async def delete_call(self, cid: str) -> None:
        for table, column in (
            (schema.participants, schema.participants.c.call_cid),
            (schema.call_sessions, schema.call_sessions.c.call_cid),
            (schema.call_members, schema.call_members.c.call_cid),
            (schema.calls, schema.calls.c.cid),
        ):
            await self._execute(delete(table).where(column == cid))

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
        return await self._one(_MEMBER, MemberRow, call_cid=cid, user_id=user_id)

    async def list_members(self, cid: str, limit: int | None = None) -> list[MemberRow]:
        statement = _MEMBERS if limit is None else _MEMBERS.limit(limit)
        return await self._many(statement, MemberRow, call_cid=cid)

    async def member_roles(self, cid: str) -> dict[str, str]:
        result = await self._execute(_MEMBER_ROLES, {"call_cid": cid})
        return {row[0]: row[1] for row in result.all()}

    async def member_ids(self, cid: str) -> list[str]:
        result = await self._execute(_MEMBER_ROLES, {"call_cid": cid})
        return [r[0] for r in result.all()]

    async def insert_member(self, row: MemberRow) -> None:
        await self._insert(schema.call_members, row)

    async def update_member(self, cid: str, user_id: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.call_members, {"call_cid": cid, "user_id": user_id}, values)

    async def delete_members(self, cid: str, user_ids: Sequence[str]) -> None:
        m = schema.call_members.c
        await self._execute(
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
        return await self._one(_SESSION, SessionRow, id=session_id)

    async def insert_session(self, row: SessionRow) -> None:
        await self._insert(schema.call_sessions, row)

    async def update_session(self, session_id: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.call_sessions, {"id": session_id}, values)

    async def get_participant(self, session_id: str) -> ParticipantRow | None:
        return await self._one(_PARTICIPANT, ParticipantRow, session_id=session_id)

    async def update_participant(self, session_id: str, values: Mapping[str, Any]) -> None:
        await self._update(schema.participants, {"session_id": session_id}, values)

    async def list_participants(self, call_session_id: str) -> list[ParticipantRow]:
        return await self._many(_PARTICIPANTS, ParticipantRow, call_session_id=call_session_id)

    async def insert_participant(self, row: ParticipantRow) -> None:
        await self._insert(schema.participants, row)

    async def delete_participant(self, session_id: str) -> None:
        await self._execute(
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
        return await self._one(_SESSION, SessionRow, lock=True, id=session_id)

    async def sessions_in_progress(self) -> list[SessionRow]:
        s = schema.call_sessions.c
        return await self._many(
            select(schema.call_sessions).where(s.started_at.is_not(None), s.ended_at.is_(None)),
            SessionRow,
        )

    # --- app settings --------------------------------------------------------------

    async def get_app_settings(self) -> dict[str, Any] | None:
        result = await self._execute(
            select(schema.app_settings.c.value).where(schema.app_settings.c.key == "app")
        )
        value = result.scalar_one_or_none()
        return dict(value) if value is not None else None

    async def put_app_settings(self, value: Mapping[str, Any]) -> None:
        exists = await self.get_app_settings()
        if exists is None:
            await self._execute(insert(schema.app_settings).values(key="app", value=dict(value)))
        else:
            await self._execute(
                update(schema.app_settings)
                .where(schema.app_settings.c.key == "app")
                .values(value=dict(value))
            )


class _SyncConnection:
    """A synchronous SQLAlchemy connection behind the ``await connection.execute()`` face
    the repository uses, so one repository serves both stores."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect = connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self._connection.execute(statement, parameters)


class Store:
    """The database behind the coordinator; hands out one repository per transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite: Engine | None = None
        self._postgres: AsyncEngine | None = None
        self._turn = asyncio.Lock()
        self._checkpointer: Checkpointer | None = None
        if is_sqlite(url):
            self._sqlite = create_sqlite_engine(url)
            path = sqlite_path(url)
            if path and path != ":memory:":
                self._checkpointer = Checkpointer(path)
        else:
            self._postgres = create_postgres_engine(url)

    @property
    def dialect(self) -> str:
        return "sqlite" if self._sqlite is not None else "postgresql"

    async def migrate(self) -> None:
        await self.run_sync(upgrade)

    def start(self) -> None:
        """Start background upkeep (SQLite checkpoints); needs a running event loop."""
        if self._checkpointer is not None:
            self._checkpointer.start()

    async def run_sync(self, function: Callable[[Connection], T]) -> T:
        """Run ``function`` with a plain connection in a transaction (migrations, checks)."""
        if self._sqlite is not None:
            async with self._turn:
                with self._sqlite.begin() as connection:
                    return function(connection)
        assert self._postgres is not None
        async with self._postgres.begin() as connection:
            return await connection.run_sync(function)

    @asynccontextmanager
    async def transaction(
        self, before_commit: Callable[[], None] | None = None
    ) -> AsyncIterator[Repository]:
        """One transaction; ``before_commit`` runs last inside it (what it raises rolls
        everything back). Marks this task as having committed a write (see
        :func:`wrote_in_this_task`)."""
        if self._sqlite is not None:
            async with self._turn:
                with self._sqlite.begin() as connection:
                    repo = Repository(_SyncConnection(connection))  # type: ignore[arg-type]
                    yield repo
                    if before_commit is not None:
                        before_commit()
        else:
            assert self._postgres is not None
            async with self._postgres.begin() as connection:
                repo = Repository(connection)
                yield repo
                if before_commit is not None:
                    before_commit()
        if repo.wrote:
            _wrote.set(True)

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.dispose()
        if self._checkpointer is not None:
            await self._checkpointer.close()
        if self._postgres is not None:
            await self._postgres.dispose()
