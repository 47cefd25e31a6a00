"""Member roles never escalate: giving a member role hands out its grants, so whoever gives
it must already hold all of them (server tokens act for the deployment). One test per row
of the table in docs/permissions.md, through both ways a role is given: naming members
when creating a call, and ``update_members``."""

from __future__ import annotations

import pytest

from desktop_app.protocol.permissions import Role
from tests.support.coordinator import RunningCoordinator, unique

ROLES = ["call_member", "host", "user", "moderator", "admin"]

#: Who gives the role (as a member of the call: its creator, so its host) → the roles it
#: may give in a call of type ``default``. The table in docs/permissions.md.
ASSIGNABLE: dict[str, set[str]] = {
    "user": {"call_member", "host", "user"},
    # in these call types a moderator holds every permission, so admin grants nothing more
    "moderator": set(ROLES),
    "admin": set(ROLES),
    "server": set(ROLES),
}


def _api(coordinator: RunningCoordinator, giver: str, user_id: str):  # type: ignore[no-untyped-def]
    if giver == "server":
        return coordinator.api()
    role = None if giver == "user" else Role(giver)
    return coordinator.api(token=coordinator.user_token(user_id, role=role))


@pytest.mark.parametrize("giver", list(ASSIGNABLE))
@pytest.mark.parametrize("role", ROLES)
async def test_a_role_is_given_only_by_who_holds_its_grants(
    coordinator: RunningCoordinator, giver: str, role: str
) -> None:
    allowed = role in ASSIGNABLE[giver]
    creator = f"{giver}{unique()}"
    api = _api(coordinator, giver, creator)
    on_behalf = {"created_by_id": creator} if giver == "server" else {}

    # 1. naming a member (and, separately, oneself) with the role when creating the call
    for target in ("friend", creator):
        path = f"/v1/calls/default/{unique()}"
        members = [{"user_id": target, "role": role}]
        status, answer = await api.post(path, {"data": {**on_behalf, "members": members}})
        assert status == (201 if allowed else 403), (target, answer)
        status, _ = await coordinator.api().get(path)
        assert status == (200 if allowed else 404), "a refused create stores nothing"

    # 2. update_members on a call the giver hosts
    path = f"/v1/calls/default/{unique()}"
    status, _ = await api.post(path, {"data": {**on_behalf, "members": [{"user_id": "friend"}]}})
    assert status == 201
    for target in ("friend", creator):
        status, answer = await api.post(
            f"{path}/members", {"update_members": [{"user_id": target, "role": role}]}
        )
        assert status == (200 if allowed else 403), (target, answer)
    status, call = await coordinator.api().get(path)
    roles = {m["user_id"]: m["role"] for m in call["members"]}
    if not allowed:
        assert roles == {creator: "host", "friend": "call_member"}, "nothing changed"
        assert "admin" not in roles.values() and "moderator" not in roles.values()


async def test_a_call_member_gives_no_role_at_all(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(path, {"data": {"members": [{"user_id": "bob"}]}})
    status, problem = await coordinator.api("bob").post(
        f"{path}/members", {"update_members": [{"user_id": "bob", "role": "call_member"}]}
    )
    assert status == 403 and problem["code"] == "not_allowed"


async def test_the_refusal_says_what_the_role_would_have_let_them_do(
    coordinator: RunningCoordinator,
) -> None:
    path = f"/v1/calls/default/{unique()}"
    status, problem = await coordinator.api("alice").post(
        path, {"data": {"members": [{"user_id": "alice", "role": "admin"}]}}
    )
    assert status == 403
    assert problem["detail"] == (
        "You cannot give the role 'admin': it would let its holder join this call after it "
        "ended, which you may not do yourself."
    )


async def test_a_role_is_taken_away_only_by_who_holds_its_grants(
    coordinator: RunningCoordinator,
) -> None:
    """A host cannot demote or remove a member who holds more than it (an admin member the
    server named); it can demote and remove its peers, and itself."""
    path = f"/v1/calls/default/{unique()}"
    members = [
        {"user_id": "alice", "role": "host"},
        {"user_id": "root", "role": "admin"},
        {"user_id": "hal", "role": "host"},
    ]
    status, _ = await coordinator.api().post(
        path, {"data": {"created_by_id": "alice", "members": members}}
    )
    assert status == 201
    alice = coordinator.api("alice")
    for body in (
        {"update_members": [{"user_id": "root", "role": "call_member"}]},
        {"remove_members": ["root"]},
    ):
        status, problem = await alice.post(f"{path}/members", body)
        assert status == 403 and "cannot change or remove" in problem["detail"], problem
    status, _ = await alice.post(
        f"{path}/members", {"update_members": [{"user_id": "hal", "role": "call_member"}]}
    )
    assert status == 200
    status, _ = await alice.post(f"{path}/members", {"remove_members": ["hal"]})
    assert status == 200
    status, call = await coordinator.api().get(path)
    roles = {m["user_id"]: m["role"] for m in call["members"]}
    assert roles == {"alice": "host", "root": "admin"}
