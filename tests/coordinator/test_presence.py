"""Presence: online while an event stream is connected, announced to everyone else when a
user's first stream connects and their last one closes."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app.coordinator.hub import EventHub
from desktop_app.coordinator.presence import PresenceAnnouncer
from desktop_app.coordinator.store import Store
from desktop_app.coordinator.store.rows import UserRow
from desktop_app.coordinator.store.types import utcnow
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


async def test_what_nobody_reported_and_quick_flips_still_end_right(tmp_path: Path) -> None:
    """The announcer compares the hub's state now with what it last said: a connection
    closed as too slow (detached before anyone reported it) still reads as offline, and
    two flips in a row end with the right state said, once each."""
    store = Store(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    await store.migrate()
    now = utcnow()
    async with store.transaction() as repo:
        for user in ("pat", "watcher"):
            await repo.insert_user_if_missing(
                UserRow(id=user, role="user", created_at=now, updated_at=now, name=user.title())
            )
    hub = EventHub()
    announcer = PresenceAnnouncer(store, hub, utcnow)
    watcher = hub.connect("watcher")

    def heard() -> list[bool]:
        said = []
        while not watcher.queue.empty():
            payload = watcher.queue.get_nowait()
            assert payload is not None
            said.append(json.loads(payload)["user"]["online"])
        return said

    pat = hub.connect("pat")
    await announcer.changed("pat")
    assert heard() == [True]
    await announcer.changed("pat")
    assert heard() == [], "nothing changed: nothing said"
    pat.attached = False  # closed as too slow: nobody reported it yet
    await announcer.changed("pat")
    assert heard() == [False]
    hub.resume(pat.id, "pat")
    hub.detach(pat.id)  # back and gone again before anyone announced the return
    await announcer.changed("pat")
    assert heard() == [], "still offline, as last said"
    await store.close()
