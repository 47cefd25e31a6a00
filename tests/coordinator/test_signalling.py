"""WebRTC signalling relayed to one participant session, publish (mute) state, mesh size."""

from __future__ import annotations

from typing import Any

from tests.support.coordinator import EventClient, RunningCoordinator, unique


async def _joined(
    coordinator: RunningCoordinator, path: str, *users: str
) -> dict[str, tuple[EventClient, str]]:
    """Each user connected and joined; returns their socket and participant session id."""
    result = {}
    for user in users:
        socket = await coordinator.ws(user)
        status, body = await coordinator.api(user).post(
            f"{path}/join",
            {"create": True, "data": {"members": [{"user_id": u} for u in users]}},
            params={"connection_id": socket.connection_id},
        )
        assert status in (200, 201), body
        result[user] = (socket, body["media"]["session_id"])
    return result


async def test_a_signal_reaches_only_its_target(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    cid = path.removeprefix("/v1/calls/").replace("/", ":")
    peers = await _joined(coordinator, path, "alice", "bob", "cy")
    (alice, alice_session), (bob, bob_session), (cy, _) = peers["alice"], peers["bob"], peers["cy"]
    offer: dict[str, Any] = {"type": "offer", "sdp": "v=0\r\n..."}
    await alice.send(
        {
            "type": "call.signal",
            "call_cid": cid,
            "from_session_id": alice_session,
            "to_session_id": bob_session,
            "signal": offer,
        }
    )
    received = await bob.wait_for("call.signal")
    assert received["signal"] == offer and received["from_session_id"] == alice_session
    assert received["user"]["id"] == "alice" and received["call"]["cid"] == cid
    await cy.expect_none("call.signal")
    await alice.expect_none("call.signal")
    for client, _ in peers.values():
        await client.close()


async def test_bad_signals_are_refused(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    cid = path.removeprefix("/v1/calls/").replace("/", ":")
    peers = await _joined(coordinator, path, "alice", "bob")
    (alice, alice_session), (bob, bob_session) = peers["alice"], peers["bob"]
    cases = [
        (
            {
                "type": "call.signal",
                "call_cid": cid,
                "from_session_id": bob_session,
                "to_session_id": alice_session,
                "signal": {},
            },
            "not_allowed",
        ),
        (
            {
                "type": "call.signal",
                "call_cid": cid,
                "from_session_id": alice_session,
                "to_session_id": "nobody",
                "signal": {},
            },
            "not_found",
        ),
        (
            {"type": "call.signal", "call_cid": cid, "from_session_id": alice_session},
            "invalid_input",
        ),
        (
            {
                "type": "call.signal",
                "call_cid": cid,
                "from_session_id": alice_session,
                "to_session_id": bob_session,
                "signal": {"sdp": "x" * 60000},
            },
            "payload_too_large",
        ),
        (
            {
                "type": "participant.update",
                "call_cid": cid,
                "session_id": alice_session,
                "published": {"smell": True},
            },
            "invalid_input",
        ),
    ]
    for message, code in cases:
        await alice.send(message)
        error = await alice.wait_for("connection.error")
        assert error["code"] == code, (message, error)
    await bob.expect_none("call.signal")
    assert not alice.closed.is_set(), "bad messages do not cost the connection"
    for client, _ in peers.values():
        await client.close()


async def test_mute_state_is_shared(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    cid = path.removeprefix("/v1/calls/").replace("/", ":")
    peers = await _joined(coordinator, path, "alice", "bob")
    (alice, alice_session), (bob, _) = peers["alice"], peers["bob"]
    await alice.send(
        {
            "type": "participant.update",
            "call_cid": cid,
            "session_id": alice_session,
            "published": {"audio": True, "video": False},
        }
    )
    updated = await bob.wait_for("call.participant_updated")
    assert updated["published"] == {"audio": True, "video": False}
    assert updated["participant"]["session_id"] == alice_session
    status, body = await coordinator.api("bob").get(path)
    shown = {p["user_id"]: p["published"] for p in body["call"]["session"]["participants"]}
    assert shown["alice"] == {"audio": True, "video": False} and shown["bob"] == {}
    for client, _ in peers.values():
        await client.close()


async def test_the_mesh_has_a_size(coordinator: RunningCoordinator) -> None:
    await coordinator.api().patch("/v1/app", {"max_mesh_participants": 2})
    path = f"/v1/calls/default/{unique()}"
    peers = await _joined(coordinator, path, "alice", "bob")
    third = await coordinator.ws("cy")
    status, problem = await coordinator.api("cy").post(
        f"{path}/join", {}, params={"connection_id": third.connection_id}
    )
    assert status == 409 and problem["code"] == "call_full"
    assert "Peer-to-peer calls take at most 2 people" in problem["detail"]
    await third.close()
    for client, _ in peers.values():
        await client.close()
