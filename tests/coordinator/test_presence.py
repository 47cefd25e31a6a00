"""Presence: online while an event stream is connected, announced to everyone else when a
user's first stream connects and their last one closes."""

from __future__ import annotations

from tests.support.coordinator import RunningCoordinator, unique


async def _online(coordinator: RunningCoordinator, viewer: str, user_id: str) -> bool:
    status, body = await coordinator.api(viewer).get("/v1/users", params={"id": [user_id]})
    assert status == 200, body
    (user,) = body["users"]
    return bool(user["online"])


async def test_presence_follows_the_first_and_last_connection(
    coordinator: RunningCoordinator,
) -> None:
    watcher, person = unique("w"), unique("p")
    watching = await coordinator.ws(watcher)
    laptop = await coordinator.ws(person, user={"id": person, "name": "Pat"})
    came = await watching.wait_for("user.presence_changed")
    assert came["user"]["id"] == person and came["user"]["online"] is True
    assert came["user"]["name"] == "Pat", "the event carries the whole user (new people appear)"
    assert "call_cid" not in came, "not a call event"
    assert came["user"]["teams"] == [], "whose teams someone is in is not told to others"
    assert await _online(coordinator, watcher, person)
    status, body = await coordinator.api(watcher).get(f"/v1/users/{person}")
    assert status == 200 and body["user"]["online"] is True

    phone = await coordinator.ws(person)
    await watching.expect_none("user.presence_changed")  # a second device changes nothing
    await laptop.close()
    await watching.expect_none("user.presence_changed")
    assert await _online(coordinator, watcher, person)
    await phone.close()
    went = await watching.wait_for("user.presence_changed")
    assert went["user"]["id"] == person and went["user"]["online"] is False
    assert not await _online(coordinator, watcher, person), "a detached stream is not online"
    await laptop.expect_none("user.presence_changed", within=0)
    await watching.close()


async def test_nobody_hears_their_own_presence(coordinator: RunningCoordinator) -> None:
    person = unique("p")
    first = await coordinator.ws(person)
    second = await coordinator.ws(person)
    await second.close()
    await first.expect_none("user.presence_changed")
    await first.close()
