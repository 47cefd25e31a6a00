"""``POST …/media`` without a media server: a participant's credentials say peer to peer,
and every wrong question gets a problem in the wire's shape (on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.support.coordinator import RunningCoordinator, unique


async def test_media_credentials_and_the_wrong_questions(coordinator: RunningCoordinator) -> None:
    alice, bob = coordinator.api("alice"), coordinator.api("bob")
    alice_ws = await coordinator.ws("alice")
    path = f"/v1/calls/default/{unique()}"
    status, joined = await alice.post(
        f"{path}/join", {"create": True}, params={"connection_id": alice_ws.connection_id}
    )
    assert status == 201, joined
    mine = joined["media"]["session_id"]
    assert joined["call"]["session"]["media"] == {"mode": "p2p", "room": None, "feeds": {}}

    status, media = await alice.post(f"{path}/media", {"session_id": mine})
    assert status == 200, media
    assert media["mode"] == "p2p" and media["session_id"] == mine
    assert media["media_server"] is None

    status, problem = await bob.post(f"{path}/media", {"session_id": mine})
    assert status == 404 and problem["code"] == "not_found", "not bob's session"
    status, problem = await alice.post(f"{path}/media", {"session_id": "nope"})
    assert status == 404 and problem["code"] == "not_found"
    status, problem = await alice.post(f"{path}/media", {})
    assert status == 400 and problem["errors"][0]["field"] == "session_id"
    status, problem = await alice.post(f"{path}/media", {"session_id": mine, "x": 1})
    assert status == 400 and problem["code"] == "invalid_input"
    status, problem = await coordinator.api().post(f"{path}/media", {"session_id": mine})
    assert status == 403 and problem["code"] == "not_allowed"
    status, problem = await alice.post(f"/v1/calls/default/{unique()}/media", {"session_id": mine})
    assert status == 404 and problem["code"] == "not_found"

    await alice.post(f"{path}/leave", {})
    status, problem = await alice.post(f"{path}/media", {"session_id": mine})
    assert status == 404 and problem["code"] == "not_found", "a session that left"
