"""The call view: tiles from the call's state, controls that call the SDK, "end for
everyone" only with ``end-call``, banners, and a grid that re-flows and pages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from desktop_app.protocol.permissions import Permission
from desktop_app.sdk import Call, CallingState, VideoClient
from desktop_app.sdk.devices import Device, SyntheticDevices
from desktop_app.sdk.sfu_plan import GRID_TILE_HEIGHT
from desktop_app.ui.views.call_view import YOU, CallView
from desktop_app.ui.widgets.tile_grid import (
    PAGE_SIZE,
    TileGrid,
    grid_shape,
    strip_height,
    strip_size,
)
from desktop_app.ui.widgets.video_tile import VideoTile
from tests.support import speech
from tests.support.coordinator import unique
from tests.ui.conftest import SessionFactory
from tests.ui.support import eventually

UserFactory = Callable[..., Awaitable[VideoClient]]


def _shortcut(view: CallView, keys: str) -> QShortcut:
    """The view's shortcut for ``keys`` (activated directly: a synthetic key press would
    spin Qt's loop inside the running asyncio step)."""
    wanted = QKeySequence(keys)
    return next(s for s in view.findChildren(QShortcut) if s.key() == wanted)


async def test_end_for_everyone_only_with_end_call(
    signed_in: SessionFactory, sdk_user: UserFactory
) -> None:
    session = await signed_in("alice")
    bob = await sdk_user("bob")
    assert session.client is not None
    call = session.client.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    bobs = bob.call("default", call.id)
    await bobs.join()
    for own, allowed in ((call, True), (bobs, False)):
        assert (Permission.END_CALL in own.state.own_capabilities) is allowed
        view = CallView()
        view.show()
        view.bind(own)
        assert view.end.isVisible() is allowed, f"end button for {own.context.user_id}"
        view.unbind()
        view.close()

    # Ending is asked first: Cancel keeps the call; "End for everyone" ends it for Bob too.
    view = CallView()
    view.show()
    view.bind(call)
    view.end.click()
    question = view.end_question
    assert question is not None and question.isVisible()
    assert "everyone" in question.text().lower() or "everyone" in question.windowTitle().lower()
    QTest.keyClick(question, Qt.Key.Key_Return)  # Enter by habit: the default keeps it
    await asyncio.sleep(0.3)
    assert call.state.calling_state is CallingState.JOINED, "Enter keeps the call"
    assert not question.isVisible()
    view.end.click()
    question = view.end_question
    assert question is not None
    next(b for b in question.buttons() if b.text() == "Cancel").click()
    await asyncio.sleep(0.3)
    assert call.state.calling_state is CallingState.JOINED, "Cancel keeps the call"
    view.end.click()
    question = view.end_question
    assert question is not None
    next(b for b in question.buttons() if b.text() == "End for everyone").click()
    await eventually(
        lambda: bobs.state.call is not None and bobs.state.call.ended_at is not None,
        timeout=10,
        what="the call ended for bob",
    )
    view.close()


async def test_tiles_controls_and_shortcuts(
    signed_in: SessionFactory, sdk_user: UserFactory
) -> None:
    session = await signed_in("alice")
    bob = await sdk_user("bob")
    assert session.client is not None
    call = session.client.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    await bob.call("default", call.id).join()
    view = CallView()
    view.resize(900, 600)
    view.show()
    view.bind(call)
    await eventually(lambda: len(view.tiles) == 2, what="two tiles")
    bobs_tile = next(t for t in view.tiles.values() if t.name == "Bob")
    await eventually(
        lambda: bobs_tile.frames_painted > 3 or bobs_tile.frames_shown > 3,
        timeout=10,
        what="bob's picture",
    )

    _shortcut(view, "Ctrl+D").activated.emit()
    await eventually(lambda: not call.microphone.enabled, what="Ctrl+D mutes")
    assert view.mic.isChecked()
    _shortcut(view, "Ctrl+E").activated.emit()
    await eventually(lambda: not call.camera.enabled, what="Ctrl+E turns the camera off")
    own_tile = next(t for t in view.tiles.values() if t.name.endswith("(you)"))
    await eventually(lambda: own_tile.video_off and own_tile.muted, what="own tile shows it")

    bobs_call = bob.call("default", call.id)
    await bobs_call.microphone.disable()
    await eventually(lambda: bobs_tile.muted, what="bob's muted mark")

    view.participants.click()
    rows = [view.people.item(i).text() for i in range(view.people.count())]
    assert view.people.isVisible() and rows[0] == "In the call (2)", rows
    assert any(r.startswith("● Bob\n") and "muted" in r for r in rows), rows
    assert any(r.startswith("● Alice (you) — Host") for r in rows), rows
    assert not any("call_member" in r for r in rows), "roles read as people say them"

    await call.end_call()
    await eventually(
        lambda: view.banner.isVisible() and "ended" in view.banner_text.text(), what="ended banner"
    )
    assert view.back_home.isVisible() and not view.leave.isEnabled()
    view.back_home.click()
    assert view.call is None
    view.close()


async def test_the_speaker_layout_follows_the_talker_and_takes_only_shown_video(
    signed_in: SessionFactory, sdk_user: UserFactory
) -> None:
    session = await signed_in("alice")
    assert session.client is not None
    call = session.client.call("default", unique())
    await call.join(create=True)
    others = {}
    for user in ("bob", "carol", "dan"):
        client = await sdk_user(user)
        if user != "dan":
            await client.microphone.disable()  # only dan talks
        others[user] = client.call("default", call.id)
        await others[user].join()
    view = CallView()
    view.resize(640, 1000)  # tall: a strip too narrow for all three others
    view.show()
    view.bind(call)
    await eventually(lambda: len(view.tiles) == 4, timeout=10, what="four tiles")
    assert view.grid.layout_mode == "grid" and call.media_session.visible is None

    _shortcut(view, "Ctrl+L").activated.emit()
    assert view.grid.layout_mode == "speaker"
    assert strip_size(view.grid.width(), view.grid.height()) < 3, "the premise"
    assert "Grid view" in view.layout_toggle.toolTip()
    big = view.grid.visible_tiles()[0]
    assert big.name != "Alice (you)", "never yourself large while others are here"
    shown = {
        key for key, tile in view.tiles.items() if tile in view.grid.visible_tiles() and key != YOU
    }
    assert len(shown) < 4
    assert call.media_session.visible == shown, "video asked for only the tiles on screen"

    dan = next(p for p in call.state.participants if p.user.id == "dan")
    await eventually(  # dan talks
        lambda: view.grid.visible_tiles()[0] is view.tiles[dan.session_id],
        timeout=10,
        what="dan large",
    )
    assert dan.session_id in (call.media_session.visible or set())
    # Dan's large tile takes his camera's full picture, the strip's small ones the grid
    # layer (where the call goes through the SFU).
    assert view.tiles[dan.session_id].height() > GRID_TILE_HEIGHT
    assert call.media_session.sharp == {dan.session_id}

    view.layout_toggle.click()  # back to the grid: everyone's video again
    assert view.grid.layout_mode == "grid" and call.media_session.visible is None
    small = all(t.height() <= GRID_TILE_HEIGHT for k, t in view.tiles.items() if k != YOU)
    assert small and call.media_session.sharp == set(), "four tiles in a column: all small"
    for other in others.values():
        await other.leave()
    await call.leave()
    view.unbind()
    view.close()


async def test_backstage_banner_offers_go_live_to_hosts(signed_in: SessionFactory) -> None:
    session = await signed_in("alice")
    assert session.client is not None
    call = session.client.call("livestream", unique())
    await call.join(create=True)
    view = CallView()
    view.show()
    view.bind(call)
    assert view.banner.isVisible() and "backstage" in view.banner_text.text()
    assert view.go_live.isVisible()
    view.go_live.click()
    await eventually(lambda: not call.state.backstage, what="live")
    await eventually(lambda: not view.banner.isVisible(), what="banner gone")
    await call.leave()
    view.unbind()
    assert call.state.calling_state is CallingState.LEFT


def test_the_grid_reflows_from_1_to_16_tiles_and_pages_beyond(qapp: object) -> None:
    assert grid_shape(1, 1600, 900) == (1, 1)
    assert grid_shape(2, 1600, 900) == (2, 1)
    assert grid_shape(4, 1600, 900) == (2, 2)
    assert grid_shape(6, 1600, 900) == (3, 2)
    assert grid_shape(9, 1600, 900) == (3, 3)
    assert grid_shape(16, 1600, 900) == (4, 4)
    assert grid_shape(3, 600, 1200) == (1, 3), "a tall window stacks tiles"

    grid = TileGrid()
    grid.resize(1200, 800)
    tiles = [VideoTile() for _ in range(20)]
    grid.set_tiles(tiles)
    assert grid.pages == 2 and len(grid.visible_tiles()) == PAGE_SIZE
    assert [t.isVisibleTo(grid) for t in tiles] == [True] * 16 + [False] * 4
    grid.turn(1)
    assert grid.visible_tiles() == tiles[16:]
    assert all(t.width() > 300 for t in tiles[16:]), "the last page re-flows for 4 tiles"
    grid.set_tiles(tiles[:3])
    assert grid.page == 0 and grid.pages == 1


def test_the_speaker_layout_shows_one_large_and_the_others_in_a_strip(qapp: object) -> None:
    grid = TileGrid()
    grid.resize(1200, 800)
    tiles = [VideoTile() for _ in range(12)]
    grid.set_tiles(tiles)
    grid.set_layout("speaker")
    grid.feature(tiles[5])  # the one talking
    big, *strip = grid.visible_tiles()
    assert big is tiles[5]
    assert big.width() == 1200 and big.height() > 500
    assert strip and len(strip) == strip_size(1200, 800) and tiles[5] not in strip
    assert all(t.height() == strip_height(800) and t.y() > big.height() for t in strip)
    assert [t for t in tiles if t.isVisibleTo(grid)] == sorted([big, *strip], key=tiles.index), (
        "only the large tile and the strip's page are shown"
    )
    pages = grid.pages
    assert pages == -(-11 // strip_size(1200, 800))
    grid.turn(1)
    assert grid.visible_tiles()[0] is tiles[5] and grid.visible_tiles()[1:] != strip
    grid.feature(tiles[0])
    assert grid.visible_tiles()[0] is tiles[0]
    grid.set_layout("grid")
    assert grid.page == 0 and len(grid.visible_tiles()) == 12
    grid.set_tiles(tiles[:1])  # alone: the speaker layout is the grid
    grid.set_layout("speaker")
    assert grid.visible_tiles() == [tiles[0]] and tiles[0].width() == 1200


def test_an_avatar_shows_the_initials_of_the_name_not_of_its_labels() -> None:
    from desktop_app.ui.widgets.video_tile import initials

    assert initials("Walt Walker (you)") == "WW"
    assert initials("Walt Walker") == "WW"
    assert initials("robin") == "RO"
    assert initials("ann_lee") == "AL"
    assert initials("(you)") == "?"
    assert initials("") == "?"


def test_a_long_title_ends_in_an_ellipsis_instead_of_widening_the_window(qapp: object) -> None:
    from desktop_app.ui.views.common import ElidedLabel

    view = CallView()
    view.title.setText("Call with Bob Baker, Carol Chen and Dan Dimitrov-Oyelaran-Fitzgerald")
    view.resize(1200, 600)
    view.show()
    assert isinstance(view.title, ElidedLabel) and not view.title.is_elided()
    view.resize(500, 600)
    QApplication.processEvents()
    assert view.width() <= 500 and view.minimumSizeHint().width() <= 500
    assert view.title.is_elided() and view.title.text().endswith("Fitzgerald"), "whole text kept"
    view.close()


def test_an_avatar_keeps_its_colour_with_or_without_you(qapp: object) -> None:
    def circle_colour(name: str, person: str = "alice") -> str:
        tile = VideoTile()
        tile.set_name(name, person)
        tile.set_video_off(True)
        tile.resize(200, 150)
        return tile.grab().toImage().pixelColor(QPoint(100, 75 - 22)).name()  # above the text

    assert circle_colour("Alice") == circle_colour("Alice (you)")
    assert circle_colour("Alice") != circle_colour("Alice", "alice2"), "another person's"


def test_call_titles_name_a_few_people_then_count_the_rest() -> None:
    from desktop_app.ui.views.common import names_phrase

    assert names_phrase(["Bob"]) == "Bob"
    assert names_phrase(["Bob", "Cy"]) == "Bob and Cy"
    assert names_phrase(["Bob", "Cy", "Di"]) == "Bob, Cy and Di"
    assert names_phrase(["Bob", "Cy", "Di", "Ed", "Fa"]) == "Bob, Cy and 3 others"


def _room_microphone(talking: bool) -> SyntheticDevices:
    """Alice's devices, with a microphone in a room where she talks (or stays quiet)."""
    devices = SyntheticDevices(height=120)
    devices.unplug("synthetic-microphone")
    devices.plug(
        Device("room-mic", "Laptop microphone", "microphone", is_default=True, acoustic=True),
        tone_hz=None if talking else 0,
        sound=speech.speech(speech.NEAR_TEXT, "en-gb+f3") if talking else None,
    )
    return devices


async def _muted_in_a_call(
    signed_in: SessionFactory, sdk_user: UserFactory, talking: bool
) -> tuple[CallView, Call]:
    session = await signed_in("alice", devices=_room_microphone(talking))
    assert session.client is not None
    # Bob is quiet (see tests/sdk/test_microphone.py for why).
    bob = await sdk_user("bob", devices=SyntheticDevices(tone_hz=0))
    call = session.client.call("default", unique())
    await call.join(create=True)
    await bob.call("default", call.id).join()
    view = CallView()
    view.show()
    view.bind(call)
    view.mic.click()
    await eventually(lambda: not call.microphone.enabled, what="muted")
    return view, call


@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng")
async def test_talking_while_muted_shows_a_hint_until_unmuted(
    signed_in: SessionFactory, sdk_user: UserFactory
) -> None:
    view, call = await _muted_in_a_call(signed_in, sdk_user, talking=True)
    await eventually(view.muted_hint.isVisible, timeout=5, what="the hint")
    assert "You are muted" in view.muted_hint.text()
    view.mic.click()
    await eventually(lambda: not view.muted_hint.isVisible(), what="gone once unmuted")
    assert call.microphone.enabled
    view.unbind()
    await call.leave()


async def test_a_muted_microphone_in_a_quiet_room_shows_no_hint(
    signed_in: SessionFactory, sdk_user: UserFactory
) -> None:
    view, call = await _muted_in_a_call(signed_in, sdk_user, talking=False)
    await eventually(lambda: call.microphone.listening, what="listening")
    for _ in range(30):  # 1.5 s of a quiet room: nothing to say
        await asyncio.sleep(0.05)
        assert not view.muted_hint.isVisible()
    view.unbind()
    await call.leave()
