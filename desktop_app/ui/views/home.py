"""Home: ring people, the echo test, join by call id, and recent calls."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QRadioButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.protocol.users import UserResponse
from desktop_app.sdk import Call

from ..local_server import ECHO_USER
from ..resources import icon
from ..session import Session
from ..tasks import Runner
from ..theme import colors
from .common import StatusRow, button, card, label


def describe(call: Call, own_id: str) -> str:
    """ "Bob, Carol · video · 14:05" for the recent list."""
    state = call.state
    others = [m.user.name or m.user_id for m in state.members if m.user_id != own_id]
    who = ", ".join(others[:3]) + (f" +{len(others) - 3}" if len(others) > 3 else "")
    info = state.call
    when = info.created_at.astimezone().strftime("%d %b %H:%M") if info else ""
    kind = "video" if info and info.video else "audio"
    ended = " · ended" if state.ended_at else ""
    return f"{who or call.id} · {kind} · {when}{ended}"


class HomeView(QWidget):
    ring_requested = Signal(list, bool)  # user ids, video
    echo_requested = Signal()
    join_requested = Signal(str)  # "type:id"
    sign_out_requested = Signal()
    theme_chosen = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = Runner(self)
        self.greeting = label("", "title")
        self.server = label("", "muted")
        sign_out = button("Sign out", on_click=self.sign_out_requested.emit)
        self.settings = QToolButton()
        self.settings.setText("Settings")
        self.settings.setIcon(icon("settings", colors().text))
        self.settings.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.settings_menu = QMenu(self)
        self.settings.setMenu(self.settings_menu)
        self.show_lobby = self.settings_menu.addAction("Check devices before each call")
        self.show_lobby.setCheckable(True)
        self.show_lobby.toggled.connect(self._lobby_setting)
        themes = self.settings_menu.addMenu("Theme")
        self.theme_actions = QActionGroup(self)
        for name, label_text in (
            ("system", "Like the system"),
            ("light", "Light"),
            ("dark", "Dark"),
        ):
            action = themes.addAction(label_text)
            action.setCheckable(True)
            action.setData(name)
            self.theme_actions.addAction(action)
        self.theme_actions.triggered.connect(
            lambda action: self.theme_chosen.emit(str(action.data()))
        )
        header = QHBoxLayout()
        header.addWidget(self.greeting)
        header.addWidget(self.server)
        header.addStretch(1)
        header.addWidget(self.settings)
        header.addWidget(sign_out)

        self.people = QListWidget()
        self.people.setMinimumHeight(160)
        self.video = QRadioButton("Video")
        self.audio = QRadioButton("Audio only")
        self.video.setChecked(True)
        kinds = QButtonGroup(self)
        kinds.addButton(self.video)
        kinds.addButton(self.audio)
        self.ring = button("Ring", "primary", self._ring)
        self.ring.setIcon(icon("phone", "#ffffff"))
        ring_row = QHBoxLayout()
        ring_row.addWidget(self.video)
        ring_row.addWidget(self.audio)
        ring_row.addStretch(1)
        ring_row.addWidget(self.ring)
        ring_box = QWidget()
        ring_box.setLayout(ring_row)
        self.echo = button("Echo test call", on_click=self.echo_requested.emit)
        self.echo.setIcon(icon("camera", colors().text))
        self.echo.setToolTip("Rings a test participant that sends back your video and sound")
        self.call_id = QLineEdit()
        self.call_id.setPlaceholderText("Call id, e.g. standup or default:standup")
        self.call_id.returnPressed.connect(self._join)
        join = button("Join", on_click=self._join)
        join_row = QHBoxLayout()
        join_row.addWidget(self.call_id, 1)
        join_row.addWidget(join)
        join_box = QWidget()
        join_box.setLayout(join_row)
        start = card(
            label("People you can ring", "muted"),
            self.people,
            ring_box,
            self.echo,
            label("Join by call id", "muted"),
            join_box,
            title="New call",
        )

        self.recent = QListWidget()
        self.recent.itemActivated.connect(self._recent_chosen)
        self.empty_recent = label("No calls yet.", "muted")
        recent = card(self.empty_recent, self.recent, title="Recent calls")

        self.status = StatusRow(self.runner)
        grid = QGridLayout()
        grid.addWidget(start, 0, 0)
        grid.addWidget(recent, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.addLayout(header)
        outer.addWidget(self.status)
        outer.addLayout(grid, 1)

    # --- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        client = self.session.client
        if client is None:
            return
        prefs = self.session.preferences
        self.show_lobby.setChecked(not prefs.skip_lobby)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == prefs.theme)
        self.greeting.setText(f"Hello, {prefs.name or prefs.user_id}")
        self.server.setText(f"· {self.session.server_label}")
        self.echo.setVisible(self.session.is_local)
        self.echo.setEnabled(self.session.echo_ready)
        self.runner.run(client.query_users(), on_done=lambda found: self.show_people(found[0]))
        self.runner.run(
            client.query_calls(limit=20), on_done=lambda found: self.show_calls(found[0])
        )

    def show_people(self, users: list[UserResponse]) -> None:
        own = self.session.preferences.user_id
        self.people.clear()
        for user in users:
            if user.id in (own, ECHO_USER):
                continue
            item = QListWidgetItem(f"{user.name or user.id}  ({user.id})")
            item.setData(Qt.ItemDataRole.UserRole, user.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.people.addItem(item)
        if not self.people.count():
            item = QListWidgetItem("Nobody else has signed in to this server yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.people.addItem(item)

    def show_calls(self, calls: list[Call]) -> None:
        own = self.session.preferences.user_id
        self.recent.clear()
        for call in calls:
            item = QListWidgetItem(describe(call, own))
            item.setData(Qt.ItemDataRole.UserRole, call.cid)
            item.setToolTip(f"{call.cid} — double-click to join")
            self.recent.addItem(item)
        self.empty_recent.setVisible(not calls)
        self.recent.setVisible(bool(calls))

    # --- actions -----------------------------------------------------------------------------

    def chosen_people(self) -> list[str]:
        chosen = []
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.checkState() is Qt.CheckState.Checked:
                chosen.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return chosen

    def _ring(self) -> None:
        people = self.chosen_people()
        if not people:
            self.status.show_error("Pick at least one person to ring.")
            return
        self.ring_requested.emit(people, self.video.isChecked())

    def _join(self) -> None:
        text = self.call_id.text().strip()
        if not text:
            self.status.show_error("Type the id of the call to join.")
            return
        self.join_requested.emit(text)

    def _lobby_setting(self, show: bool) -> None:
        self.session.preferences.skip_lobby = not show
        self.session.save()

    def _recent_chosen(self, item: QListWidgetItem) -> None:
        self.join_requested.emit(str(item.data(Qt.ItemDataRole.UserRole)))
