"""Who may do what in a call: pure functions over call state, no I/O.

A user's capabilities in a call are the grants of their deployment role (from the token's
``role`` claim, else their stored role) together with the grants of their member role when
they are a member of the call. Server tokens may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import CallSettings

from .problems import ApiError

_PERMISSION_ORDER = {p: i for i, p in enumerate(Permission)}

#: A sentence for each permission, used in ``not_allowed`` problems.
_DOING = {
    Permission.CREATE_CALL: "create calls of this type",
    Permission.READ_CALL: "see this call",
    Permission.JOIN_CALL: "join this call",
    Permission.JOIN_BACKSTAGE: "join this call while it is in backstage",
    Permission.JOIN_ENDED_CALL: "join this call after it ended",
    Permission.UPDATE_CALL: "change this call",
    Permission.UPDATE_CALL_SETTINGS: "change this call's settings",
    Permission.END_CALL: "end this call for everyone",
    Permission.DELETE_CALL: "delete this call",
    Permission.UPDATE_CALL_MEMBER: "add or change members of this call",
    Permission.REMOVE_CALL_MEMBER: "remove members from this call",
    Permission.SEND_EVENT: "send events to this call",
    Permission.RING_CALL: "ring the members of this call",
}


def capabilities(
    grants: Mapping[Role, Iterable[Permission]],
    user_role: Role | None,
    member_role: Role | None,
    is_server: bool = False,
) -> list[Permission]:
    """The permissions this caller has in a call, in a stable order."""
    if is_server:
        return list(Permission)
    granted: set[Permission] = set()
    for role in (user_role, member_role):
        if role is not None:
            granted.update(grants.get(role, ()))
    return sorted(granted, key=_PERMISSION_ORDER.__getitem__)


def require(granted: Iterable[Permission], *needed: Permission) -> None:
    have = set(granted)
    for permission in needed:
        if permission not in have:
            raise ApiError(ErrorCode.NOT_ALLOWED, f"You are not allowed to {_DOING[permission]}.")


def check_role_assignable(
    granted: Iterable[Permission],
    role: Role,
    grants: Mapping[Role, Iterable[Permission]],
    is_server: bool = False,
    taking: bool = False,
) -> None:
    """Giving someone a member role hands them its grants, so nobody hands out what they
    do not hold themselves (a host cannot make anyone, itself included, an ``admin`` and
    so gain ``delete-call``); and nobody takes a role away (``taking``: a change of role,
    a removal) from a member who holds more than they do. Server tokens act for the
    deployment and may do both with any role."""
    if is_server:
        return
    beyond = set(grants.get(role, ())) - set(granted)
    if beyond:
        first = min(beyond, key=_PERMISSION_ORDER.__getitem__)
        if taking:
            detail = (
                f"You cannot change or remove a member with the role {role.value!r}: it lets "
                f"them {_DOING[first]}, which you may not do yourself."
            )
        else:
            detail = (
                f"You cannot give the role {role.value!r}: it would let its holder "
                f"{_DOING[first]}, which you may not do yourself."
            )
        raise ApiError(ErrorCode.NOT_ALLOWED, detail)


def check_team_on_create(user_teams: list[str], team: str | None) -> None:
    """A user in teams must create calls in one of them."""
    if not user_teams:
        return
    if team is None:
        raise ApiError(
            ErrorCode.NOT_ALLOWED,
            "You belong to teams, so a new call must name one of them in 'team'.",
        )
    if team not in user_teams:
        raise ApiError(ErrorCode.NOT_ALLOWED, f"You are not in the team {team!r}.")


def team_visible(call_team: str | None, user_teams: list[str], is_server: bool) -> bool:
    """A call with a team is invisible to users outside that team."""
    return is_server or call_team is None or call_team in user_teams


def team_audience(
    team: str | None, member_ids: list[str], teams_of: Mapping[str, list[str]]
) -> list[str]:
    """The members who may hear of a call: all, except that a team call is never announced
    to a member outside its team."""
    if team is None:
        return member_ids
    return [u for u in member_ids if team in teams_of.get(u, ())]


def check_join_admission(
    *,
    granted: Iterable[Permission],
    settings: CallSettings,
    live: bool,
    starts_at: datetime | None,
    ended_at: datetime | None,
    now: datetime,
) -> None:
    """Ended calls admit only ``join-ended-call``; backstage admits only ``join-backstage``
    until go-live, except within ``join_ahead_time_seconds`` before ``starts_at``."""
    have = set(granted)
    require(have, Permission.JOIN_CALL)
    if ended_at is not None and Permission.JOIN_ENDED_CALL not in have:
        raise ApiError(ErrorCode.CALL_ENDED, "This call has ended; it cannot be joined any more.")
    if settings.backstage.enabled and not live and Permission.JOIN_BACKSTAGE not in have:
        ahead = timedelta(seconds=settings.backstage.join_ahead_time_seconds)
        if starts_at is None or ahead.total_seconds() <= 0 or now < starts_at - ahead:
            raise ApiError(
                ErrorCode.BACKSTAGE,
                "This call is in backstage; you can join once the host goes live.",
            )


def check_mesh(limit: int, participants: int) -> None:
    """Without a media server every participant sends to every other one: past a few
    people that is more than a desktop's uplink and CPU can carry."""
    if participants >= limit:
        raise ApiError(
            ErrorCode.CALL_FULL,
            f"Peer-to-peer calls take at most {limit} people, and this server has no media "
            "server for larger calls.",
        )


def check_room(settings: CallSettings, participants: int) -> None:
    limit = settings.limits.max_participants
    if limit is not None and participants >= limit:
        raise ApiError(
            ErrorCode.CALL_FULL, f"This call is full: it allows at most {limit} participants."
        )
