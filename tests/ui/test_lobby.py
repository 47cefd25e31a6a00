"""The lobby drives the client's device managers and remembers the person's choices."""

from __future__ import annotations

import asyncio

from desktop_app.sdk.devices import Device, NoDevices, SyntheticDevices
from desktop_app.ui.preferences import load_preferences
from desktop_app.ui.qt_devices import SwitchableDevices
from desktop_app.ui.views.lobby import LobbyView
from tests.ui.conftest import SessionFactory
from tests.ui.support import eventually


async def test_toggles_drive_the_devices_and_are_remembered(signed_in: SessionFactory) -> None:
    session = await signed_in("alice")
    assert session.client is not None
    lobby = LobbyView(session)
    lobby.show()
    lobby.open_for(None, "test")
    camera, microphone = session.client.camera, session.client.microphone
    await eventually(lambda: camera.enabled and microphone.enabled, what="call type defaults")
    await eventually(lambda: lobby.preview.frames_shown > 2, what="a live preview")
    assert not lobby.camera_toggle.isChecked(), "checked means off"

    lobby.camera_toggle.click()
    await eventually(lambda: not camera.enabled, what="camera off")
    assert lobby.camera_toggle.isChecked() and lobby.preview.video_off
    lobby.mic_toggle.click()
    await eventually(lambda: not microphone.enabled, what="mic off")
    saved = load_preferences()
    assert (saved.camera_on, saved.microphone_on) == (False, False)
    assert camera.chosen is False, "the choice carries into the call"
    lobby.close_devices(release=True)

    # next run: the lobby starts from the remembered choice, not the call type's default
    again = LobbyView(session)
    session.preferences = load_preferences()
    camera.chosen = None
    again.open_for(None, "again")
    await eventually(lambda: camera.chosen is False, what="remembered choice applied")
    await asyncio.sleep(0.2)
    assert not camera.enabled
    again.close_devices(release=True)


async def test_pickers_follow_hot_plug_and_remember_the_pick(signed_in: SessionFactory) -> None:
    devices = SyntheticDevices()
    session = await signed_in("alice", devices=devices)
    lobby = LobbyView(session)
    lobby.open_for(None, "test")
    assert lobby.cameras.count() == 1
    devices.plug(Device("usb-cam", "USB camera", "camera"))
    await eventually(lambda: lobby.cameras.count() == 2, what="the new camera listed")
    lobby.cameras.setCurrentIndex(lobby.cameras.findData("usb-cam"))
    lobby.cameras.activated.emit(lobby.cameras.currentIndex())
    assert session.client is not None
    await eventually(
        lambda: (s := session.client.camera.selected.value) is not None and s.id == "usb-cam",  # type: ignore[union-attr]
        what="selected",
    )
    assert load_preferences().camera_id == "usb-cam"
    devices.unplug("usb-cam")
    await eventually(lambda: lobby.cameras.count() == 1, what="gone from the list")
    await eventually(
        lambda: lobby.cameras.currentData() == "synthetic-camera", what="fallback shown"
    )
    lobby.close_devices(release=True)


async def test_no_devices_offers_the_test_devices(signed_in: SessionFactory) -> None:
    switchable = SwitchableDevices(NoDevices(), SyntheticDevices())
    session = await signed_in("alice", devices=switchable)
    lobby = LobbyView(session)
    lobby.show()
    lobby.open_for(None, "test")
    assert lobby.no_devices.isVisible() and lobby.use_test.isVisible()
    assert not lobby.status.error.isVisible(), "no error: the notice says it"
    lobby.use_test.click()
    await eventually(lambda: lobby.preview.frames_shown > 1, what="test pattern preview")
    assert not lobby.no_devices.isVisible()
    assert load_preferences().use_test_devices
    lobby.close_devices(release=True)


async def test_the_speaker_test_plays_on_the_chosen_output(signed_in: SessionFactory) -> None:
    devices = SyntheticDevices()
    session = await signed_in("alice", devices=devices)
    lobby = LobbyView(session)
    lobby.open_for(None, "test")
    lobby.speaker_test.click()
    assert lobby.speaker_test.text() == "Playing…" and not lobby.speaker_test.isEnabled()
    await eventually(
        lambda: devices.speakers and devices.speakers[-1].frames_played > 10, what="sound"
    )
    assert abs(devices.speakers[-1].heard(0.2)).max() > 1000
    await eventually(
        lambda: lobby.speaker_test.text() == "Test speaker", timeout=5, what="the tone's end"
    )
    assert lobby.speaker_test.isEnabled()

    # No speaker: nothing to test (a "Playing…" beside "no speaker" would contradict
    # itself); one plugged in again: there is.
    devices.unplug("synthetic-speaker")
    await eventually(lambda: not lobby.speaker_test.isEnabled(), what="the test greyed out")
    devices.plug(Device("usb-speaker", "USB speaker", "speaker", is_default=True))
    await eventually(lambda: lobby.speaker_test.isEnabled(), what="the test offered again")
    lobby.close_devices(release=True)
