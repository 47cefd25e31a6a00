"""Users, call types, deployment settings and sign-up.

Call types and app settings are for server tokens only. Any signed-in user may list and read
users (that is how the app finds people to ring) and change their own profile; only server
tokens set roles and teams.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement, and_, true

from desktop_app.protocol import ID_PATTERN, ErrorCode
from desktop_app.protocol.app import AppSettings, UpdateAppRequest
from desktop_app.protocol.call_types import (
    CallTypeResponse,
    CallTypesResponse,
    CreateCallTypeRequest,
    UpdateCallTypeRequest,
)
from desktop_app.protocol.permissions import Role
from desktop_app.protocol.queries import SortParam
from desktop_app.protocol.users import (
    SignUpRequest,
    SignUpResponse,
    UpdateUserRequest,
    UpsertUsersRequest,
    UserPresenceResponse,
    UserRequest,
    UsersResponse,
)

from .auth import Principal, create_user_token
from .call_type_cache import CallTypeCache, parse_call_type
from .context import Actor, Clock
from .problems import ApiError, invalid_input
from .read_cache import CallCache
from .store import Repository, Store, schema
from .store.query import Field, compile_sort, decode_cursor, encode_cursor
from .store.rows import CallTypeRow, UserRow
from .views import listed_user, user_response

_u = schema.users.c
USER_FIELDS = {"id": Field(_u.id, "string", sortable=True)}


USER_CACHE_SIZE = 10_000

#: App settings that ``null`` in a PATCH resets (to empty / off).
CLEARABLE_APP_SETTINGS = frozenset({"webhook_url", "janus_url"})


def require_server(actor: Actor, doing: str) -> None:
    if not actor.is_server:
        raise ApiError(ErrorCode.NOT_ALLOWED, f"Only a server token may {doing}.")


def call_type_response(row: CallTypeRow) -> CallTypeResponse:
    parsed = parse_call_type(row)
    return CallTypeResponse(
        name=row.name,
        settings=parsed.settings,
        grants=parsed.grants,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class AdminService:
    def __init__(
        self,
        store: Store,
        call_types: CallTypeCache,
        snapshots: CallCache,
        clock: Clock,
        secret: str,
        open_sign_up: bool | None,
        online: Callable[[str], bool] = lambda _user_id: False,
    ) -> None:
        self.store = store
        #: Whether a user has a connected event stream now (the hub knows).
        self.online = online
        self.call_types = call_types
        self.snapshots = snapshots
        #: Signed-in users by id, so that resolving a token needs no database round-trip.
        self._users: OrderedDict[str, UserRow] = OrderedDict()
        self.clock = clock
        self.secret = secret
        self.open_sign_up_override = open_sign_up
        self._app: AppSettings | None = None
        #: Told of every change of the deployment settings (the webhook dispatcher).
        self.app_listeners: list[Callable[[AppSettings], None]] = []
        #: Told, after the commit, of users whose role or teams changed (``user_ids=``)
        #: and of call types whose grants changed (``call_type=``): watches may have lost
        #: access (the watch guard).
        self.access_listeners: list[Callable[..., Awaitable[int]]] = []

    # --- who is calling ----------------------------------------------------------------

    async def actor(self, principal: Principal) -> Actor:
        """Resolve a token to an actor; a valid user token for an unknown user creates it."""
        if principal.is_server:
            return Actor(principal, None)
        assert principal.user_id is not None
        known = self._users.get(principal.user_id)
        if known is not None:
            self._users.move_to_end(principal.user_id)
            return Actor(principal, known)
        async with self.store.transaction() as repo:
            user = await repo.get_user(principal.user_id)
            if user is None or not user.claimed:
                now = self.clock()
                if user is None:
                    user = UserRow(
                        id=principal.user_id, role=Role.USER.value, created_at=now, updated_at=now
                    )
                    await repo.insert_user_if_missing(user)
                else:
                    await repo.update_user(user.id, {"claimed": True})
                    user.claimed = True
        self._remember(user)
        return Actor(principal, user)

    def _remember(self, user: UserRow) -> None:
        if user.claimed:
            self._users[user.id] = user
            self._users.move_to_end(user.id)
            while len(self._users) > USER_CACHE_SIZE:
                self._users.popitem(last=False)
        else:
            self._users.pop(user.id, None)

    def _changed(self, users: list[UserRow]) -> None:
        """Users' profiles appear inside call snapshots: drop those, remember the new rows."""
        for user in users:
            self._remember(user)
        self.snapshots.clear()

    async def upsert_from_connection(self, actor: Actor, details: dict[str, Any]) -> UserRow:
        """A WebSocket client's own name, image and custom data are stored on connect."""
        assert actor.user is not None
        values = {
            k: v
            for k, v in details.items()
            if k in ("name", "image", "custom") and v is not None and getattr(actor.user, k) != v
        }
        if not values:
            return actor.user
        values["updated_at"] = self.clock()
        async with self.store.transaction() as repo:
            await repo.update_user(actor.user.id, values)
            user = await repo.get_user(actor.user.id)
        assert user is not None
        self._changed([user])
        return user

    # --- users -------------------------------------------------------------------------

    async def upsert_users(self, actor: Actor, request: UpsertUsersRequest) -> UsersResponse:
        require_server(actor, "create or change users in bulk")
        ids = [u.id for u in request.users]
        if len(set(ids)) != len(ids):
            raise invalid_input("A user id appears twice in 'users'.", "users")
        async with self.store.transaction() as repo:
            rows = [await self._upsert(repo, u.id, u, claim=True) for u in request.users]
        self._changed(rows)
        access = [u.id for u in request.users if {"role", "teams"} & u.model_fields_set]
        await self._access_changed(user_ids=access)
        return UsersResponse(users=[self._listed(r, teams=True) for r in rows])

    async def _upsert(
        self, repo: Repository, user_id: str, request: UserRequest | UpdateUserRequest, claim: bool
    ) -> UserRow:
        now = self.clock()
        existing = await repo.get_user(user_id)
        present = request.model_fields_set - {"id"}
        values: dict[str, Any] = {}
        for key in present:
            value = getattr(request, key)
            if key == "role":
                values[key] = (value or Role.USER).value
            elif key in ("teams", "custom"):
                values[key] = list(value or []) if key == "teams" else dict(value or {})
            else:
                values[key] = value
        if existing is None:
            row = UserRow(
                id=user_id, role=Role.USER.value, created_at=now, updated_at=now, claimed=claim
            )
            for key, value in values.items():
                setattr(row, key, value)
            await repo.insert_user_if_missing(row)
            return row
        values["updated_at"] = now
        if claim:
            values["claimed"] = True
        await repo.update_user(user_id, values)
        for key, value in values.items():
            setattr(existing, key, value)
        return existing

    def _listed(self, row: UserRow, teams: bool) -> UserPresenceResponse:
        return listed_user(row, teams=teams, online=self.online(row.id))

    async def get_user(self, actor: Actor, user_id: str) -> UserPresenceResponse:
        async with self.store.transaction() as repo:
            row = await repo.get_user(user_id)
        own = actor.is_server or actor.user_id == user_id
        if row is None or not (row.claimed or own):
            # Users named as members but never signed in are left out of the list too.
            raise ApiError(ErrorCode.NOT_FOUND, f"There is no user {user_id!r}.")
        return self._listed(row, teams=own)

    async def put_user(
        self, actor: Actor, user_id: str, request: UpdateUserRequest
    ) -> UserPresenceResponse:
        if not actor.is_server:
            if actor.user_id != user_id:
                raise ApiError(ErrorCode.NOT_ALLOWED, "You can change only your own profile.")
            if {"role", "teams"} & request.model_fields_set:
                raise ApiError(
                    ErrorCode.NOT_ALLOWED, "Only a server token may change roles and teams."
                )
        async with self.store.transaction() as repo:
            row = await self._upsert(repo, user_id, request, claim=actor.is_server)
        self._changed([row])
        if {"role", "teams"} & request.model_fields_set:
            await self._access_changed(user_ids=[user_id])
        return self._listed(row, teams=True)

    async def _access_changed(self, **what: Any) -> None:
        if not any(what.values()):
            return
        for listener in self.access_listeners:
            await listener(**what)

    async def query_users(
        self, actor: Actor, ids: list[str], limit: int, cursor: str | None
    ) -> UsersResponse:
        for user_id in ids:
            if not re.fullmatch(ID_PATTERN, user_id):
                raise invalid_input(f"{user_id[:80]!r} is not a user id.", "id")
        ordering = compile_sort(
            [SortParam(field="id", direction=1)], USER_FIELDS, [], ("id", _u.id)
        )
        position = decode_cursor(cursor, ordering, "next")[1] if cursor else None
        where: ColumnElement[bool] = _u.id.in_(ids) if ids else true()
        if not actor.is_server:
            where = and_(where, _u.claimed.is_(True))
        async with self.store.transaction() as repo:
            rows = await repo.query_users(where, ordering, limit + 1, position)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            encode_cursor(ordering, {"id": rows[-1].id}, "next") if rows and more else None
        )
        users = [self._listed(r, teams=actor.is_server or r.id == actor.user_id) for r in rows]
        return UsersResponse(users=users, next=next_cursor)

    # --- sign-up -----------------------------------------------------------------------

    async def sign_up(self, request: SignUpRequest) -> SignUpResponse:
        app = await self.app_settings()
        if not app.open_sign_up:
            raise ApiError(
                ErrorCode.NOT_ALLOWED,
                "This server does not allow open sign-up; ask its admin for a token.",
            )
        async with self.store.transaction() as repo:
            existing = await repo.get_user(request.user_id)
            if existing is not None and existing.claimed:
                raise ApiError(
                    ErrorCode.CONFLICT, f"The user id {request.user_id!r} is taken; choose another."
                )
            given = {"name": request.name, "image": request.image}
            update = UpdateUserRequest(**{k: v for k, v in given.items() if v is not None})
            row = await self._upsert(repo, request.user_id, update, claim=True)
        self._changed([row])
        return SignUpResponse(
            token=create_user_token(self.secret, row.id), user=user_response(row, teams=True)
        )

    # --- call types ----------------------------------------------------------------------

    async def list_call_types(self, actor: Actor) -> CallTypesResponse:
        require_server(actor, "manage call types")
        async with self.store.transaction() as repo:
            rows = await repo.list_call_types()
        return CallTypesResponse(call_types=[call_type_response(r) for r in rows])

    async def get_call_type(self, actor: Actor, name: str) -> CallTypeResponse:
        require_server(actor, "manage call types")
        async with self.store.transaction() as repo:
            row = await repo.get_call_type(name)
        if row is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"There is no call type {name!r}.")
        return call_type_response(row)

    async def create_call_type(
        self, actor: Actor, request: CreateCallTypeRequest
    ) -> CallTypeResponse:
        require_server(actor, "manage call types")
        now = self.clock()
        row = CallTypeRow(
            name=request.name,
            settings=request.settings.model_dump(),
            grants={role.value: [p.value for p in perms] for role, perms in request.grants.items()},
            created_at=now,
            updated_at=now,
        )
        async with self.store.transaction() as repo:
            if not await repo.insert_call_type(row):
                raise ApiError(ErrorCode.CONFLICT, f"A call type {request.name!r} exists already.")
        self.call_types.invalidate()
        self.snapshots.clear()
        return call_type_response(row)

    async def update_call_type(
        self, actor: Actor, name: str, request: UpdateCallTypeRequest
    ) -> CallTypeResponse:
        require_server(actor, "manage call types")
        async with self.store.transaction() as repo:
            row = await repo.get_call_type(name)
            if row is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"There is no call type {name!r}.")
            values: dict[str, Any] = {"updated_at": self.clock()}
            if request.settings is not None:
                values["settings"] = request.settings.model_dump()
            if request.grants is not None:
                grants = dict(row.grants)
                grants.update(
                    {r.value: [p.value for p in perms] for r, perms in request.grants.items()}
                )
                values["grants"] = grants
            await repo.update_call_type(name, values)
            for key, value in values.items():
                setattr(row, key, value)
        self.call_types.invalidate()
        self.snapshots.clear()
        if request.grants is not None:
            await self._access_changed(call_type=name)
        return call_type_response(row)

    async def delete_call_type(self, actor: Actor, name: str) -> CallTypeResponse:
        require_server(actor, "manage call types")
        async with self.store.transaction() as repo:
            row = await repo.get_call_type(name)
            if row is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"There is no call type {name!r}.")
            count = await repo.count_calls_of_type(name)
            if count:
                raise ApiError(
                    ErrorCode.CONFLICT,
                    f"{count} call(s) still use the type {name!r}; delete them first.",
                )
            await repo.delete_call_type(name)
        self.call_types.invalidate()
        self.snapshots.clear()
        return call_type_response(row)

    # --- app settings --------------------------------------------------------------------

    async def app_settings(self) -> AppSettings:
        if self._app is None:
            async with self.store.transaction() as repo:
                stored = await repo.get_app_settings()
            self._app = AppSettings.model_validate(stored or {})
        if self.open_sign_up_override is not None:
            return self._app.model_copy(update={"open_sign_up": self.open_sign_up_override})
        return self._app

    async def get_app(self, actor: Actor) -> AppSettings:
        require_server(actor, "read the deployment settings")
        return await self.app_settings()

    async def update_app(self, actor: Actor, request: UpdateAppRequest) -> AppSettings:
        require_server(actor, "change the deployment settings")
        async with self.store.transaction() as repo:
            stored = await repo.get_app_settings() or {}
            current = AppSettings.model_validate(stored)
            changes = request.model_dump(exclude_unset=True)
            # null clears a setting that may be empty; for the others it means "no change"
            for key, value in list(changes.items()):
                if value is None and key not in CLEARABLE_APP_SETTINGS:
                    del changes[key]
            updated = AppSettings.model_validate({**current.model_dump(), **changes})
            await repo.put_app_settings(updated.model_dump(mode="json"))
        self._app = updated
        current_settings = await self.app_settings()
        for listener in self.app_listeners:
            listener(current_settings)
        return current_settings
