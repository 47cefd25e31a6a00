"""Ringing end to end: real coordinator, real WebSockets, several devices per user."""

from __future__ import annotations

import asyncio

from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.clock import ManualClock
from tests.support.coordinator import EventClient, RunningCoordinator, running, unique


async def _devices(coordinator: RunningCoordinator, *users: str) -> dict[str, EventClient]:
    return {user: await coordinator.ws(user.split(".")[0]) for user in users}


async def _close(*clients: EventClient) -> None:
    for client in clients:
        await client.close()


async def test_one_to_one_accept_stops_the_other_device(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob.phone", "bob.laptop")
    path = f"/v1/calls/default/{unique()}"
    status, body = await coordinator.api("alice").post(
        path,
        {"ring": True, "data": {"members": [{"user_id": "bob"}]}},
        params={"connection_id": ws["alice"].connection_id},
    )
    assert status == 201 and body["call"]["session"]["ringing"] is True
    for device in ("bob.phone", "bob.laptop"):
        rung = await ws[device].wait_for("call.ring")
        assert rung["user"]["id"] == "alice" and rung["video"] is True
        assert {m["user_id"] for m in rung["members"]} == {"alice", "bob"}
        assert rung["session_id"] == body["call"]["current_session_id"]
    await ws["alice"].expect_none("call.ring")

    status, answer = await coordinator.api("bob").post(f"{path}/accept", {})
    assert status == 200, answer
    assert answer["ring"]["ringing"] is False and "bob" in answer["ring"]["accepted_by"]
    for device in ("alice", "bob.phone", "bob.laptop"):
        accepted = await ws[device].wait_for("call.accepted")
        assert accepted["user"]["id"] == "bob"
        assert "bob" in accepted["call"]["session"]["accepted_by"]
        assert accepted["call"]["session"]["ringing"] is False
    await _close(*ws.values())


async def test_one_reject_does_not_stop_the_other_callee(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob", "cy")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}, {"user_id": "cy"}]}}
    )
    await ws["bob"].wait_for("call.ring")
    await ws["cy"].wait_for("call.ring")
    status, answer = await coordinator.api("bob").post(f"{path}/reject", {"reason": "decline"})
    assert status == 200 and answer["ring"]["ringing"] is True
    rejected = await ws["cy"].wait_for("call.rejected")
    assert rejected["user"]["id"] == "bob" and rejected["reason"] == "decline"
    status, answer = await coordinator.api("cy").post(f"{path}/accept")
    assert status == 200
    assert answer["ring"]["ringing"] is False and answer["ring"]["end_reason"] == "answered"
    assert answer["ring"]["rejected_by"]["bob"]["reason"] == "decline"
    accepted = await ws["alice"].wait_for("call.accepted")
    assert accepted["user"]["id"] == "cy"
    await _close(*ws.values())


async def test_everyone_rejects(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob", "cy")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}, {"user_id": "cy"}]}}
    )
    await coordinator.api("bob").post(f"{path}/reject", {"reason": "decline"})
    status, answer = await coordinator.api("cy").post(f"{path}/reject", {"reason": "busy"})
    assert answer["ring"]["ringing"] is False
    assert {u: r["reason"] for u, r in answer["ring"]["rejected_by"].items()} == {
        "bob": "decline",
        "cy": "busy",
    }
    assert answer["ring"]["missed_by"] == {}
    await ws["alice"].wait_for("call.rejected", reason="decline")
    await ws["alice"].wait_for("call.rejected", reason="busy")
    status, state = await coordinator.api("alice").get(f"{path}/ring")
    assert (
        state["ring"]["ringing"] is False
        and state["call"]["session"]["rejected_by"]["cy"]["reason"] == "busy"
    )
    await _close(*ws.values())


async def test_caller_cancels_for_everyone(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob", "cy")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}, {"user_id": "cy"}]}}
    )
    await coordinator.api("bob").post(f"{path}/reject", {"reason": "decline"})
    status, answer = await coordinator.api("alice").post(f"{path}/reject", {"reason": "cancel"})
    assert (
        status == 200
        and answer["ring"]["ringing"] is False
        and answer["ring"]["end_reason"] == "cancelled"
    )
    cancelled = await ws["cy"].wait_for("call.rejected", reason="cancel")
    assert cancelled["user"]["id"] == "alice"
    missed = await ws["cy"].wait_for("call.missed")
    assert missed["user"]["id"] == "cy"
    assert set(answer["ring"]["missed_by"]) == {"cy"}, "bob declined; that stays a decline"
    status, problem = await coordinator.api("cy").post(f"{path}/accept")
    assert status == 409 and problem["code"] == "conflict"
    await _close(*ws.values())


async def test_notify_reaches_the_other_members(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    status, body = await coordinator.api("alice").post(
        path, {"notify": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    assert status == 201
    note = await ws["bob"].wait_for("call.notification")
    assert note["user"]["id"] == "alice" and note["session_id"]
    await ws["alice"].expect_none("call.notification")
    await _close(*ws.values())


async def test_ending_the_call_stops_the_ring(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    await coordinator.api("alice").post(f"{path}/end")
    await ws["bob"].wait_for("call.missed")
    ended = await ws["bob"].wait_for("call.ended")
    assert ended["call"]["session"]["ringing"] is False
    await _close(*ws.values())


async def test_caller_app_killed_stops_ringing_after_grace(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(path, {"data": {"members": [{"user_id": "bob"}]}})
    status, _ = await coordinator.api("alice").post(
        f"{path}/ring", {}, params={"connection_id": ws["alice"].connection_id}
    )
    assert status == 200
    await ws["bob"].wait_for("call.ring")
    await ws["alice"].close()  # the app is killed
    cancelled = await ws["bob"].wait_for("call.rejected", timeout=5)
    assert cancelled["user"]["id"] == "alice" and cancelled["reason"] == "cancel"
    status, state = await coordinator.api("bob").get(f"{path}/ring")
    assert state["ring"]["ringing"] is False and state["ring"]["end_reason"] == "caller_gone"
    await ws["bob"].close()


async def test_server_enforces_incoming_and_auto_cancel_timeouts(
    config: CoordinatorConfig,
) -> None:
    """Both rings run at once, on a clock the test moves: no real waiting."""
    clock = ManualClock()
    async with running(config, clock=clock) as coordinator:
        ws = await _devices(coordinator, "alice", "bob", "cy")
        incoming = f"/v1/calls/default/{unique()}"
        auto_cancel = f"/v1/calls/default/{unique()}"
        await coordinator.api("alice").post(
            incoming,
            {
                "ring": True,
                "data": {
                    "members": [{"user_id": "bob"}],
                    "settings_override": {
                        "ring": {"incoming_call_timeout_ms": 5000, "auto_cancel_timeout_ms": 180000}
                    },
                },
            },
        )
        await coordinator.api("alice").post(
            auto_cancel,
            {
                "ring": True,
                "data": {
                    "members": [{"user_id": "cy"}],
                    "settings_override": {
                        "ring": {"auto_cancel_timeout_ms": 6000, "incoming_call_timeout_ms": 60000}
                    },
                },
            },
        )
        await ws["bob"].wait_for("call.ring")
        await ws["cy"].wait_for("call.ring")
        await clock.advance(4.9)
        await ws["bob"].expect_none("call.missed", within=0.1)
        await clock.advance(0.2)
        missed = await ws["bob"].wait_for("call.missed", timeout=2)
        assert missed["user"]["id"] == "bob"
        await ws["cy"].expect_none("call.rejected", within=0.1)
        await clock.advance(1.0)
        caller_timeout = await ws["cy"].wait_for("call.rejected", timeout=2)
        assert caller_timeout["user"]["id"] == "alice" and caller_timeout["reason"] == "timeout"
        await ws["cy"].wait_for("call.missed")
        status, state = await coordinator.api("alice").get(f"{incoming}/ring")
        assert set(state["ring"]["missed_by"]) == {"bob"} and state["ring"]["ringing"] is False
        status, state = await coordinator.api("alice").get(f"{auto_cancel}/ring")
        assert state["ring"]["end_reason"] == "auto_cancelled"
        assert set(state["ring"]["missed_by"]) == {"cy"}
        await _close(*ws.values())


async def test_deadline_survives_a_restart_and_fires_once(config: CoordinatorConfig) -> None:
    path = f"/v1/calls/default/{unique()}"
    clock = ManualClock()
    async with running(config, clock=clock) as first:
        bob = await first.ws("bob")
        status, _ = await first.api("alice").post(
            path,
            {
                "ring": True,
                "data": {
                    "members": [{"user_id": "bob"}],
                    "settings_override": {"ring": {"incoming_call_timeout_ms": 5000}},
                },
            },
        )
        assert status == 201
        await bob.wait_for("call.ring")
        await bob.close()
    await clock.advance(2.0)  # while the coordinator is down
    async with running(config, clock=clock) as second:
        bob = await second.ws("bob")
        await second.api("bob").get(path, params={"connection_id": bob.connection_id})
        await bob.expect_none("call.missed", within=0.1)
        await clock.advance(3.5)
        missed = await bob.wait_for("call.missed", timeout=2)
        assert missed["user"]["id"] == "bob"
        await clock.advance(60)
        await bob.expect_none("call.missed", within=0.3)
        status, state = await second.api("alice").get(f"{path}/ring")
        assert list(state["ring"]["missed_by"]) == ["bob"] and state["ring"]["ringing"] is False
        await bob.close()


async def test_bad_ring_input_changes_nothing(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    alice, bob, eve = coordinator.api("alice"), coordinator.api("bob"), coordinator.api("eve")

    status, problem = await alice.post(path, {"ring": True})
    assert status == 400 and problem["errors"][0]["field"] == "data.members"
    status, _ = await alice.get(path)
    assert status == 404, "a refused ring created no call"

    await alice.post(path, {"data": {"members": [{"user_id": "bob"}]}})
    status, problem = await bob.post(f"{path}/accept")
    assert status == 409, "not ringing"
    status, problem = await alice.post(f"{path}/ring", {"member_ids": ["zed"]})
    assert status == 400 and problem["errors"][0]["field"] == "member_ids"
    status, problem = await eve.post(f"{path}/ring", {})
    assert status == 403, "the caller must be a member"

    await alice.post(f"{path}/ring", {})
    status, before = await alice.get(f"{path}/ring")
    refusals = [
        (await eve.post(f"{path}/accept"), 403),
        (await eve.post(f"{path}/reject", {"reason": "decline"}), 403),
        (await bob.post(f"{path}/reject", {"reason": "shrug"}), 400),
        (await bob.post(f"{path}/reject", {"reason": "cancel"}), 400),
        (await alice.post(f"{path}/reject", {"reason": "decline"}), 400),
        (await alice.post(f"{path}/accept"), 400),
    ]
    for (status, problem), expected in refusals:
        assert status == expected, problem
    status, after = await alice.get(f"{path}/ring")
    assert after["ring"] == before["ring"], "nothing stored changed"

    await alice.post(f"{path}/end")
    status, problem = await bob.post(f"{path}/accept")
    assert status == 409 and problem["code"] == "call_ended"
    await _close(*ws.values())


async def test_timeout_reject_counts_as_missed(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    await coordinator.api("alice").post(
        path, {"ring": True, "data": {"members": [{"user_id": "bob"}]}}
    )
    status, answer = await coordinator.api("bob").post(f"{path}/reject", {"reason": "timeout"})
    assert status == 200
    assert "bob" in answer["ring"]["missed_by"] and "bob" not in answer["ring"]["rejected_by"]
    missed = await ws["alice"].wait_for("call.missed")
    assert missed["user"]["id"] == "bob"
    await asyncio.sleep(0)
    await _close(*ws.values())


async def test_join_with_ring_and_go_live_with_notify(coordinator: RunningCoordinator) -> None:
    ws = await _devices(coordinator, "alice", "bob", "host", "fan")
    path = f"/v1/calls/default/{unique()}"
    status, joined = await coordinator.api("alice").post(
        f"{path}/join",
        {"create": True, "ring": True, "data": {"members": [{"user_id": "bob"}]}},
        params={"connection_id": ws["alice"].connection_id},
    )
    assert status == 201 and joined["call"]["session"]["ringing"] is True
    assert [p["user_id"] for p in joined["call"]["session"]["participants"]] == ["alice"]
    rung = await ws["bob"].wait_for("call.ring")
    assert rung["session_id"] == joined["call"]["session"]["id"], (
        "the ring belongs to the session alice is in"
    )

    stage = f"/v1/calls/livestream/{unique()}"
    await coordinator.api("host").post(stage, {"data": {"members": [{"user_id": "fan"}]}})
    await coordinator.api("fan").get(stage, params={"connection_id": ws["fan"].connection_id})
    status, live = await coordinator.api("host").post(f"{stage}/go-live", {"notify": True})
    assert status == 200 and live["call"]["live"] is True
    order: list[str] = []
    for _ in range(250):
        order = [t for t in ws["fan"].types() if t in ("call.live_started", "call.notification")]
        if len(order) == 2:
            break
        await asyncio.sleep(0.02)
    assert order == ["call.live_started", "call.notification"], "live first, then the note"
    note = await ws["fan"].wait_for("call.notification")
    assert note["user"]["id"] == "host"
    await _close(*ws.values())


async def test_ringing_an_existing_call_through_get_or_create(
    coordinator: RunningCoordinator,
) -> None:
    """``ring: true`` on a call that exists rings its members; nothing about creating (the
    members named, the creator's team) is asked of a request that creates nothing."""
    ws = await _devices(coordinator, "alice", "bob")
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    status, _ = await alice.post(path, {"data": {"members": [{"user_id": "bob"}]}})
    assert status == 201
    status, answer = await alice.post(path, {"ring": True})
    assert status == 200 and answer["created"] is False, answer
    assert answer["call"]["session"]["ringing"] is True
    await ws["bob"].wait_for("call.ring")
    await _close(*ws.values())


async def test_a_refused_ring_undoes_the_create_or_join_it_came_with(
    coordinator: RunningCoordinator,
) -> None:
    """Creating (or joining) and ringing are one transaction: a call type whose grants let
    users create calls but not ring leaves no call, no participant and no event behind."""
    ws = await _devices(coordinator, "alice", "bob")
    no_ringing = unique("quiet")
    server = coordinator.api(token=coordinator.server_token())
    status, _ = await server.post(
        "/v1/call-types",
        {"name": no_ringing, "grants": {"user": ["read-call", "create-call", "join-call"]}},
    )
    assert status == 201
    alice = coordinator.api("alice")
    members = {"members": [{"user_id": "bob"}]}
    connection = {"connection_id": ws["alice"].connection_id}

    path = f"/v1/calls/{no_ringing}/{unique()}"
    status, problem = await alice.post(path, {"ring": True, "data": members}, params=connection)
    assert status == 403 and problem["code"] == "not_allowed", problem
    status, _ = await alice.get(path)
    assert status == 404, "the call was not created"

    join = {"create": True, "ring": True, "data": members}
    status, problem = await alice.post(f"{path}/join", join, params=connection)
    assert status == 403, problem
    status, _ = await alice.get(path)
    assert status == 404, "neither created nor joined"
    await ws["bob"].expect_none("call.created")
    await ws["bob"].expect_none("call.ring")

    status, created = await alice.post(path, {"data": members})
    assert status == 201
    status, problem = await alice.get(path, params={"ring": "true"})
    assert status == 403
    status, problem = await alice.post(f"{path}/join", {"ring": True}, params=connection)
    assert status == 403
    status, after = await alice.get(path)
    assert after["call"]["session"] is None or not after["call"]["session"]["participants"], (
        "a join whose ring was refused left no participant"
    )
    await ws["bob"].expect_none("call.ring")
    await _close(*ws.values())
