"""The call: a grid of tiles (1 to 16 a page, more on further pages) or the speaker
layout (the one talking large, the others in a strip), the controls, the participants
panel, and banners for backstage, reconnecting and a call that ended. Only the tiles on
screen receive video (``call.show_video_of``).

Everything shown comes from the call's observable state; every button calls an SDK verb.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.protocol.permissions import Permission
from desktop_app.sdk import Call, CallingState, Participant
from desktop_app.sdk.quality import ConnectionQuality, QualityLevel

from ..invite import invite_link
from ..resources import icon
from ..tasks import Runner
from ..theme import colors, themed_icon
from ..widgets.tile_grid import Layout, TileGrid
from ..widgets.video_tile import VideoTile
from .arrival_notice import ArrivalNotice
from .common import ElidedLabel, StatusRow, ask, button, label, names_phrase
from .lobby import show_toggle, toggle_button

SPEAKING_LEVEL = 0.15
#: Our own tile's key in ``CallView.tiles`` (the others' are their participant session
#: ids): ours must outlive the session id, which a rejoin changes.
YOU = "you"
#: While the call is in these states our own tile stays without a session of ours.
REJOINING = (CallingState.RECONNECTING, CallingState.MIGRATING, CallingState.JOINING)
#: Roles as people say them ("" for an ordinary participant: nothing to say).
ROLE_NAMES = {
    "host": "Host",
    "admin": "Admin",
    "moderator": "Moderator",
    "call_member": "",
    "user": "",
}


SPEAKER_VIEW_TIP = "Speaker view: the one talking large (Ctrl+L)"
GRID_VIEW_TIP = "Grid view: everyone the same size (Ctrl+L)"
MUTED_HINT = "You are muted. Press the microphone button (Ctrl+D) to be heard."


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role, role.replace("_", " ").capitalize())


def with_role(name: str, role: str) -> str:
    said = role_name(role)
    return f"{name} — {said}" if said else name


def control(
    name: str, tip: str, on_click: Callable[[], None], role: str = "control"
) -> QToolButton:
    widget = QToolButton()
    widget.setProperty("role", role)
    themed_icon(widget, lambda: icon(name, "#ffffff" if role == "danger" else colors().text))
    widget.setIconSize(QSize(24, 24))
    widget.setToolTip(tip)
    widget.clicked.connect(on_click)
    return widget


def _key(participant: Participant) -> str:
    return YOU if participant.is_local else participant.session_id


def _picture_height(tile: VideoTile) -> int:
    """How tall a camera's picture is drawn in ``tile`` (device pixels): a narrow tile
    draws a 4:3 picture less tall than itself."""
    return round(min(tile.height(), tile.width() * 3 / 4) * tile.devicePixelRatioF())


class CallView(QWidget):
    left = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(self)
        self.call: Call | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self.tiles: dict[str, VideoTile] = {}
        #: The question "End the call for everyone?" while it is asked.
        self.end_question: QMessageBox | None = None
        self._refresh_pending = False

        self.title = ElidedLabel("", "title")
        self.copy_id = control("copy", "Copy an invite link to this call", self._copy_id)
        #: The server's address, for invite links (set by the window).
        self.server = ""
        self.copied = label("", "muted")
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.copy_id)
        header.addWidget(self.copied)
        header.addStretch(1)
        self.status = StatusRow(self.runner)
        header.addWidget(self.status)

        self.banner = QFrame()
        self.banner.setProperty("role", "banner")
        self.banner_text = label("", wrap=True)
        self.go_live = button("Go live", "primary", self._go_live)
        self.back_home = button("Back to home", on_click=self._back_home)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_text, 1)
        banner_layout.addWidget(self.go_live)
        banner_layout.addWidget(self.back_home)

        self.grid = TileGrid()
        self.previous_page = button("‹", on_click=lambda: self.grid.turn(-1))
        self.next_page = button("›", on_click=lambda: self.grid.turn(1))
        self.page_label = label("", "muted")
        self.grid.page_changed.connect(self._show_pages)
        self.people = QListWidget()
        self.people.setMaximumWidth(280)
        self.people.hide()
        #: "Bob left the call." for a moment, and "You are the only one here."
        self.notice = ArrivalNotice()
        #: Talking into a muted microphone: said until they stop (or unmute).
        self.muted_hint = label(MUTED_HINT, "hint")
        keep_place = self.muted_hint.sizePolicy()
        keep_place.setRetainSizeWhenHidden(True)  # the tiles do not jump when it shows
        self.muted_hint.setSizePolicy(keep_place)
        self.muted_hint.hide()
        self._title = ""
        self._title_from_people = False
        #: The event connection's state ("connected", "reconnecting", "offline").
        self.connection = "connected"
        middle = QHBoxLayout()
        middle.addWidget(self.previous_page)
        middle.addWidget(self.grid, 1)
        middle.addWidget(self.next_page)
        middle.addWidget(self.people)

        self.mic = toggle_button("mic", "mic-off", "Microphone (Ctrl+D)")
        self.mic.clicked.connect(self.toggle_microphone)
        self.camera = toggle_button("camera", "camera-off", "Camera (Ctrl+E)")
        self.camera.clicked.connect(self.toggle_camera)
        self.devices = control("settings", "Devices", lambda: None)
        self.devices.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.devices_menu = QMenu(self)
        self.devices_menu.aboutToShow.connect(self._fill_devices_menu)
        self.devices.setMenu(self.devices_menu)
        #: Pressed while the panel is open (accent, not the red of a control turned off).
        self.participants = control("users", "Participants", self._toggle_people, "panel")
        self.participants.setCheckable(True)
        self.layout_toggle = control("speaker-view", SPEAKER_VIEW_TIP, self._toggle_layout)
        self.leave = control("hang-up", "Leave the call", self._leave, role="danger")
        self.end = button("End for everyone", "danger", self._end)
        keep = self.end.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # the other buttons stay where they were
        self.end.setSizePolicy(keep)
        controls = QHBoxLayout()
        controls.addStretch(1)
        for widget in (
            self.mic,
            self.camera,
            self.devices,
            self.participants,
            self.layout_toggle,
            self.leave,
        ):
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.end)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.addLayout(header)
        outer.addWidget(self.banner)
        outer.addLayout(middle, 1)
        outer.addWidget(self.notice)
        outer.addWidget(self.muted_hint, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addLayout(controls)

        QShortcut(QKeySequence("Ctrl+D"), self, self.toggle_microphone)
        QShortcut(QKeySequence("Ctrl+E"), self, self.toggle_camera)
        QShortcut(QKeySequence("Ctrl+L"), self, self._toggle_layout)
        #: The video asked for last (``call.show_video_of``): whose (None: everyone's),
        #: and how tall each one's tile is.
        self._showing: tuple[frozenset[str] | None, dict[str, int]] | None = None
        self.grid.page_changed.connect(self._follow_visible)
        self._levels = QTimer(self)
        self._levels.setInterval(100)
        self._levels.timeout.connect(self._show_levels)

    # --- binding ------------------------------------------------------------------------------

    def bind(self, call: Call, title: str = "", *, title_from_people: bool = False) -> None:
        """``title_from_people``: "Call with …" names whoever is in the call now."""
        self.unbind()
        self.call = call
        self._title = title or call.id
        self._title_from_people = title_from_people
        self.title.setText(self._title)
        self.title.setToolTip(call.cid)
        self.notice.follow(call)
        state = call.state
        for observable in (
            state.participants_,
            state.call_,
            state.calling_state_,
            state.own_capabilities_,
            state.dominant_speaker_,
        ):
            self._unsubscribe.append(observable.subscribe(lambda _: self._refresh_soon()))
        self._showing = None
        for manager in (call.camera, call.microphone):
            self._unsubscribe.append(manager.status.subscribe(lambda _: self._refresh_soon()))
        self._unsubscribe.append(
            call.microphone.speaking_while_muted.subscribe(lambda _: self._refresh_soon())
        )
        self._levels.start()
        self.refresh()

    def unbind(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._levels.stop()
        self.muted_hint.hide()
        for tile in self.tiles.values():
            tile.stop()
            tile.deleteLater()
        self.tiles.clear()
        self.grid.set_tiles([])
        self.notice.follow(None)
        if self.end_question is not None:  # a question about a call no longer shown
            self.end_question.close()
            self.end_question = None
        self.call = None

    # --- showing state -------------------------------------------------------------------------

    def _refresh_soon(self) -> None:
        """Once, after the SDK has finished applying what arrived (a call and its participants
        change in one step; several changes make one repaint)."""
        if not self._refresh_pending:
            self._refresh_pending = True
            asyncio.get_running_loop().call_soon(self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_pending = False
        self.refresh()

    def refresh(self) -> None:
        call = self.call
        if call is None:
            return
        state = call.state
        # Rejoining, our own session is gone until the join answer brings the next one:
        # our tile stays (it shows our camera, which never stopped), and our next session,
        # whose event may come before the answer, is not someone else's tile.
        rejoining = state.calling_state in REJOINING and YOU in self.tiles
        participants = [
            p
            for p in state.participants
            if p.is_local or not (rejoining and p.user.id == state.own_user_id)
        ]
        seen = {_key(p) for p in participants}
        if rejoining:
            seen.add(YOU)
        for key in list(self.tiles):
            if key not in seen:
                tile = self.tiles.pop(key)
                tile.stop()
                tile.deleteLater()
        ordered = sorted(participants, key=lambda p: (not p.is_local, p.joined_at))
        for participant in ordered:
            known = self.tiles.get(_key(participant))
            if known is None:
                known = self.tiles[_key(participant)] = VideoTile()
            self._show_participant(known, participant)
        keys = ([YOU] if YOU in self.tiles else []) + [
            p.session_id for p in ordered if not p.is_local
        ]
        self.grid.set_tiles([self.tiles[key] for key in keys])
        self._feature(state.dominant_speaker, ordered)

        show_toggle(self.mic, call.microphone.enabled)
        self.muted_hint.setVisible(
            call.microphone.speaking_while_muted.value and not call.microphone.enabled
        )
        show_toggle(self.camera, call.camera.enabled)
        self.end.setVisible(Permission.END_CALL in state.own_capabilities)
        self._show_banner()
        self._show_people()
        self._show_arrivals(participants)

    def _show_participant(self, tile: VideoTile, participant: Participant) -> None:
        call = self.call
        assert call is not None
        person = participant.user.id
        tile.set_name(participant.user.name or person, person)
        # Your own picture is always a mirror (as in the lobby); others never are.
        tile.set_mirrored(participant.is_local)
        if participant.is_local:
            tile.set_name(f"{participant.user.name or person} (you)", person)
            tile.set_muted(not call.microphone.enabled)
            if call.camera.enabled and tile.track is None:
                tile.set_track(call.camera.subscribe(), owned=True)
            elif not call.camera.enabled and tile.track is not None:
                tile.set_track(None)
            tile.set_video_off(not call.camera.enabled)
            tile.set_state("")
            _show_quality(tile, participant.quality, "Your connection")
            return
        tile.set_muted(participant.published.get("audio") is False)
        quality = participant.quality
        lost = quality is not None and quality.level is QualityLevel.LOST
        video_off = participant.published.get("video") is False or participant.video_track is None
        tile.set_track(participant.video_track)
        # Nothing arriving: their avatar and "reconnecting", never a frozen picture.
        tile.set_video_off(video_off or lost)
        state = participant.connection_state
        if lost or state == "failed":
            tile.set_state("reconnecting…")
        else:
            tile.set_state("" if state in ("connected", "new") else state)
        _show_quality(tile, None if lost else quality, "Connection")

    def _show_levels(self) -> None:
        call = self.call
        if call is None:
            return
        for participant in call.state.participants:
            tile = self.tiles.get(_key(participant))
            if tile is not None and not participant.is_local:
                tile.set_speaking(participant.audio_level > SPEAKING_LEVEL)

    def _show_banner(self) -> None:
        call = self.call
        assert call is not None
        state = call.state
        calling = state.calling_state
        text, go_live, home = "", False, False
        if state.ended_at is not None or (
            calling is CallingState.LEFT and state.call is not None and state.call.ended_at
        ):
            text, home = "This call has ended.", True
        elif calling is CallingState.RECONNECTING_FAILED:  # over, whatever the connection
            text = (
                "The connection was lost and could not be restored. "
                "Check your network, then join the call again."
            )
            home = True
        elif calling is CallingState.RECONNECTING or self.connection != "connected":
            text = "Reconnecting… the connection was lost; the call goes on when it is back."
        elif state.backstage:
            text = "The call is backstage: only hosts see and hear each other until it goes live."
            go_live = Permission.UPDATE_CALL in state.own_capabilities
        self.banner_text.setText(text)
        self.go_live.setVisible(go_live)
        self.back_home.setVisible(home)
        self.banner.setVisible(bool(text))
        for widget in (self.mic, self.camera, self.devices, self.leave):
            widget.setEnabled(not home)

    def _show_people(self) -> None:
        """Who is here now (with microphone and camera), then members who are not."""
        call = self.call
        assert call is not None
        self.people.clear()
        here = call.state.participants
        self.people.addItem(f"In the call ({len(here)})")
        roles = {m.user_id: m.role.value for m in call.state.members}
        for participant in sorted(here, key=lambda p: (not p.is_local, p.joined_at)):
            name = participant.user.name or participant.user.id
            if participant.is_local:
                name += " (you)"
                mic, cam = call.microphone.enabled, call.camera.enabled
            else:
                mic = participant.published.get("audio") is not False
                cam = participant.published.get("video") is not False
            role = roles.get(participant.user.id, participant.role)
            what = ("mic on" if mic else "muted") + " · " + ("camera on" if cam else "camera off")
            item = QListWidgetItem(f"● {with_role(name, role)}\n    {what}")
            item.setData(Qt.ItemDataRole.UserRole, participant.user.id)
            self.people.addItem(item)
        present = {p.user.id for p in here}
        away = [m for m in call.state.members if m.user_id not in present]
        if away:
            self.people.addItem(f"Not here ({len(away)})")
            for member in away:
                name = member.user.name or member.user_id
                self.people.addItem(f"○ {with_role(name, member.role.value)}")
        for row in range(self.people.count()):
            item = self.people.item(row)
            if not item.text().startswith(("●", "○")):
                item.setFlags(Qt.ItemFlag.NoItemFlags)  # a section heading
                font = item.font()
                font.setBold(True)
                item.setFont(font)

    def _show_arrivals(self, participants: list[Participant]) -> None:
        """Say when someone leaves (:mod:`.arrival_notice`); "Call with …" names who is
        here now."""
        self.notice.participants_changed(participants)
        if self._title_from_people and self.notice.others:
            self.title.setText("Call with " + names_phrase(list(self.notice.others.values())))

    def set_connection(self, state: str) -> None:
        """The event connection's state (the banner says "Reconnecting…" while it is down)."""
        self.connection = state if state in ("reconnecting", "offline") else "connected"
        if self.call is not None:
            self._show_banner()

    def _show_pages(self) -> None:
        many = self.grid.pages > 1
        self.previous_page.setVisible(many)
        self.next_page.setVisible(many)
        self.previous_page.setEnabled(self.grid.page > 0)
        self.next_page.setEnabled(self.grid.page < self.grid.pages - 1)

    # --- actions -----------------------------------------------------------------------------

    def _feature(self, speaker: Participant | None, ordered: list[Participant]) -> None:
        """The speaker layout shows the one talking large — or, until someone talks, the
        first of the others; never yourself while anyone else is here."""
        featured = self.grid.featured
        current = next((p for p, t in self._tiles_of(ordered) if t is featured), None)
        if speaker is not None and not speaker.is_local:
            chosen: Participant | None = speaker
        elif current is not None and not current.is_local:
            chosen = current
        else:
            chosen = next((p for p in ordered if not p.is_local), None)
        self.grid.feature(self.tiles.get(_key(chosen)) if chosen else None)

    def _tiles_of(self, ordered: list[Participant]) -> list[tuple[Participant, VideoTile]]:
        return [(p, self.tiles[_key(p)]) for p in ordered if _key(p) in self.tiles]

    def _toggle_layout(self) -> None:
        speaker = self.grid.layout_mode == "grid"
        mode: Layout = "speaker" if speaker else "grid"
        self.grid.set_layout(mode)
        name, tip = ("grid", GRID_VIEW_TIP) if speaker else ("speaker-view", SPEAKER_VIEW_TIP)
        themed_icon(self.layout_toggle, lambda: icon(name, colors().text))
        self.layout_toggle.setToolTip(tip)

    def _follow_visible(self) -> None:
        """Receive the video of the tiles on screen only (everyone's when all are), each
        at what its tile's size needs."""
        call = self.call
        if call is None:
            return
        on_screen = {id(tile) for tile in self.grid.visible_tiles()}
        others = {key: tile for key, tile in self.tiles.items() if key != YOU}
        shown = {key for key, tile in others.items() if id(tile) in on_screen}
        wanted = None if len(shown) == len(others) else frozenset(shown)
        heights = {key: _picture_height(others[key]) for key in shown}
        if (wanted, heights) != self._showing:
            self._showing = (wanted, heights)
            call.show_video_of(wanted, heights)

    def toggle_microphone(self) -> None:
        if self.call is not None:
            self.runner.run(self.call.microphone.toggle())

    def toggle_camera(self) -> None:
        if self.call is not None:
            self.runner.run(self.call.camera.toggle())

    def _toggle_people(self) -> None:
        self.people.setVisible(self.participants.isChecked())

    def _copy_id(self) -> None:
        if self.call is not None:
            clipboard = QGuiApplication.clipboard()
            link = invite_link(self.server, self.call.type, self.call.id) if self.server else ""
            clipboard.setText(link or self.call.cid)
            self.status.show_error("")
            self.copied.setText(
                "Copied an invite link to this call"
                if link
                else f"Copied the call id {self.call.cid}"
            )
            self.copied.setToolTip(link)
            QTimer.singleShot(3000, self.copied, lambda: self.copied.setText(""))

    def _go_live(self) -> None:
        if self.call is not None:
            self.runner.run(self.call.go_live())

    def _leave(self) -> None:
        if self.call is not None:
            self.runner.run(self.call.leave(), on_done=lambda _: self._back_home())

    def _end(self) -> None:
        """Ending is for everyone and cannot be undone: asked first (Esc or "Cancel"
        keeps the call)."""
        if self.call is None:
            return
        self.end_question = ask(
            self,
            "End the call for everyone?",
            "Everyone in the call is disconnected, and nobody can join it again.",
            ("End for everyone", partial(self._end_now, self.call)),
            warning=True,
        )

    def _end_now(self, call: Call) -> None:
        """Ends the call it was asked about, and only while it is the one shown."""
        if call is self.call:
            self.runner.run(call.end_call(), on_done=lambda _: self._back_home())

    def _back_home(self) -> None:
        self.unbind()
        self.left.emit()

    def _fill_devices_menu(self) -> None:
        call = self.call
        self.devices_menu.clear()
        if call is None:
            return
        for title, manager in (
            ("Camera", call.camera),
            ("Microphone", call.microphone),
            ("Speaker", call.speaker),
        ):
            section = self.devices_menu.addSection(title)
            section.setEnabled(False)
            selected = manager.selected.value
            for device in manager.list_devices():
                action = self.devices_menu.addAction(device.label)
                action.setCheckable(True)
                action.setChecked(selected is not None and selected.id == device.id)
                action.triggered.connect(lambda _=False, m=manager, d=device.id: self._select(m, d))

    def _select(self, manager: Any, device_id: str) -> None:
        self.runner.run(manager.select(device_id))


def _show_quality(tile: VideoTile, quality: ConnectionQuality | None, whose: str) -> None:
    """Bars on the tile, the figures behind them in its tooltip."""
    tile.set_quality(quality.level.value if quality is not None else None)
    tile.setToolTip(quality.describe().replace("Connection", whose, 1) if quality else "")
