"""The coordinator's side of the SFU, against real Janus servers: a call moves to a room
when its third person joins, each participant gets a token of its own, leavers' tokens are
taken back, the call returns to peer to peer at two, the room goes with the session, and
a dead server's calls move to the other one."""

from __future__ import annotations

import asyncio
from typing import Any

from desktop_app.sdk.janus_link import JanusError, JanusLink
from tests.sfu.conftest import Sfu
from tests.support.coordinator import RunningCoordinator, unique


async def _join(coordinator: RunningCoordinator, user: str, cid: str) -> dict[str, Any]:
    events = await coordinator.ws(user)
    api = coordinator.api(user)
    call_type, call_id = cid.split(":")
    status, body = await api.post(
        f"/v1/calls/{call_type}/{call_id}/join",
        {"create": True},
        params={"connection_id": events.connection_id},
    )
    assert status in (200, 201), body
    return {"api": api, "events": events, **body}


async def _room_exists(url: str, room: str) -> bool:
    link = await JanusLink.open(url)
    try:
        handle = await link.attach()
        reply = await handle.request({"request": "exists", "room": room})
        return bool(reply.data["exists"])
    finally:
        await link.close()


async def _publish_as(url: str, room: str, session_id: str, token: str) -> None:
    """Join the room as a publisher the way the app does (raises JanusError if refused)."""
    link = await JanusLink.open(url)
    try:
        handle = await link.attach()
        await handle.request(
            {"request": "join", "ptype": "publisher", "room": room, "id": session_id,
             "token": token}
        )  # fmt: skip
    finally:
        await link.close()


async def test_a_third_person_moves_the_call_to_a_room(
    sfu: Sfu, coordinator: RunningCoordinator
) -> None:
    cid = f"default:{unique()}"
    alice = await _join(coordinator, "alice", cid)
    bob = await _join(coordinator, "bob", cid)
    assert alice["media"]["mode"] == bob["media"]["mode"] == "p2p"
    assert bob["call"]["session"]["media"] == {"mode": "p2p", "room": None}

    carol = await _join(coordinator, "carol", cid)
    media = carol["media"]
    assert media["mode"] == "sfu"
    server = media["media_server"]
    assert server["url"] in [s.url for s in sfu.servers]
    room = server["room"]
    assert carol["call"]["session"]["media"] == {"mode": "sfu", "room": room}
    assert await _room_exists(server["url"], room)

    # The others learn it from the call's events and ask for their own credentials.
    updated = await alice["events"].wait_until(
        lambda e: e["type"] in ("call.updated", "call.participant_joined")
        and e["call"]["session"]["media"]["mode"] == "sfu"
    )
    assert updated["call"]["session"]["media"]["room"] == room
    call_type, call_id = cid.split(":")
    status, answer = await alice["api"].post(
        f"/v1/calls/{call_type}/{call_id}/media", {"session_id": alice["media"]["session_id"]}
    )
    assert status == 200, answer
    alices = answer["media_server"]
    assert alices["room"] == room and alices["token"] != server["token"]

    # Tokens are per participant session: only the right pair gets in.
    await _publish_as(server["url"], room, alice["media"]["session_id"], alices["token"])
    try:
        await _publish_as(server["url"], room, "eve", "a-token-nobody-issued")
    except JanusError as refused:
        assert refused.code == 433  # not in the allowed list
    else:
        raise AssertionError("a made-up token got into the room")

    # Someone else's session id is not yours to ask about.
    status, stolen = await carol["api"].post(
        f"/v1/calls/{call_type}/{call_id}/media", {"session_id": alice["media"]["session_id"]}
    )
    assert status == 404 and stolen["code"] == "not_found"

    # Carol leaves: her token is taken back; at two the call returns to peer to peer.
    await carol["api"].post(f"/v1/calls/{call_type}/{call_id}/leave", {})
    back = await bob["events"].wait_until(
        lambda e: e["type"] == "call.updated" and e["call"]["session"]["media"]["mode"] == "p2p",
        timeout=10,
    )
    assert back["call"]["session"]["participants_count"] == 2
    for _ in range(50):  # the token goes after the commit
        try:
            await _publish_as(server["url"], room, carol["media"]["session_id"], server["token"])
        except JanusError:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("a leaver's token still opens the room")

    # Everyone leaves: the room goes with the session.
    for person in (alice, bob):
        await person["api"].post(f"/v1/calls/{call_type}/{call_id}/leave", {})
    for _ in range(50):
        if not await _room_exists(server["url"], room):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the room outlived its session")


async def test_a_dead_server_s_call_moves_to_the_other(
    sfu: Sfu, coordinator: RunningCoordinator
) -> None:
    cid = f"default:{unique()}"
    people = [await _join(coordinator, user, cid) for user in ("alice", "bob", "carol")]
    first = people[2]["media"]["media_server"]
    dead = next(s for s in sfu.servers if s.url == first["url"])
    other = next(s for s in sfu.servers if s is not dead)
    dead.kill()

    call_type, call_id = cid.split(":")
    status, answer = await people[0]["api"].post(
        f"/v1/calls/{call_type}/{call_id}/media", {"session_id": people[0]["media"]["session_id"]}
    )
    assert status == 200, answer
    moved = answer["media_server"]
    assert moved["url"] == other.url and moved["room"] != first["room"]
    assert await _room_exists(other.url, moved["room"])
    event = await people[1]["events"].wait_until(
        lambda e: e["type"] == "call.updated"
        and e["call"]["session"]["media"]["room"] == moved["room"]
    )
    assert event["call"]["session"]["media"]["mode"] == "sfu"

    # New calls avoid the dead server.
    cid2 = f"default:{unique()}"
    later = [await _join(coordinator, user, cid2) for user in ("dave", "erin", "frank")]
    assert later[2]["media"]["media_server"]["url"] == other.url
