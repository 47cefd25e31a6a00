"""Members: add, change, remove, and query with filters, sort and cursors."""

from __future__ import annotations

import asyncio

from tests.support.coordinator import RunningCoordinator, unique


async def test_update_and_remove_members_emit_events(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    bob_ws = await coordinator.ws("bob")
    carol_ws = await coordinator.ws("carol")
    await alice.post(path, {"data": {"members": [{"user_id": "bob"}]}})
    await bob_ws.wait_for("call.created")

    status, body = await alice.post(
        f"{path}/members",
        {
            "update_members": [
                {"user_id": "carol", "custom": {"team": "ops"}},
                {"user_id": "bob", "role": "host"},
            ]
        },
    )
    assert status == 200
    assert {m["user_id"]: m["role"] for m in body["members"]} == {
        "carol": "call_member",
        "bob": "host",
    }
    added = await carol_ws.wait_for("call.member_added")
    assert [m["user_id"] for m in added["members"]] == ["carol"]
    updated = await bob_ws.wait_for("call.member_updated")
    assert updated["members"][0]["role"] == "host"

    status, body = await alice.post(f"{path}/members", {"remove_members": ["carol", "nobody"]})
    assert status == 200 and body["removed"] == ["carol"]
    removed = await carol_ws.wait_for("call.member_removed")
    assert removed["members"] == ["carol"], "the removed member hears it too"
    status, body = await coordinator.api("carol").get(path)
    assert status == 200 and "end-call" not in body["own_capabilities"]
    status, members = await alice.post(f"{path}/members/query", {})
    assert {m["user_id"] for m in members["members"]} == {"alice", "bob"}
    await bob_ws.close()
    await carol_ws.close()


async def test_query_members_filters(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    members = [
        {"user_id": "m1", "role": "host", "custom": {"level": 3, "city": "Oslo"}},
        {"user_id": "m2", "custom": {"level": 7, "city": "Lima"}},
        {"user_id": "m3", "custom": {"level": 5}},
    ]
    await alice.post(path, {"data": {"members": members}})
    await asyncio.sleep(0.01)
    await alice.post(
        f"{path}/members", {"update_members": [{"user_id": "m4", "custom": {"vip": True}}]}
    )

    async def ids(filter_: dict[str, object], **extra: object) -> list[str]:
        status, body = await alice.post(f"{path}/members/query", {"filter": filter_, **extra})
        assert status == 200, body
        return [m["user_id"] for m in body["members"]]

    assert await ids({"user_id": "m2"}) == ["m2"]
    assert await ids(
        {"user_id": {"$in": ["m1", "m3", "zz"]}}, sort=[{"field": "user_id", "direction": 1}]
    ) == ["m1", "m3"]
    assert await ids(
        {"role": {"$ne": "call_member"}}, sort=[{"field": "user_id", "direction": 1}]
    ) == ["alice", "m1"]
    assert await ids(
        {"custom.level": {"$gte": 5}}, sort=[{"field": "user_id", "direction": -1}]
    ) == ["m3", "m2"]
    assert await ids({"custom.level": {"$lt": 5}, "role": "host"}) == ["m1"]
    assert await ids(
        {"custom.city": {"$exists": True}}, sort=[{"field": "user_id", "direction": 1}]
    ) == ["m1", "m2"]
    assert await ids({"custom.vip": True}) == ["m4"]
    status, body = await alice.post(f"{path}/members/query", {"filter": {"user_id": "m4"}})
    created_m4 = body["members"][0]["created_at"]
    assert await ids({"created_at": {"$gte": created_m4}}) == ["m4"]
    assert "m4" not in await ids({"created_at": {"$lt": created_m4}})


async def test_query_members_pages_with_cursors(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    await alice.post(path, {"data": {"members": [{"user_id": f"u{i:02d}"} for i in range(11)]}})
    sort = [{"field": "user_id", "direction": 1}]
    seen: list[str] = []
    pages = []
    request: dict[str, object] = {"sort": sort, "limit": 5}
    while True:
        status, body = await alice.post(f"{path}/members/query", request)
        assert status == 200
        pages.append(body)
        seen += [m["user_id"] for m in body["members"]]
        if not body["next"]:
            break
        request = {"sort": sort, "limit": 5, "next": body["next"]}
    assert seen == sorted(["alice", *[f"u{i:02d}" for i in range(11)]])
    assert [len(p["members"]) for p in pages] == [5, 5, 2]
    assert pages[0]["prev"] is None
    status, back = await alice.post(
        f"{path}/members/query", {"sort": sort, "limit": 5, "prev": pages[2]["prev"]}
    )
    assert [m["user_id"] for m in back["members"]] == [m["user_id"] for m in pages[1]["members"]]
    status, problem = await alice.post(
        f"{path}/members/query",
        {"sort": [{"field": "created_at", "direction": 1}], "next": pages[0]["next"]},
    )
    assert status == 400, "a cursor only fits the sort it came from"
