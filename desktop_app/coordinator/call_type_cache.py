"""Call types, parsed once and kept in memory.

Call types change rarely and are read on every call operation, so this process keeps them
parsed. Writes made through this process clear the cache; a multi-node deployment clears
it on the other nodes through its event bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import CallSettings

from .call_types import builtin_call_types
from .problems import ApiError
from .store import Repository
from .store.rows import CallTypeRow


@dataclass(frozen=True)
class ParsedCallType:
    name: str
    settings: CallSettings
    grants: dict[Role, list[Permission]]
    row: CallTypeRow


def parse_call_type(row: CallTypeRow) -> ParsedCallType:
    grants = {Role(role): [Permission(p) for p in perms] for role, perms in row.grants.items()}
    return ParsedCallType(row.name, CallSettings.model_validate(row.settings), grants, row)


class CallTypeCache:
    def __init__(self) -> None:
        self._types: dict[str, ParsedCallType] | None = None

    def invalidate(self) -> None:
        self._types = None

    async def _load(self, repo: Repository) -> dict[str, ParsedCallType]:
        if self._types is None:
            self._types = {row.name: parse_call_type(row) for row in await repo.list_call_types()}
        return self._types

    async def all(self, repo: Repository) -> list[ParsedCallType]:
        return list((await self._load(repo)).values())

    async def get(self, repo: Repository, name: str) -> ParsedCallType:
        found = (await self._load(repo)).get(name)
        if found is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"There is no call type {name!r}.")
        return found


async def seed_builtin_call_types(repo: Repository, now: datetime) -> None:
    """Create the built-in call types that do not exist yet (never overwrite edits)."""
    for definition in builtin_call_types():
        await repo.insert_call_type(
            CallTypeRow(
                name=definition.name,
                settings=definition.settings.model_dump(),
                grants={
                    role.value: [p.value for p in perms]
                    for role, perms in definition.grants.items()
                },
                created_at=now,
                updated_at=now,
            )
        )
