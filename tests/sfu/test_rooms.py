"""The coordinator's side of the SFU, against real Janus servers: a call moves to a room
when its third person joins, each participant gets a token and a publisher id of its own,
someone leaving moves the others to a fresh room and the old one goes, the call returns to
peer to peer at two, the room goes with the session, and a dead server's calls move to the
other one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.protocol.calls import feed_commitment
from desktop_app.sdk import janus_link
from desktop_app.sdk.janus_link import JanusError, JanusLink
from tests.sfu.conftest import Sfu, sfu_coordinator
from tests.sfu.support import room_exists
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


async def _publish_as(url: str, room: str, feed: str, token: str) -> None:
    """Join the room as a publisher the way the app does (raises JanusError if refused)."""
    link = await JanusLink.open(url)
    try:
        handle = await link.attach()
        await handle.request(
            {"request": "join", "ptype": "publisher", "room": room, "id": feed, "token": token}
        )
    finally:
        await link.close()


async def _until_gone(url: str, room: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds * 10)):
        if not await room_exists(url, room):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"room {room} still there after {seconds:.0f} s")


@pytest.fixture
async def coordinator(sfu: Sfu, tmp_path: Path) -> AsyncIterator[RunningCoordinator]:
    """This file's coordinator retires rooms after 1 s: nobody has to switch here."""
    async with sfu_coordinator(sfu, tmp_path, rotate_grace_seconds=1.0) as served:
        yield served


async def test_a_third_person_moves_the_call_to_a_room(
    sfu: Sfu, coordinator: RunningCoordinator
) -> None:
    cid = f"default:{unique()}"
    call_type, call_id = cid.split(":")
    path = f"/v1/calls/{call_type}/{call_id}"
    alice = await _join(coordinator, "alice", cid)
    bob = await _join(coordinator, "bob", cid)
    assert alice["media"]["mode"] == bob["media"]["mode"] == "p2p"
    assert bob["call"]["session"]["media"] == {"mode": "p2p", "room": None, "feeds": {}}

    carol = await _join(coordinator, "carol", cid)
    media = carol["media"]
    assert media["mode"] == "sfu"
    server = media["media_server"]
    assert server["url"] in [s.url for s in sfu.servers]
    room = server["room"]
    shown = carol["call"]["session"]["media"]
    assert shown["mode"] == "sfu" and shown["room"] == room
    ids = [person["media"]["session_id"] for person in (alice, bob, carol)]
    assert set(shown["feeds"]) == set(ids)
    # Carol's publisher id: not her (public) session id; known to the others only by its
    # commitment.
    assert server["feed"] != ids[2] and shown["feeds"][ids[2]] == feed_commitment(server["feed"])
    assert await room_exists(server["url"], room)

    # The others learn it from the call's events and ask for their own credentials.
    updated = await alice["events"].wait_until(
        lambda e: e["type"] in ("call.updated", "call.participant_joined")
        and e["call"]["session"]["media"]["mode"] == "sfu"
    )
    assert updated["call"]["session"]["media"]["room"] == room
    status, answer = await alice["api"].post(f"{path}/media", {"session_id": ids[0]})
    assert status == 200, answer
    alices = answer["media_server"]
    assert alices["room"] == room and alices["token"] != server["token"]
    assert alices["feed"] != server["feed"]
    assert alices["feeds"] == shown["feeds"], "the room's commitments come with the answer"

    # Tokens are per participant session: only the right pair gets in.
    await _publish_as(server["url"], room, alices["feed"], alices["token"])
    try:
        await _publish_as(server["url"], room, "eve", "a-token-nobody-issued")
    except JanusError as refused:
        assert refused.code == 433  # not in the allowed list
    else:
        raise AssertionError("a made-up token got into the room")

    # Someone else's session id is not yours to ask about.
    status, stolen = await carol["api"].post(f"{path}/media", {"session_id": ids[0]})
    assert status == 404 and stolen["code"] == "not_found"

    # A rejoin (a new session of the same person) moves nobody.
    status, _ = await carol["api"].post(f"{path}/leave", {})
    assert status == 200
    carol = await _join(coordinator, "carol", cid)
    ids[2] = carol["media"]["session_id"]
    await asyncio.sleep(4)  # past the time a fresh room would have come
    status, body = await alice["api"].get(path)
    assert status == 200 and body["call"]["session"]["media"]["room"] == room

    # Dave comes and goes: the three others move to a fresh room, which his token does not
    # open, and the room he was in goes (Janus ends a kicked publisher, not what it
    # subscribed to: only the room's end does).
    dave = await _join(coordinator, "dave", cid)
    daves = dave["media"]["media_server"]
    assert daves["room"] == room
    await dave["api"].post(f"{path}/leave", {})
    moved = await bob["events"].wait_until(
        lambda e: e["type"] == "call.updated" and e["call"]["session"]["media"]["room"] != room,
        timeout=10,
    )
    fresh = moved["call"]["session"]["media"]
    assert fresh["mode"] == "sfu" and fresh["room"] != room
    assert set(fresh["feeds"]) == set(ids)
    assert fresh["feeds"][ids[0]] != shown["feeds"][ids[0]], "new publisher ids in a new room"
    status, answer = await alice["api"].post(f"{path}/media", {"session_id": ids[0]})
    assert status == 200 and answer["media_server"]["room"] == fresh["room"]
    await _publish_as(server["url"], fresh["room"], answer["media_server"]["feed"],
                      answer["media_server"]["token"])  # fmt: skip
    try:
        await _publish_as(server["url"], fresh["room"], daves["feed"], daves["token"])
    except JanusError as refused:
        assert refused.code == 433
    else:
        raise AssertionError("a leaver's token opens the room the others moved to")
    await _until_gone(server["url"], room)

    # Carol leaves: at two the call returns to peer to peer, and its room goes.
    await carol["api"].post(f"{path}/leave", {})
    back = await bob["events"].wait_until(
        lambda e: e["type"] == "call.updated" and e["call"]["session"]["media"]["mode"] == "p2p",
        timeout=10,
    )
    assert back["call"]["session"]["participants_count"] == 2
    assert back["call"]["session"]["media"]["feeds"] == {}
    await _until_gone(server["url"], fresh["room"])

    # A third person again: a new room.
    erin = await _join(coordinator, "erin", cid)
    assert erin["media"]["media_server"]["room"] not in (room, fresh["room"])

    # Everyone leaves: the room goes with the session.
    for person in (alice, bob, erin):
        await person["api"].post(f"{path}/leave", {})
    await _until_gone(server["url"], erin["media"]["media_server"]["room"], 5)


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
    assert await room_exists(other.url, moved["room"])
    event = await people[1]["events"].wait_until(
        lambda e: e["type"] == "call.updated"
        and e["call"]["session"]["media"]["room"] == moved["room"]
    )
    assert event["call"]["session"]["media"]["mode"] == "sfu"

    # New calls avoid the dead server.
    cid2 = f"default:{unique()}"
    later = [await _join(coordinator, user, cid2) for user in ("dave", "erin", "frank")]
    assert later[2]["media"]["media_server"]["url"] == other.url


async def test_a_line_to_janus_lives_on_its_keepalives(
    sfu: Sfu, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Janus answers a keepalive with a bare ``ack``: that is the whole answer (a line that
    waited for more closed itself 35 s into every call)."""
    monkeypatch.setattr(janus_link, "KEEPALIVE_SECONDS", 0.3)
    monkeypatch.setattr(janus_link, "REQUEST_SECONDS", 1.0)
    link = await JanusLink.open(sfu.servers[0].url)
    try:
        await link.send({"janus": "keepalive"}, acked=True)
        await asyncio.sleep(3.0)  # ten keepalives: one unanswered would close the line
        assert not link.closed.is_set()
    finally:
        await link.close()
