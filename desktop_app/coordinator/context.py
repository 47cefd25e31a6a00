"""Per-request context: who is acting, and the events to publish once the write commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from desktop_app.protocol.events import CallEventBase
from desktop_app.protocol.permissions import Role

from .auth import Principal
from .store.rows import UserRow


@dataclass
class Actor:
    """The caller of an operation: a user, or the server (optionally acting for a user)."""

    principal: Principal
    user: UserRow | None

    @property
    def is_server(self) -> bool:
        return self.principal.is_server

    @property
    def user_id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def role(self) -> Role | None:
        if self.principal.role is not None:
            return self.principal.role
        return Role(self.user.role) if self.user else None

    @property
    def teams(self) -> list[str]:
        return list(self.user.teams) if self.user else []


@dataclass
class Outbox:
    """Events raised inside a transaction, published only after it commits."""

    items: list[tuple[CallEventBase, list[str]]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def add(self, event: CallEventBase, member_ids: list[str]) -> None:
        self.items.append((event, member_ids))


Clock = Callable[[], datetime]
