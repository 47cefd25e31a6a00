"""Query calls: visibility, filters, sort, cursors and watch."""

from __future__ import annotations

from tests.support.coordinator import RunningCoordinator, unique


async def test_users_see_their_own_and_member_calls(coordinator: RunningCoordinator) -> None:
    tag = unique("q")
    mine = await coordinator.api("qa").post(
        f"/v1/calls/default/{tag}a", {"data": {"custom": {"tag": tag}}}
    )
    member_of = await coordinator.api("qb").post(
        f"/v1/calls/default/{tag}b",
        {"data": {"members": [{"user_id": "qa"}], "custom": {"tag": tag}}},
    )
    other = await coordinator.api("qb").post(
        f"/v1/calls/default/{tag}c", {"data": {"custom": {"tag": tag}}}
    )
    assert [m[0] for m in (mine, member_of, other)] == [201, 201, 201]
    status, body = await coordinator.api("qa").post(
        "/v1/calls/query", {"filter": {"custom.tag": tag}}
    )
    assert status == 200
    assert [c["call"]["id"] for c in body["calls"]] == [f"{tag}b", f"{tag}a"], (
        "newest first by default"
    )
    assert all("read-call" in c["own_capabilities"] for c in body["calls"])
    status, body = await coordinator.api().post("/v1/calls/query", {"filter": {"custom.tag": tag}})
    assert len(body["calls"]) == 3, "a server token sees every call"


async def test_filters_sort_and_cursors(coordinator: RunningCoordinator) -> None:
    tag = unique("f")
    alice = coordinator.api("fa")
    for i in range(7):
        call_type = "audio_room" if i % 2 else "default"
        await alice.post(
            f"/v1/calls/{call_type}/{tag}-{i}", {"data": {"custom": {"tag": tag, "n": i}}}
        )
    await alice.post(f"/v1/calls/default/{tag}-0/end")

    async def ids(body: dict[str, object]) -> tuple[list[str], dict[str, object]]:
        status, answer = await alice.post("/v1/calls/query", body)
        assert status == 200, answer
        return [c["call"]["id"] for c in answer["calls"]], answer

    found, _ = await ids(
        {
            "filter": {"custom.tag": tag, "type": "audio_room"},
            "sort": [{"field": "created_at", "direction": 1}],
        }
    )
    assert found == [f"{tag}-1", f"{tag}-3", f"{tag}-5"]
    found, _ = await ids({"filter": {"custom.tag": tag, "ended_at": {"$exists": True}}})
    assert found == [f"{tag}-0"]
    found, _ = await ids(
        {
            "filter": {"custom.tag": tag, "custom.n": {"$gt": 4}},
            "sort": [{"field": "cid", "direction": 1}],
        }
    )
    assert found == [f"{tag}-5", f"{tag}-6"], "cid order: audio_room:… sorts before default:…"

    collected: list[str] = []
    request: dict[str, object] = {
        "filter": {"custom.tag": tag},
        "limit": 3,
        "sort": [{"field": "created_at", "direction": -1}],
    }
    while True:
        page, answer = await ids(request)
        collected += page
        if not answer["next"]:
            break
        request = {**request, "next": answer["next"]}
    assert collected == [f"{tag}-{i}" for i in reversed(range(7))]


async def test_watch_subscribes_the_connection(coordinator: RunningCoordinator) -> None:
    tag = unique("w")
    watcher = await coordinator.ws("wa")
    await coordinator.api("wb").post(
        f"/v1/calls/default/{tag}", {"data": {"members": [{"user_id": "wa"}]}}
    )
    status, problem = await coordinator.api("wa").post("/v1/calls/query", {"watch": True})
    assert status == 400, "watch needs a connection"
    status, body = await coordinator.api("wa").post(
        "/v1/calls/query",
        {"watch": True, "filter": {"id": tag}},
        params={"connection_id": watcher.connection_id},
    )
    assert len(body["calls"]) == 1
    await coordinator.api("wb").patch(f"/v1/calls/default/{tag}", {"custom": {"v": 2}})
    updated = await watcher.wait_for("call.updated")
    assert updated["call"]["custom"] == {"v": 2}
    await watcher.close()
