"""Journeys through home, the lobby and the call view, with the real app's widgets:

* the people list: a click on a row picks, a search narrows it, presence shows and
  follows people as they come and go;
* an error belongs to its attempt, and a failed join leaves the lobby's preview live;
* test devices can be switched off again (lobby and Settings) when a real one appears;
* the lobby says "Ring" with names, an audio call starts with the camera off, "Skip this
  screen" follows the setting, a missing device's toggle is off, and Enter starts it;
* the participants panel shows who is here (with microphone and camera) and members who
  are not, with roles as people say them;
* when the other person leaves, a notice says so, then "You are the only one here";
* your own picture is always a mirror; the call id copy confirms;
* the dark theme switched while running redraws the icons;
* the echo test is titled "Echo test" and is a fresh call each time;
* at 200 % on a small screen the window fits.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QListWidgetItem

from desktop_app.sdk import CallingState, VideoClient
from desktop_app.sdk.devices import Device, SyntheticDevices
from desktop_app.ui.invite import parse_invite
from desktop_app.ui.preferences import Preferences
from desktop_app.ui.qt_devices import SwitchableDevices
from desktop_app.ui.session import Session
from desktop_app.ui.theme import apply_theme
from tests.support.coordinator import unique
from tests.ui.conftest import BotFactory, SessionFactory, UiCoordinator
from tests.ui.support import bot_line, eventually

UserFactory = Callable[..., Awaitable[VideoClient]]


def _row(window: Any, user_id: str) -> Any:
    people = window.home.people
    for index in range(people.count()):
        item = people.item(index)
        if item.data(Qt.ItemDataRole.UserRole) == user_id:
            return item
    return None


def _click(list_widget: Any, item: Any) -> None:
    """A real mouse click in the middle of the row's text (not on its box)."""
    rect = list_widget.visualItemRect(item)
    QTest.mouseClick(
        list_widget.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(rect.center().x() + 40, rect.center().y()),
    )


async def test_the_people_list_picks_on_click_searches_and_shows_presence_live(
    signed_in: SessionFactory, window_for: Any, sdk_user: UserFactory
) -> None:
    robin = await sdk_user("robin")
    sam = await sdk_user("sam")
    window = window_for(await signed_in("alice"))
    window.resize(1100, 720)
    window.show_home()
    await eventually(lambda: _row(window, "sam") is not None, what="people listed")
    assert "· online" in _row(window, "robin").text()

    window.home.ring.click()
    assert window.home.status.error.text() == "Pick at least one person to ring."
    _click(window.home.people, _row(window, "robin"))
    assert _row(window, "robin").checkState() is Qt.CheckState.Checked, "a row click picks"
    assert window.home.status.error.isHidden(), "the earlier attempt's error is gone"
    _click(window.home.people, _row(window, "robin"))
    assert _row(window, "robin").checkState() is Qt.CheckState.Unchecked, "and unpicks"
    _click(window.home.people, _row(window, "robin"))

    window.home.search.setText("SA")
    assert _row(window, "sam").isHidden() is False and _row(window, "robin").isHidden()
    window.home.search.clear()
    assert not _row(window, "robin").isHidden()

    await sam.disconnect()
    await eventually(lambda: "· offline" in _row(window, "sam").text(), what="sam went away")
    newcomer = await sdk_user("tess")  # signs up now: appears without a refresh
    await eventually(lambda: _row(window, "tess") is not None, what="tess appears")
    assert "· online" in _row(window, "tess").text()
    assert _row(window, "robin").checkState() is Qt.CheckState.Checked, "picks survive updates"
    await newcomer.disconnect()
    await robin.disconnect()


async def test_an_error_belongs_to_its_attempt_and_a_failed_join_keeps_the_preview_live(
    coordinator: UiCoordinator, signed_in: SessionFactory, window_for: Any, sdk_user: UserFactory
) -> None:
    bob = await sdk_user("bob")
    ended = bob.call("default", unique())
    await ended.get_or_create()
    await ended.end_call()
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)))
    window.show_home()
    window.home.call_id.setText(ended.id)
    window.home.call_id.returnPressed.emit()
    lobby = window.lobby
    await eventually(lambda: lobby.preview.frames_shown > 2, what="a live preview")
    lobby.join.click()
    await eventually(lambda: "ended" in lobby.status.error.text(), what="the join refused")
    shown = lobby.preview.frames_shown
    await eventually(lambda: lobby.preview.frames_shown > shown + 3, what="the preview moves on")
    assert window.stack.currentWidget() is lobby

    lobby.cancelled.emit()
    window.home.ring_requested.emit(["bob"], True)
    assert lobby.status.error.isHidden(), "the last call's error is not this lobby's"
    lobby.cancelled.emit()


async def test_test_devices_can_be_switched_off_again_when_a_real_one_appears(
    signed_in: SessionFactory, window_for: Any
) -> None:
    real = SyntheticDevices()
    for device_id in ("synthetic-camera", "synthetic-microphone", "synthetic-speaker"):
        real.unplug(device_id)
    devices = SwitchableDevices(real, SyntheticDevices())
    session = await signed_in("alice", devices=devices)
    window = window_for(session)
    window.show_home()
    window.home.ring_requested.emit(["bob"], True)
    lobby = window.lobby
    assert lobby.use_test.isVisibleTo(window) and not lobby.camera_toggle.isEnabled()
    assert lobby.camera_toggle.isChecked(), "no camera: its toggle shows off"
    lobby.use_test.click()
    await eventually(lambda: lobby.camera_toggle.isEnabled(), what="test devices in use")
    assert lobby.use_real.isVisibleTo(window) and lobby.test_note.isVisibleTo(window)

    real.plug(Device("usb-mic", "USB headset", "microphone", is_default=True))
    lobby.use_real.click()
    await eventually(
        lambda: (
            [lobby.microphones.itemText(i) for i in range(lobby.microphones.count())]
            == ["USB headset  (default)"]
        ),
        what="the real microphone offered again",
    )
    assert not session.preferences.use_test_devices
    assert not lobby.camera_toggle.isEnabled(), "still no real camera"
    lobby.cancelled.emit()

    window.home.refresh()
    assert not window.home.test_devices.isChecked()
    window.home.test_devices.trigger()  # Settings → Use test devices, and back
    assert session.preferences.use_test_devices and devices.use_test
    window.home.test_devices.trigger()
    assert not session.preferences.use_test_devices and not devices.use_test


async def test_the_lobby_says_ring_with_names_and_audio_calls_start_with_the_camera_off(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    robin = await bot("robin", "--answer", "accept")
    session = await signed_in("alice", devices=SyntheticDevices(height=120), camera_on=True)
    window = window_for(session)
    window.show_home()
    await eventually(lambda: _row(window, "robin") is not None, what="robin listed")
    lobby = window.lobby

    window.home.ring_requested.emit(["robin"], False)  # an audio call
    assert lobby.join.text() == "Ring" and lobby.subtitle.text() == "You are about to ring Robin."
    assert session.client is not None
    await eventually(lambda: session.client.camera.chosen is False, what="camera off")
    assert not session.client.camera.enabled and lobby.camera_toggle.isChecked()
    assert session.preferences.camera_on is True, "video calls keep their camera choice"
    lobby.cancelled.emit()

    window.home.show_lobby.setChecked(False)  # Settings: skip the lobby…
    window.home.show_lobby.setChecked(True)  # …then check devices again
    window.home.ring_requested.emit(["robin"], True)
    assert not lobby.skip.isChecked(), "the lobby's box follows the setting"
    await eventually(lambda: session.client.camera.enabled, what="video call: camera on")
    QTest.keyClick(lobby, Qt.Key.Key_Return)  # Enter starts it
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="the call"
    )
    await bot_line(robin, "receiving video from alice")


async def test_the_participants_panel_shows_who_is_here_in_a_call_joined_by_id(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory, sdk_user: UserFactory
) -> None:
    host = await sdk_user("hana")
    call_id = unique()
    call = host.call("default", call_id)
    await call.get_or_create(
        data={"members": [{"user_id": "hana", "role": "host"}, {"user_id": "zed"}]}
    )
    robin = await bot("robin", "--join", f"default:{call_id}")
    sam = await bot("sam", "--join", f"default:{call_id}", "--no-camera")
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)))
    window.show_home()
    window.home.call_id.setText(call_id)
    window.home.call_id.returnPressed.emit()
    assert window.stack.currentWidget() is window.lobby
    QTest.keyClick(window.lobby, Qt.Key.Key_Escape)  # changed her mind: Esc is Cancel
    await eventually(lambda: window.stack.currentWidget() is window.home, what="home again")
    window.home.call_id.returnPressed.emit()
    window.lobby.join.click()
    view = window.call_view
    await eventually(lambda: len(view.tiles) == 3, timeout=15, what="three tiles")
    view.participants.click()
    assert view.people.isVisible() and view.participants.isChecked(), "pressed while open"
    rows = [view.people.item(i).text() for i in range(view.people.count())]
    assert rows[0] == "In the call (3)", rows
    assert any(r.startswith("● Alice (you)\n") for r in rows), rows
    sams = next(r for r in rows if r.startswith("● Sam"))
    assert "camera off" in sams, rows
    assert "Not here (2)" in rows and "○ Hana — Host" in rows and "○ zed" in rows, rows
    assert not any("call_member" in r or "host" in r for r in rows), "roles as people say them"

    # Both leave at once: one sentence names both, the tiles do not move for it, and
    # "the only one here" comes after it, not before.
    tiles_at = view.grid.geometry()
    robin.stop()
    sam.stop()
    said: list[str] = []

    def saying(text: str) -> bool:
        if not said or said[-1] != view.notice.text():
            said.append(view.notice.text())
        return view.notice.text() == text

    await eventually(lambda: saying("Robin and Sam left the call."), timeout=30, what="both")
    assert view.grid.geometry() == tiles_at, "the notice line keeps its place"
    await eventually(lambda: saying("You are the only one here."), timeout=10, what="alone")
    assert said.index("Robin and Sam left the call.") < said.index("You are the only one here.")
    assert said.count("You are the only one here.") == 1, said


async def test_a_meeting_in_recent_calls_names_its_room_and_who_came(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    """Alice opens a room by its id; Robin and Sam join it by id too (not members): her
    recent calls name the room and both of them, and double-clicking joins it again."""
    call_id = unique()
    window = window_for(
        await signed_in("alice", devices=SyntheticDevices(height=120), skip_lobby=True)
    )
    window.show_home()
    window.home.call_id.setText(call_id)
    window.home.call_id.returnPressed.emit()
    view = window.call_view
    await eventually(lambda: view.call is not None and view.call.id == call_id, what="in")
    robin = await bot("robin", "--join", f"default:{call_id}")
    sam = await bot("sam", "--join", f"default:{call_id}", "--no-camera")
    await eventually(lambda: len(view.tiles) == 3, timeout=15, what="three tiles")
    robin.stop()
    sam.stop()
    await eventually(lambda: len(view.tiles) == 1, timeout=15, what="alone")
    view.leave.click()
    window.home.refresh_calls()

    def our_row() -> QListWidgetItem | None:
        items = [window.home.recent.item(i) for i in range(window.home.recent.count())]
        return next((i for i in items if i.text().startswith(f"↗ {call_id} — ")), None)

    row = await eventually(our_row, timeout=15, what="the meeting in recent calls")
    assert "Robin" in row.text() and "Sam" in row.text() and " · call · " in row.text()
    assert "Nobody else" not in row.text()
    assert "join again" in row.toolTip(), "a room to come back to, not people to ring"
    joined: list[str] = []
    window.home.join_requested.connect(joined.append)
    window.home._recent_chosen(row)
    assert joined == [f"default:{call_id}"]


async def test_when_the_other_person_leaves_a_notice_says_so_and_then_you_are_alone(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    robin = await bot("robin", "--answer", "accept")
    window = window_for(
        await signed_in("alice", devices=SyntheticDevices(height=120), skip_lobby=True)
    )
    window.show_home()
    window.home.ring_requested.emit(["robin"], True)
    view = window.call_view
    await eventually(lambda: len(view.tiles) == 2, timeout=15, what="robin's tile")
    assert view.title.text() == "Call with Robin"
    local = await eventually(
        lambda: next((t for t in view.tiles.values() if t.name.endswith("(you)")), None),
        what="your own tile",
    )
    assert local.mirrored, "your own picture is a mirror"
    window.resize(700, 500)
    await asyncio.sleep(0.1)
    assert local.mirrored and not any(t.mirrored for t in view.tiles.values() if t is not local), (
        "only yours, and still after a resize"
    )

    view.copy_id.click()
    assert view.copied.text() == "Copied an invite link to this call"
    assert parse_invite(QGuiApplication.clipboard().text()).cid == view.call.cid

    robin.stop()
    await eventually(
        lambda: view.notice.text() == "Robin left the call.", timeout=30, what="the notice"
    )
    await eventually(
        lambda: view.notice.text() == "You are the only one here.", timeout=10, what="alone"
    )

    # No tray here: closing the window would end the call, so it asks first.
    assert window.tray is None
    quit_signals: list[bool] = []
    window.closed.connect(lambda: quit_signals.append(True))
    window.close()
    question = window.leave_question
    assert window.isVisible() and question is not None and "quit Parley" in question.text()
    next(b for b in question.buttons() if b.text() == "Stay").click()
    await asyncio.sleep(0.3)
    assert window.isVisible() and view.call is not None and not quit_signals
    assert view.call.state.calling_state is CallingState.JOINED
    call = view.call
    window.close()
    question = window.leave_question
    assert question is not None
    next(b for b in question.buttons() if b.text() == "Leave the call").click()
    await eventually(lambda: bool(quit_signals), what="left, then quit")
    assert call.state.calling_state is CallingState.LEFT


async def test_the_dark_theme_switched_while_running_redraws_the_icons(
    signed_in: SessionFactory, window_for: Any
) -> None:
    from PySide6.QtWidgets import QApplication

    window = window_for(await signed_in("alice"))
    window.show_home()
    button = window.home.settings

    def darkest_icon_pixel() -> int:
        image = button.icon().pixmap(QSize(24, 24)).toImage()
        return min(
            image.pixelColor(x, y).lightness()
            for x in range(image.width())
            for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 200
        )

    assert darkest_icon_pixel() < 80, "dark icon on the light theme"
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    try:
        dark = next(a for a in window.home.theme_actions.actions() if a.data() == "dark")
        dark.trigger()
        assert darkest_icon_pixel() > 150, "a light icon on the dark theme, without a restart"
    finally:
        apply_theme(app, "light")


@pytest.fixture
def local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "data"


async def test_the_echo_test_is_titled_and_a_fresh_call_each_time(
    local_data: Path, window_for: Any
) -> None:
    from tests.support.served import free_port

    session = Session(
        Preferences(local_port=free_port(), skip_lobby=True),
        SyntheticDevices(height=120),
        data_dir=local_data,
    )
    await session.sign_in("local", "", "alice", "Alice")
    window = window_for(session)
    window.show_home()
    assert window.home.echo.isEnabled()
    seen = []
    view = window.call_view
    for _ in range(2):
        window.home.echo.click()
        await eventually(
            lambda: window.stack.currentWidget() is view and len(view.tiles) == 2,
            timeout=20,
            what="the echo call",
        )
        assert view.title.text() == "Echo test"
        seen.append(view.call.cid)
        view.leave.click()
        await eventually(lambda: window.stack.currentWidget() is window.home, what="home")
    assert seen[0] != seen[1], "a fresh call each time"


SCALED = """
import json, sys
from PySide6.QtWidgets import QApplication
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import Preferences
from desktop_app.ui.session import Session
app = QApplication(sys.argv[:1])
window = MainWindow(Session(Preferences(), SyntheticDevices(), persist=False), tray=False)
window.show()
app.processEvents()
free = window.screen().availableGeometry()
frame = window.frameGeometry()
print(json.dumps({"free": [free.width(), free.height()], "window": [frame.width(), frame.height()],
                  "inside": free.contains(frame)}))
"""


def test_at_200_percent_on_a_small_screen_the_window_fits(tmp_path: Path) -> None:
    (tmp_path / "offscreen.json").write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "small",
                        "x": 0,
                        "y": 0,
                        "width": 1440,
                        "height": 900,
                        "logicalDpi": 96,
                        "dpr": 1,
                    }
                ]
            }
        )
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={tmp_path / 'offscreen.json'}",
        "QT_SCALE_FACTOR": "2",
        "PARLEY_CONFIG_DIR": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCALED], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["free"] == [720, 450], measured
    assert measured["inside"], f"the window fits the screen: {measured}"
