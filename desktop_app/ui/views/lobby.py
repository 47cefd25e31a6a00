"""The lobby, before every join: camera preview, microphone level, speaker test, device
pickers that follow hot-plug, and camera / microphone toggles.

The toggles start from what the user chose last time (remembered), or else from the call
type's ``camera_default_on`` / ``mic_default_on``. Everything here drives the client's own
device managers (``client.camera`` …), which the call takes over when it joins.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.sdk import Call
from desktop_app.sdk.device_managers import InputDeviceManager, SpeakerManager
from desktop_app.sdk.devices import Device
from desktop_app.sdk.levels import audio_level

from ..resources import icon
from ..session import Session
from ..tasks import Runner
from ..theme import colors, themed_icon
from ..widgets.level_meter import LevelMeter
from ..widgets.video_tile import VideoTile
from .common import StatusRow, button, card, label, scrolling

#: How long the speaker test's tone plays.
TEST_SOUND_SECONDS = 1.5


def toggle_button(on_icon: str, off_icon: str, tip: str) -> QToolButton:
    widget = QToolButton()
    widget.setCheckable(True)  # checked = off (red)
    widget.setProperty("role", "control")
    widget.setIconSize(QSize(24, 24))
    widget.setToolTip(tip)
    widget.setProperty("icons", (on_icon, off_icon))
    return widget


def show_toggle(widget: QToolButton, on: bool) -> None:
    on_icon, off_icon = widget.property("icons")
    widget.setChecked(not on)
    themed_icon(
        widget,
        lambda: icon(on_icon if on else off_icon, "#ffffff" if not on else colors().text),
    )


class LobbyView(QWidget):
    join_clicked = Signal()
    cancelled = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = Runner(self)
        self.call: Call | None = None
        self.title = label("Ready to join?", "title")
        self.subtitle = label("", "muted")
        self.preview = VideoTile()
        self.preview.mirrored = True
        self.preview.setMinimumSize(QSize(400, 225))
        self.camera_toggle = toggle_button("camera", "camera-off", "Camera (on / off)")
        self.mic_toggle = toggle_button("mic", "mic-off", "Microphone (on / off)")
        self.camera_toggle.clicked.connect(self._toggle_camera)
        self.mic_toggle.clicked.connect(self._toggle_microphone)
        self.meter = LevelMeter()
        self.speaker_test = button("Test speaker", on_click=self._test_speaker)
        self._speaker_test_timer = QTimer(self)
        self._speaker_test_timer.setSingleShot(True)
        self._speaker_test_timer.timeout.connect(self._speaker_test_done)
        themed_icon(self.speaker_test, lambda: icon("speaker", colors().text))
        controls = QHBoxLayout()
        controls.addWidget(self.camera_toggle)
        controls.addWidget(self.mic_toggle)
        controls.addWidget(self.meter, 1)
        controls.addWidget(self.speaker_test)

        self.cameras = QComboBox()
        self.microphones = QComboBox()
        self.speakers = QComboBox()
        self.cameras.activated.connect(lambda _: self._picked(self.cameras, "camera"))
        self.microphones.activated.connect(lambda _: self._picked(self.microphones, "microphone"))
        self.speakers.activated.connect(lambda _: self._picked(self.speakers, "speaker"))
        pickers = QFormLayout()
        pickers.addRow("Camera", self.cameras)
        pickers.addRow("Microphone", self.microphones)
        pickers.addRow("Speaker", self.speakers)
        picker_box = QWidget()
        picker_box.setLayout(pickers)

        self.no_devices = label(
            "No camera or microphone was found on this computer.", "muted", wrap=True
        )
        self.use_test = button("Use test devices", on_click=lambda: self.use_test_devices(True))
        self.test_note = label(
            "Using test devices: a moving test picture and a tone.", "muted", wrap=True
        )
        self.use_real = button(
            "Use this computer's devices", on_click=lambda: self.use_test_devices(False)
        )
        self.skip = QCheckBox("Skip this screen next time")
        self.skip.setChecked(session.preferences.skip_lobby)
        self.skip.toggled.connect(self._skip_changed)
        self.join = button("Join", "primary", self._join)
        self.join.setDefault(True)
        for keys in ("Return", "Enter"):
            QShortcut(QKeySequence(keys), self, self._join)
        cancel = button("Cancel", on_click=self.cancelled.emit)
        actions = QHBoxLayout()
        actions.addWidget(self.skip)
        actions.addStretch(1)
        actions.addWidget(cancel)
        actions.addWidget(self.join)
        actions_box = QWidget()
        actions_box.setLayout(actions)
        controls_box = QWidget()
        controls_box.setLayout(controls)
        self.status = StatusRow(self.runner)
        box = card(
            self.subtitle,
            self.preview,
            controls_box,
            picker_box,
            self.no_devices,
            self.use_test,
            self.test_note,
            self.use_real,
            self.status,
            actions_box,
        )
        box.setMaximumWidth(640)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.addWidget(self.title, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addWidget(box, 1, Qt.AlignmentFlag.AlignHCenter)
        scrolling(self, content)
        self._unsubscribe: list[Callable[[], None]] = []
        self._level_task: asyncio.Task[None] | None = None
        self._branches: list[Any] = []
        self.audio_only = False
        self.test_note.hide()
        self.use_real.hide()

    # --- managers --------------------------------------------------------------------------

    @property
    def camera(self) -> InputDeviceManager:
        assert self.session.client is not None
        return self.session.client.camera

    @property
    def microphone(self) -> InputDeviceManager:
        assert self.session.client is not None
        return self.session.client.microphone

    @property
    def speaker(self) -> SpeakerManager:
        assert self.session.client is not None
        return self.session.client.speaker

    # --- opening and closing ----------------------------------------------------------------

    def open_for(
        self, call: Call | None, subtitle: str, action: str = "Join", camera: bool = True
    ) -> None:
        """Show the lobby for ``call`` (None: a call about to be made); ``action`` names
        what the main button does ("Join", "Ring"); ``camera`` False for an audio call."""
        self.close_devices()
        self.call = call
        self.subtitle.setText(subtitle)
        self.join.setText(action)
        self.title.setText("Ready to join?" if action == "Join" else "Ready?")
        self.status.clear()  # an error belongs to the attempt that caused it
        prefs = self.session.preferences
        self.skip.blockSignals(True)
        self.skip.setChecked(prefs.skip_lobby)
        self.skip.blockSignals(False)
        self.audio_only = not camera
        settings = call.state.settings if call is not None else None
        camera_default = settings.video.camera_default_on if settings else True
        mic_default = settings.audio.mic_default_on if settings else True
        for manager, combo, chosen_id in (
            (self.camera, self.cameras, prefs.camera_id),
            (self.microphone, self.microphones, prefs.microphone_id),
            (self.speaker, self.speakers, prefs.speaker_id),
        ):
            self._unsubscribe.append(
                manager.devices.subscribe(self._lister(manager, combo), now=True)
            )
            self._unsubscribe.append(manager.selected.subscribe(self._refiller(manager, combo)))
            if chosen_id and any(d.id == chosen_id for d in manager.devices.value):
                self.runner.run(manager.select(chosen_id))
        self._unsubscribe.append(
            self.camera.status.subscribe(lambda _: self._show_states(), now=True)
        )
        self._unsubscribe.append(self.microphone.status.subscribe(lambda _: self._show_states()))
        # An audio call starts with the camera off, whatever was chosen for video calls.
        self._start(self.camera, False if self.audio_only else prefs.camera_on, camera_default)
        self._start(self.microphone, prefs.microphone_on, mic_default)
        branch = self.camera.subscribe()
        self._branches.append(branch)
        self.preview.set_track(branch)
        self._level_task = asyncio.ensure_future(self._levels(self.microphone.subscribe()))
        self._devices_present()

    def _start(self, manager: InputDeviceManager, remembered: bool | None, default: bool) -> None:
        if not manager.list_devices():
            return  # the notice says so, and offers the test devices
        if remembered is None:
            self.runner.run(manager.apply_default(default))
        else:
            self.runner.run(manager.enable() if remembered else manager.disable())

    def close_devices(self, release: bool = False) -> None:
        """Stop the preview and meter (``release``: close the devices too — on cancel)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self.preview.set_track(None)
        if self._level_task is not None:
            self._level_task.cancel()
            self._level_task = None
        for branch in self._branches:
            branch.stop()
        self._branches.clear()
        self.meter.set_level(0)
        if release and self.session.client is not None:
            self.camera.release()
            self.microphone.release()
            self.speaker.stop()

    async def _levels(self, branch: Any) -> None:
        self._branches.append(branch)
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await branch.recv()
                self.meter.set_level(audio_level(frame) if self.microphone.enabled else 0.0)

    # --- what the person does ----------------------------------------------------------------

    def _join(self) -> None:
        if self.isVisible() and self.join.isEnabled():
            self.status.clear()
            self.join_clicked.emit()

    def _toggle_camera(self) -> None:
        on = not self.camera.enabled
        if not self.audio_only:  # a choice for audio calls is not the video default
            self.session.preferences.camera_on = on
            self.session.save()
        self.runner.run(self.camera.enable() if on else self.camera.disable())

    def _toggle_microphone(self) -> None:
        on = not self.microphone.enabled
        self.session.preferences.microphone_on = on
        self.session.save()
        self.runner.run(self.microphone.enable() if on else self.microphone.disable())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Esc is Cancel, as in a dialog (whatever has the focus in the lobby)."""
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        super().keyPressEvent(event)

    def _test_speaker(self) -> None:
        self.speaker_test.setText("Playing…")
        self.speaker_test.setEnabled(False)
        self.runner.run(
            self.speaker.play_test_sound(seconds=TEST_SOUND_SECONDS),
            on_error=self._speaker_test_failed,
        )
        self._speaker_test_timer.start(round(TEST_SOUND_SECONDS * 1000) + 200)

    def _speaker_test_done(self) -> None:
        self._speaker_test_timer.stop()  # a test that failed early: its timer is not next's
        self.speaker_test.setText("Test speaker")
        self._speaker_test_ready()

    def _speaker_test_failed(self, sentence: str) -> None:
        self._speaker_test_done()
        self.runner.failed.emit(sentence)

    def _speaker_test_ready(self) -> None:
        """A speaker to test, and no test playing: "Playing…" with no speaker to play on
        would say one thing while the error line says another."""
        playing = self.speaker_test.text() != "Test speaker"
        self.speaker_test.setEnabled(bool(self.speaker.devices.value) and not playing)

    def _picked(self, combo: QComboBox, kind: str) -> None:
        device_id = combo.currentData()
        if not isinstance(device_id, str):
            return
        manager: Any = {
            "camera": self.camera,
            "microphone": self.microphone,
            "speaker": self.speaker,
        }[kind]
        setattr(self.session.preferences, f"{kind}_id", device_id)
        self.session.save()
        self.runner.run(manager.select(device_id))

    def _skip_changed(self, skip: bool) -> None:
        self.session.preferences.skip_lobby = skip
        self.session.save()

    def use_test_devices(self, on: bool) -> None:
        """Switch between the synthetic test devices and this computer's own (both ways:
        a real microphone plugged in later must be reachable again)."""
        self.session.use_test_devices(on)
        self.status.clear()
        prefs = self.session.preferences
        self._start(self.camera, False if self.audio_only else prefs.camera_on, True)
        self._start(self.microphone, prefs.microphone_on, True)
        self._devices_present()

    # --- showing state ---------------------------------------------------------------------------

    def _lister(self, manager: Any, combo: QComboBox) -> Callable[[list[Device]], None]:
        def listed(_devices: list[Device]) -> None:
            self._fill(manager, combo)
            self._devices_present()
            if manager is self.speaker:
                self._speaker_test_ready()

        return listed

    def _refiller(self, manager: Any, combo: QComboBox) -> Callable[[Device | None], None]:
        return lambda _selected: self._fill(manager, combo)

    def _fill(self, manager: Any, combo: QComboBox) -> None:
        combo.clear()
        devices: list[Device] = manager.devices.value
        for device in devices:
            combo.addItem(device.label + ("  (default)" if device.is_default else ""), device.id)
        selected = manager.selected.value
        if selected is not None:
            combo.setCurrentIndex(max(0, combo.findData(selected.id)))
        combo.setEnabled(bool(devices))
        if not devices:
            combo.addItem("None found")

    def _devices_present(self) -> None:
        if self.session.client is None:
            return
        testing = self.session.preferences.use_test_devices
        none = not self.camera.devices.value and not self.microphone.devices.value
        self.no_devices.setVisible(none and not testing)
        self.use_test.setVisible(none and not testing)
        self.test_note.setVisible(testing)
        self.use_real.setVisible(testing)
        self._show_states()

    def _show_states(self) -> None:
        # With no device of a kind, its toggle is off and cannot be pressed.
        for toggle, manager in (
            (self.camera_toggle, self.camera),
            (self.mic_toggle, self.microphone),
        ):
            present = bool(manager.devices.value)
            toggle.setEnabled(present)
            show_toggle(toggle, manager.enabled and present)
        self.preview.set_video_off(not self.camera.enabled)
        self.preview.set_muted(not self.microphone.enabled)
        preferences = self.session.preferences
        self.preview.set_name(preferences.name or preferences.user_id, preferences.user_id)
