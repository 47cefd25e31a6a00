"""The call lifecycle over HTTP and WebSocket against a real coordinator."""

from __future__ import annotations

import asyncio

from desktop_app.protocol.permissions import Role
from tests.support.coordinator import RunningCoordinator, unique


async def test_get_or_create_creates_once_and_tells_members(
    coordinator: RunningCoordinator,
) -> None:
    alice = coordinator.api("alice")
    bob_events = await coordinator.ws("bob")
    call_id = unique()
    status, body = await alice.post(
        f"/v1/calls/default/{call_id}",
        {
            "data": {
                "members": [{"user_id": "bob", "custom": {"seat": 2}}],
                "custom": {"topic": "Q3"},
            }
        },
    )
    assert status == 201 and body["created"] is True
    assert body["call"]["cid"] == f"default:{call_id}"
    assert body["call"]["created_by"]["id"] == "alice"
    assert body["call"]["custom"] == {"topic": "Q3"}
    roles = {m["user_id"]: m["role"] for m in body["members"]}
    assert roles == {"alice": "host", "bob": "call_member"}
    assert "end-call" in body["own_capabilities"]

    created = await bob_events.wait_for("call.created")
    assert created["call"]["cid"] == f"default:{call_id}"
    assert {m["user_id"] for m in created["members"]} == {"alice", "bob"}

    status, again = await alice.post(
        f"/v1/calls/default/{call_id}", {"data": {"custom": {"other": 1}}}
    )
    assert status == 200 and again["created"] is False
    assert again["call"]["custom"] == {"topic": "Q3"}, (
        "get-or-create must not change an existing call"
    )

    status, bob_view = await coordinator.api("bob").get(f"/v1/calls/default/{call_id}")
    assert status == 200
    assert "end-call" not in bob_view["own_capabilities"]
    assert "join-call" in bob_view["own_capabilities"]
    await bob_events.close()


async def test_load_respects_members_limit(coordinator: RunningCoordinator) -> None:
    alice = coordinator.api("alice")
    call_id = unique()
    members = [{"user_id": f"u{i}"} for i in range(5)]
    await alice.post(f"/v1/calls/default/{call_id}", {"data": {"members": members}})
    status, body = await alice.get(f"/v1/calls/default/{call_id}", params={"members_limit": 2})
    assert status == 200 and len(body["members"]) == 2
    status, body = await alice.get(f"/v1/calls/default/{call_id}")
    assert len(body["members"]) == 6


async def test_update_changes_custom_settings_and_start(coordinator: RunningCoordinator) -> None:
    alice = coordinator.api("alice")
    watcher = await coordinator.ws("alice")
    call_id = unique()
    await alice.post(
        f"/v1/calls/default/{call_id}", params={"connection_id": watcher.connection_id}
    )
    status, body = await alice.patch(
        f"/v1/calls/default/{call_id}",
        {
            "custom": {"color": "red"},
            "settings_override": {"limits": {"max_participants": 3}},
            "starts_at": "2030-01-02T03:04:05Z",
        },
    )
    assert status == 200, body
    call = body["call"]
    assert call["custom"] == {"color": "red"}
    assert call["settings"]["limits"]["max_participants"] == 3
    assert call["settings"]["ring"]["auto_cancel_timeout_ms"] == 15000
    assert call["starts_at"].startswith("2030-01-02T03:04:05")
    updated = await watcher.wait_for("call.updated")
    assert updated["call"]["custom"] == {"color": "red"}

    status, body = await alice.patch(
        f"/v1/calls/default/{call_id}",
        {"settings_override": {"video": {"camera_default_on": False}}, "starts_at": None},
    )
    assert status == 200
    assert body["call"]["settings"]["limits"]["max_participants"] == 3, "overrides accumulate"
    assert body["call"]["settings"]["video"]["camera_default_on"] is False
    assert body["call"]["starts_at"] is None
    assert body["call"]["custom"] == {"color": "red"}, "fields left out stay"

    status, problem = await coordinator.api("bob").patch(
        f"/v1/calls/default/{call_id}", {"custom": {}}
    )
    assert status == 403 and problem["code"] == "not_allowed", "bob may read but not change it"
    await watcher.close()


async def test_delete_removes_the_call_and_tells_members(coordinator: RunningCoordinator) -> None:
    moderator = coordinator.api(token=coordinator.user_token("mod", role=Role.MODERATOR))
    bob_events = await coordinator.ws("bob")
    call_id = unique()
    await moderator.post(
        f"/v1/calls/default/{call_id}", {"data": {"members": [{"user_id": "bob"}]}}
    )
    status, problem = await coordinator.api("bob").delete(f"/v1/calls/default/{call_id}")
    assert status == 403 and problem["code"] == "not_allowed"
    status, body = await moderator.delete(f"/v1/calls/default/{call_id}")
    assert status == 200 and body["call"]["cid"] == f"default:{call_id}"
    await bob_events.wait_for("call.deleted")
    status, problem = await moderator.get(f"/v1/calls/default/{call_id}")
    assert status == 404 and problem["code"] == "not_found"
    await bob_events.close()


async def test_join_and_leave_record_participants_and_sessions(
    coordinator: RunningCoordinator,
) -> None:
    alice = coordinator.api("alice")
    bob = coordinator.api("bob")
    alice_ws = await coordinator.ws("alice")
    bob_ws = await coordinator.ws("bob")
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"

    status, problem = await alice.post(
        f"{path}/join", {}, params={"connection_id": alice_ws.connection_id}
    )
    assert status == 404 and problem["code"] == "not_found"
    assert "create" in problem["detail"]
    status, problem = await alice.post(f"{path}/join", {"create": True})
    assert status == 400 and problem["errors"][0]["field"] == "connection_id"

    status, joined = await alice.post(
        f"{path}/join",
        {"create": True, "data": {"members": [{"user_id": "bob"}]}},
        params={"connection_id": alice_ws.connection_id},
    )
    assert status == 201, joined
    assert joined["created"] is True
    media = joined["media"]
    assert media["mode"] == "p2p" and media["session_id"]
    session = joined["call"]["session"]
    assert [p["user_id"] for p in session["participants"]] == ["alice"]
    started = await alice_ws.wait_for("call.session_started")
    assert started["session_id"] == session["id"]
    first = await alice_ws.wait_for("call.participant_joined")
    assert first["participant"]["session_id"] == media["session_id"]

    status, joined_bob = await bob.post(
        f"{path}/join", {}, params={"connection_id": bob_ws.connection_id}
    )
    assert status == 200, joined_bob
    assert joined_bob["call"]["session"]["id"] == session["id"]
    assert joined_bob["call"]["session"]["participants_count"] == 2
    seen = await alice_ws.wait_for("call.participant_joined")
    assert seen["participant"]["user_id"] == "bob"

    status, problem = await bob.post(
        f"{path}/join", {}, params={"connection_id": alice_ws.connection_id}
    )
    assert status == 400, "another user's connection cannot be used"

    status, left = await bob.post(
        f"{path}/leave", {}, params={"connection_id": bob_ws.connection_id}
    )
    assert status == 200
    assert left["call"]["session"]["participants_count"] == 1
    assert set(left["call"]["session"]["joined_by"]) == {"alice", "bob"}, "who was in it stays"
    gone = await alice_ws.wait_for("call.participant_left")
    assert gone["participant"]["user_id"] == "bob" and gone["reason"] == "left"

    status, problem = await bob.post(f"{path}/leave", {})
    assert status == 404, "leaving twice is a clear error"

    status, _ = await alice.post(f"{path}/leave", {"session_id": media["session_id"]})
    assert status == 200
    ended = await alice_ws.wait_for("call.session_ended")
    assert ended["call"]["session"]["ended_at"] is not None

    status, again = await alice.post(
        f"{path}/join", {}, params={"connection_id": alice_ws.connection_id}
    )
    assert again["call"]["session"]["id"] != session["id"], (
        "a new session starts after the last one ended"
    )
    await alice_ws.close()
    await bob_ws.close()


async def test_end_call_for_everyone(coordinator: RunningCoordinator) -> None:
    alice = coordinator.api("alice")
    alice_ws = await coordinator.ws("alice")
    bob_ws = await coordinator.ws("bob")
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    await alice.post(
        f"{path}/join",
        {"create": True, "data": {"members": [{"user_id": "bob"}]}},
        params={"connection_id": alice_ws.connection_id},
    )

    status, problem = await coordinator.api("bob").post(f"{path}/end")
    assert status == 403 and problem["code"] == "not_allowed"

    status, body = await alice.post(f"{path}/end")
    assert status == 200 and body["call"]["ended_at"] is not None
    assert body["call"]["session"]["participants_count"] == 0
    ended = await bob_ws.wait_for("call.ended")
    assert ended["reason"] == "ended_by_user" and ended["user"]["id"] == "alice"
    await alice_ws.wait_for("call.participant_left", reason="call_ended")

    status, problem = await coordinator.api("bob").post(
        f"{path}/join", {}, params={"connection_id": bob_ws.connection_id}
    )
    assert status == 409 and problem["code"] == "call_ended"
    status, problem = await alice.post(f"{path}/end")
    assert status == 409 and problem["code"] == "call_ended"

    mod_ws = await coordinator.ws("mod")
    moderator = coordinator.api(token=coordinator.user_token("mod", role=Role.MODERATOR))
    status, body = await moderator.post(
        f"{path}/join", {}, params={"connection_id": mod_ws.connection_id}
    )
    assert status == 200, "join-ended-call lets a moderator in"
    for ws in (alice_ws, bob_ws, mod_ws):
        await ws.close()


async def test_max_participants_is_enforced(coordinator: RunningCoordinator) -> None:
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    sockets = [await coordinator.ws(f"p{i}") for i in range(3)]
    await coordinator.api("p0").post(
        path,
        {
            "data": {
                "members": [{"user_id": "p1"}, {"user_id": "p2"}],
                "settings_override": {"limits": {"max_participants": 2}},
            }
        },
    )
    for i in range(2):
        status, _ = await coordinator.api(f"p{i}").post(
            f"{path}/join", {}, params={"connection_id": sockets[i].connection_id}
        )
        assert status == 200
    status, problem = await coordinator.api("p2").post(
        f"{path}/join", {}, params={"connection_id": sockets[2].connection_id}
    )
    assert status == 409 and problem["code"] == "call_full"
    assert "2" in problem["detail"]
    for ws in sockets:
        await ws.close()


async def test_max_duration_ends_the_call(coordinator: RunningCoordinator) -> None:
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    ws = await coordinator.ws("alice")
    status, _ = await coordinator.api("alice").post(
        f"{path}/join",
        {"create": True, "data": {"settings_override": {"limits": {"max_duration_seconds": 1}}}},
        params={"connection_id": ws.connection_id},
    )
    assert status == 201
    ended = await ws.wait_for("call.ended", timeout=5)
    assert ended["reason"] == "max_duration"
    status, body = await coordinator.api("alice").get(path)
    assert body["call"]["ended_at"] is not None
    await ws.close()


async def test_dropped_connection_leaves_after_grace_unless_resumed(
    coordinator: RunningCoordinator,
) -> None:
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    watcher = await coordinator.ws("alice")
    dropper = await coordinator.ws("bob")
    alice = coordinator.api("alice")
    await alice.post(
        f"{path}/join",
        {"create": True, "data": {"members": [{"user_id": "bob"}]}},
        params={"connection_id": watcher.connection_id},
    )
    await coordinator.api("bob").post(
        f"{path}/join", {}, params={"connection_id": dropper.connection_id}
    )

    # A drop and a resume within the grace period keep bob in the call.
    await dropper.close()
    resumed = await coordinator.ws("bob", resume_connection_id=dropper.connection_id)
    assert resumed.connection_id == dropper.connection_id
    await asyncio.sleep(coordinator.config.participant_grace_seconds + 0.5)
    status, body = await alice.get(path)
    assert status == 200
    assert {p["user_id"] for p in body["call"]["session"]["participants"]} == {"alice", "bob"}

    # A drop without resume ends bob's participant session after the grace period.
    await resumed.close()
    left = await watcher.wait_for("call.participant_left", timeout=5)
    assert left["participant"]["user_id"] == "bob" and left["reason"] == "disconnected"
    await watcher.close()


async def test_custom_events_reach_watchers(coordinator: RunningCoordinator) -> None:
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    watcher = await coordinator.ws("bob")
    await coordinator.api("alice").post(path, {"data": {"members": [{"user_id": "bob"}]}})
    await coordinator.api("bob").get(path, params={"connection_id": watcher.connection_id})
    status, body = await coordinator.api("alice").post(
        f"{path}/events", {"custom": {"emoji": "👋"}}
    )
    assert status == 200 and body["custom"] == {"emoji": "👋"}
    event = await watcher.wait_for("call.custom")
    assert event["custom"] == {"emoji": "👋"} and event["user"]["id"] == "alice"
    assert event["call"]["cid"] == f"default:{call_id}"
    await watcher.close()
