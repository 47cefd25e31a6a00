"""Per-request context: who is acting, and the events to publish once the write commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from desktop_app.protocol.events import CallEventBase
from desktop_app.protocol.permissions import Role

from .auth import Principal
from .clock import Clock
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
    """What a write transaction leaves to do once it has committed: events to publish,
    calls whose snapshots are now stale, and other actions.

    Every write to a call goes through an outbox. Raising an event marks its call as
    changed; a write without an event must call :meth:`touch` itself.
    """

    items: list[tuple[CallEventBase, list[str], bool]] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    #: Undo what the write did outside the database, when it does not commit.
    if_rolled_back: list[Callable[[], None]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    #: The events as sent, made by :meth:`seal` before the commit.
    payloads: list[str] = field(default_factory=list)

    def add(self, event: CallEventBase, member_ids: list[str], watchers: bool = True) -> None:
        """Publish ``event`` to the call's watchers (unless ``watchers`` is false) and, for
        member events, to every connection of ``member_ids``."""
        self.items.append((event, member_ids, watchers))
        self.touched.add(event.call_cid)

    def touch(self, cid: str) -> None:
        self.touched.add(cid)

    def seal(self) -> None:
        """Serialize the events while the transaction can still roll back: an event that
        cannot be sent undoes the write instead of failing after it."""
        self.payloads = [event.model_dump_json() for event, _, _ in self.items]


__all__ = ["Actor", "Clock", "Outbox"]
