"""Watching follows access: a connection that watches a call stops hearing it once its
user may no longer read the call — removed from it, out of its team, a lower deployment
role, or a grant table edited — while those who still may read go on hearing."""

from __future__ import annotations

from tests.support.coordinator import EventClient, RunningCoordinator, unique

MEMBERS_ONLY = {
    "user": ["create-call", "update-call-member", "remove-call-member", "update-call"],
    "call_member": ["read-call", "join-call"],
    "host": ["read-call", "join-call", "update-call", "update-call-member", "remove-call-member"],
}


async def _call_type(coordinator: RunningCoordinator, grants: dict[str, list[str]]) -> str:
    name = unique("ct")
    status, _ = await coordinator.api().post("/v1/call-types", {"name": name, "grants": grants})
    assert status == 201
    return name


async def _watch(coordinator: RunningCoordinator, user: str, path: str) -> EventClient:
    ws = await coordinator.ws(user)
    status, answer = await coordinator.api(user).get(
        path, params={"connection_id": ws.connection_id}
    )
    assert status == 200, answer
    return ws


async def _touch(coordinator: RunningCoordinator, path: str, n: int) -> None:
    status, answer = await coordinator.api().patch(path, {"custom": {"n": n}})
    assert status == 200, answer


async def test_a_removed_member_stops_hearing_the_call(coordinator: RunningCoordinator) -> None:
    kind = await _call_type(coordinator, MEMBERS_ONLY)
    path = f"/v1/calls/{kind}/{unique()}"
    alice = coordinator.api("alice")
    members = [{"user_id": "bob"}, {"user_id": "cy"}]
    status, _ = await alice.post(path, {"data": {"members": members}})
    assert status == 201
    bob, cy = await _watch(coordinator, "bob", path), await _watch(coordinator, "cy", path)
    await _touch(coordinator, path, 1)
    await bob.wait_for("call.updated")
    await cy.wait_for("call.updated")

    status, _ = await alice.post(f"{path}/members", {"remove_members": ["bob"]})
    assert status == 200
    removed = await bob.wait_for("call.member_removed")
    assert removed["members"] == ["bob"], "bob hears of his own removal"
    await _touch(coordinator, path, 2)
    await cy.wait_for("call.updated")  # cy still hears
    await bob.expect_none("call.updated")
    status, _ = await coordinator.api("bob").get(path)
    assert status == 403
    for ws in (bob, cy):
        await ws.close()


async def test_a_member_given_a_role_without_read_call_stops_hearing(
    coordinator: RunningCoordinator,
) -> None:
    kind = await _call_type(coordinator, {**MEMBERS_ONLY, "admin": []})
    path = f"/v1/calls/{kind}/{unique()}"
    await coordinator.api().post(
        path, {"data": {"created_by_id": "alice", "members": [{"user_id": "bob"}]}}
    )
    bob = await _watch(coordinator, "bob", path)
    status, _ = await coordinator.api().post(
        f"{path}/members", {"update_members": [{"user_id": "bob", "role": "admin"}]}
    )
    assert status == 200
    await bob.wait_for("call.member_updated")
    await _touch(coordinator, path, 1)
    await bob.expect_none("call.updated")
    await bob.close()


async def test_leaving_the_calls_team_stops_hearing(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    await server.post("/v1/users", {"users": [{"id": "dana", "teams": ["red"]}]})
    await server.post("/v1/users", {"users": [{"id": "eli", "teams": ["red"]}]})
    path = f"/v1/calls/default/{unique()}"
    status, _ = await server.post(
        path,
        {"data": {"created_by_id": "dana", "team": "red", "members": [{"user_id": "eli"}]}},
    )
    assert status == 201
    dana, eli = await _watch(coordinator, "dana", path), await _watch(coordinator, "eli", path)
    status, _ = await server.put("/v1/users/eli", {"teams": []})
    assert status == 200
    await _touch(coordinator, path, 1)
    await dana.wait_for("call.updated")
    await eli.expect_none("call.updated")
    status, _ = await coordinator.api("eli").get(path)
    assert status == 404, "a team call does not exist for those outside the team"
    for ws in (dana, eli):
        await ws.close()


async def test_a_lower_deployment_role_stops_hearing(coordinator: RunningCoordinator) -> None:
    kind = await _call_type(coordinator, {"admin": ["read-call"], "user": ["create-call"]})
    server = coordinator.api()
    await server.post("/v1/users", {"users": [{"id": "root", "role": "admin"}]})
    path = f"/v1/calls/{kind}/{unique()}"
    await server.post(path, {"data": {"created_by_id": "alice"}})
    root = await _watch(coordinator, "root", path)
    status, _ = await server.put("/v1/users/root", {"role": "user"})
    assert status == 200
    await _touch(coordinator, path, 1)
    await root.expect_none("call.updated")
    await root.close()


async def test_a_grant_table_edit_stops_those_it_no_longer_lets_read(
    coordinator: RunningCoordinator,
) -> None:
    grants = {"user": ["create-call", "read-call"], "host": ["read-call", "update-call"]}
    kind = await _call_type(coordinator, grants)
    path = f"/v1/calls/{kind}/{unique()}"
    await coordinator.api("alice").post(path, {})
    alice, stranger = (
        await _watch(coordinator, "alice", path),
        await _watch(coordinator, "sam", path),
    )
    status, _ = await coordinator.api().put(
        f"/v1/call-types/{kind}", {"grants": {"user": ["create-call"]}}
    )
    assert status == 200
    await _touch(coordinator, path, 1)
    await alice.wait_for("call.updated")  # the host still reads
    await stranger.expect_none("call.updated")
    for ws in (alice, stranger):
        await ws.close()
