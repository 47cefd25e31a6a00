"""Grants, capabilities, the guide's access recipe, backstage and teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desktop_app.protocol.permissions import Role
from tests.support.coordinator import RunningCoordinator, unique


async def test_own_capabilities_follow_the_grants(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    status, created = await coordinator.api("alice").post(
        path, {"data": {"members": [{"user_id": "bob"}]}}
    )
    assert created["own_capabilities"] == [
        "create-call",
        "read-call",
        "join-call",
        "join-backstage",
        "update-call",
        "update-call-settings",
        "end-call",
        "update-call-member",
        "remove-call-member",
        "send-event",
        "ring-call",
    ]
    status, bob = await coordinator.api("bob").get(path)
    assert bob["own_capabilities"] == [
        "create-call",
        "read-call",
        "join-call",
        "send-event",
        "ring-call",
    ]
    status, stranger = await coordinator.api("eve").get(path)
    assert stranger["own_capabilities"] == [
        "create-call",
        "read-call",
        "join-call",
        "send-event",
        "ring-call",
    ]
    admin = coordinator.api(token=coordinator.user_token("root", role=Role.ADMIN))
    status, body = await admin.get(path)
    assert (
        "delete-call" in body["own_capabilities"] and "join-ended-call" in body["own_capabilities"]
    )


async def test_each_operation_checks_its_permission(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(path, {"data": {"members": [{"user_id": "bob"}]}})
    bob = coordinator.api("bob")
    refused = [
        await bob.patch(path, {"custom": {"x": 1}}),
        await bob.post(f"{path}/end"),
        await bob.delete(path),
        await bob.post(f"{path}/members", {"update_members": [{"user_id": "zed"}]}),
        await bob.post(f"{path}/members", {"remove_members": ["alice"]}),
        await bob.post(f"{path}/go-live"),
        await bob.post(f"{path}/stop-live"),
    ]
    for status, problem in refused:
        assert status == 403 and problem["code"] == "not_allowed", problem
    status, body = await coordinator.api("alice").get(path)
    assert body["call"]["custom"] == {} and len(body["members"]) == 2


async def test_settings_override_needs_its_own_permission(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    name = unique("t")
    status, _ = await server.post(
        "/v1/call-types",
        {"name": name, "grants": {"user": ["create-call", "read-call", "update-call"]}},
    )
    assert status == 201
    path = f"/v1/calls/{name}/{unique()}"
    await coordinator.api("alice").post(
        path, {"data": {"members": [{"user_id": "alice", "role": "user"}]}}
    )
    status, problem = await coordinator.api("alice").patch(
        path, {"settings_override": {"limits": {"max_participants": 2}}}
    )
    assert status == 403 and "settings" in problem["detail"]
    status, _ = await coordinator.api("alice").patch(path, {"custom": {"ok": True}})
    assert status == 200


async def test_guide_access_recipe_only_call_members_join(coordinator: RunningCoordinator) -> None:
    """Remove join-call from user, grant it to call_member: only members with that role join."""
    server = coordinator.api()
    status, default = await server.get("/v1/call-types/default")
    user_grants = [p for p in default["grants"]["user"] if p != "join-call"]
    status, _ = await server.put(
        "/v1/call-types/default",
        {"grants": {"user": user_grants, "call_member": ["read-call", "join-call"]}},
    )
    assert status == 200
    path = f"/v1/calls/default/{unique()}"
    await server.post(
        path,
        {
            "data": {
                "created_by_id": "host1",
                "members": [
                    {"user_id": "member1", "role": "call_member"},
                    {"user_id": "plain1", "role": "user"},
                ],
            }
        },
    )
    sockets = {u: await coordinator.ws(u) for u in ("member1", "plain1", "stranger1")}
    results = {}
    for user, ws in sockets.items():
        results[user], _ = await coordinator.api(user).post(
            f"{path}/join", {}, params={"connection_id": ws.connection_id}
        )
    assert results == {"member1": 200, "plain1": 403, "stranger1": 403}
    for ws in sockets.values():
        await ws.close()


async def test_backstage_admits_only_join_backstage_until_live(
    coordinator: RunningCoordinator,
) -> None:
    path = f"/v1/calls/livestream/{unique()}"
    host = coordinator.api("host")
    viewer = coordinator.api("viewer")
    host_ws = await coordinator.ws("host")
    viewer_ws = await coordinator.ws("viewer")
    status, body = await host.post(path, {"data": {"members": [{"user_id": "viewer"}]}})
    assert body["call"]["backstage"] is True and body["call"]["live"] is False
    status, problem = await viewer.post(
        f"{path}/join", {}, params={"connection_id": viewer_ws.connection_id}
    )
    assert status == 403 and problem["code"] == "backstage"
    status, _ = await host.post(f"{path}/join", {}, params={"connection_id": host_ws.connection_id})
    assert status == 200, "the host has join-backstage"
    await viewer.get(path, params={"connection_id": viewer_ws.connection_id})
    status, live = await host.post(f"{path}/go-live")
    assert status == 200 and live["call"]["backstage"] is False and live["call"]["live"] is True
    await viewer_ws.wait_for("call.live_started")
    status, _ = await viewer.post(
        f"{path}/join", {}, params={"connection_id": viewer_ws.connection_id}
    )
    assert status == 200
    status, stopped = await host.post(f"{path}/stop-live")
    assert stopped["call"]["backstage"] is True
    await viewer_ws.wait_for("call.live_stopped")
    await host_ws.close()
    await viewer_ws.close()


async def test_join_ahead_time_opens_backstage_before_start(
    coordinator: RunningCoordinator,
) -> None:
    host = coordinator.api("host")
    viewer = coordinator.api("viewer")
    ws = await coordinator.ws("viewer")
    soon = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    ahead = {"backstage": {"join_ahead_time_seconds": 300}}
    near = f"/v1/calls/livestream/{unique()}"
    far = f"/v1/calls/livestream/{unique()}"
    await host.post(near, {"data": {"starts_at": soon, "settings_override": ahead}})
    await host.post(far, {"data": {"starts_at": later, "settings_override": ahead}})
    status, _ = await viewer.post(f"{near}/join", {}, params={"connection_id": ws.connection_id})
    assert status == 200, "within join_ahead_time_seconds of starts_at"
    status, problem = await viewer.post(
        f"{far}/join", {}, params={"connection_id": ws.connection_id}
    )
    assert status == 403 and problem["code"] == "backstage"
    await ws.close()


async def test_teams_scope_creation_and_visibility(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    status, _ = await server.post(
        "/v1/users",
        {
            "users": [
                {"id": "red1", "teams": ["red"]},
                {"id": "red2", "teams": ["red"]},
                {"id": "blue1", "teams": ["blue"]},
            ]
        },
    )
    assert status == 200
    blue_events = await coordinator.ws("blue1")
    red = coordinator.api("red1")
    status, problem = await red.post(f"/v1/calls/default/{unique()}", {})
    assert status == 403 and "team" in problem["detail"]
    status, problem = await red.post(f"/v1/calls/default/{unique()}", {"data": {"team": "blue"}})
    assert status == 403
    path = f"/v1/calls/default/{unique()}"
    status, body = await red.post(
        path, {"data": {"team": "red", "members": [{"user_id": "red2"}, {"user_id": "blue1"}]}}
    )
    assert status == 201 and body["call"]["team"] == "red"

    blue = coordinator.api("blue1")
    status, problem = await blue.get(path)
    assert status == 404, "a team's call is invisible outside the team"
    blue_ws = await coordinator.ws("blue1")
    status, _ = await blue.post(f"{path}/join", {}, params={"connection_id": blue_ws.connection_id})
    assert status == 404
    status, listed = await blue.post("/v1/calls/query", {})
    assert path.rsplit("/", 1)[1] not in [c["call"]["id"] for c in listed["calls"]]
    status, body = await coordinator.api("red2").get(path)
    assert status == 200
    status, body = await coordinator.api("nobody").get(path)
    assert status == 404, "users without teams do not see team calls"
    await blue_events.expect_none("call.created")
    await blue_events.close()
    await blue_ws.close()
