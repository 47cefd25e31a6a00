"""Home: ring people, the echo test, join by call id, and recent calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
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

from desktop_app.protocol.users import UserPresenceResponse
from desktop_app.sdk import Call
from desktop_app.sdk.call_history import CallRecord, call_record

from ..local_server import ECHO_USER
from ..resources import icon, presence_dot
from ..session import Session
from ..tasks import Runner
from ..theme import colors, themed_icon
from .common import StatusRow, button, card, label, scrolling

#: Marks the "Nobody matches" row of the people list.
NO_MATCH_ROLE = Qt.ItemDataRole.UserRole + 1

OUTCOME_WORDS = {
    "answered": "answered",
    "ringing": "ringing now",
    "cancelled": "cancelled",
    "declined": "declined",
    "no answer": "no answer",
    "missed": "missed",
    "meeting": "call",
}


#: The switches of the microphone's processing: (part, menu text, tooltip).
AUDIO_PROCESSING_PARTS = (
    (
        "echo_cancellation",
        "Echo cancellation",
        "Keeps the others from hearing themselves when you use speakers, not headphones",
    ),
    ("noise_suppression", "Noise suppression", "Takes out steady noise: fans, hum, hiss"),
    ("high_pass_filter", "Low rumble filter", "Takes out rumble below the voice: desk knocks"),
    (
        "auto_gain_control",
        "Automatic volume",
        "Raises a quiet microphone (also the noise between your words)",
    ),
)


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def describe(record: CallRecord) -> str:
    """ "↗ Bob, Carol · answered · video · 01 Dec 14:05 · 3 min" for the recent list
    ("↗ standup — Bob, Carol · call · …" for a room joined by id)."""
    names = [p.name for p in record.people]
    who = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    if record.outcome == "meeting":  # a room joined by id: its name says which
        room = record.cid.split(":", 1)[-1]
        who = f"{room} — {who}" if who else room
    arrow = "↙" if record.direction == "incoming" else "↗"
    when = record.started_at.astimezone().strftime("%d %b %H:%M")
    parts = [f"{arrow} {who or 'Nobody else'}", OUTCOME_WORDS[record.outcome]]
    parts += ["video" if record.video else "audio", when]
    if record.duration is not None and record.outcome in ("answered", "meeting"):
        parts.append(duration_text(record.duration.total_seconds()))
    return " · ".join(parts)


def record_of(
    call: Call, own_id: str, people: Mapping[str, UserPresenceResponse] | None = None
) -> CallRecord | None:
    """``people``: whom we know, to name those who joined without being members."""
    info = call.state.call
    if info is None:
        return None
    names = {user_id: user.name for user_id, user in (people or {}).items() if user.name}
    return call_record(info, call.state.members, own_id, names)


class HomeView(QWidget):
    ring_requested = Signal(list, bool)  # user ids, video
    call_back_requested = Signal(list, bool)  # user ids, video (a call back from the history)
    echo_requested = Signal()
    join_requested = Signal(str)  # "type:id"
    sign_out_requested = Signal()
    theme_chosen = Signal(str)
    about_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.runner = Runner(self)
        self.greeting = label("", "title")
        self.server = label("", "muted")
        sign_out = button("Sign out", on_click=self.sign_out_requested.emit)
        self.settings = QToolButton()
        self.settings.setText("Settings")
        themed_icon(self.settings, lambda: icon("settings", colors().text))
        self.settings.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.settings.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.settings_menu = QMenu(self)
        self.settings.setMenu(self.settings_menu)
        self.show_lobby = self.settings_menu.addAction("Check devices before each call")
        self.show_lobby.setCheckable(True)
        self.show_lobby.toggled.connect(self._lobby_setting)
        self.test_devices = self.settings_menu.addAction("Use test devices")
        self.test_devices.setCheckable(True)
        self.test_devices.setToolTip(
            "A moving test picture and a tone instead of this computer's camera and microphone"
        )
        self.test_devices.toggled.connect(self._test_devices_setting)
        sound = self.settings_menu.addMenu("Microphone sound")
        #: The processing's parts, by the name the session knows them by.
        self.audio_processing: dict[str, QAction] = {}
        for part, text, tip in AUDIO_PROCESSING_PARTS:
            action = sound.addAction(text)
            action.setCheckable(True)
            action.setToolTip(tip)
            action.toggled.connect(
                lambda on, part=part: self.session.set_audio_processing(part, on)
            )
            self.audio_processing[part] = action
        sound.setToolTipsVisible(True)
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
        self.settings_menu.addSeparator()
        self.settings_menu.addAction("About Parley", self.about_requested.emit)
        header = QHBoxLayout()
        header.addWidget(self.greeting)
        header.addWidget(self.server)
        header.addStretch(1)
        header.addWidget(self.settings)
        header.addWidget(sign_out)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search people")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda _: self._filter_people())
        self.people = QListWidget()
        self.people.setMinimumHeight(160)
        self.people.itemPressed.connect(self._person_pressed)
        self.people.itemClicked.connect(self._person_clicked)
        self._pressed_state: Qt.CheckState | None = None
        self.people.itemChanged.connect(self._picks_changed)
        self._people: dict[str, UserPresenceResponse] = {}
        self._people_wanted: dict[str, UserPresenceResponse] = {}
        self._people_pending = False
        self._no_match: QListWidgetItem | None = None
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
        themed_icon(self.echo, lambda: icon("camera", colors().text))
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
        self.missed_box = QFrame()
        self.missed_box.setProperty("role", "banner")
        self.missed_text = label("", wrap=True)
        self.call_back = button("Call back", "primary", self._call_back_missed)
        dismiss = button("Dismiss", on_click=self.dismiss_missed)
        missed_row = QHBoxLayout(self.missed_box)
        missed_row.addWidget(self.missed_text, 1)
        missed_row.addWidget(self.call_back)
        missed_row.addWidget(dismiss)
        self.missed_box.hide()
        self._missed: list[CallRecord] = []

        start = card(
            label("People you can ring", "muted"),
            self.search,
            self.people,
            ring_box,
            self.echo,
            label("Join by call id", "muted"),
            join_box,
            title="New call",
        )

        self.recent = QListWidget()
        self.recent.setWordWrap(True)  # a narrow window wraps a row instead of hiding its end
        self.recent.itemActivated.connect(self._recent_chosen)
        self._following: list[Callable[[], None]] = []
        self._shown_calls: list[Call] = []
        self._render_pending = False
        self.empty_recent = label("No calls yet.", "muted")
        recent = card(self.empty_recent, self.recent, title="Recent calls")

        self.status = StatusRow(self.runner)
        grid = QGridLayout()
        grid.addWidget(start, 0, 0)
        grid.addWidget(recent, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(20, 16, 20, 16)
        outer.addLayout(header)
        outer.addWidget(self.missed_box)
        outer.addWidget(self.status)
        outer.addLayout(grid, 1)
        scrolling(self, content)

    # --- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        client = self.session.client
        if client is None:
            return
        self.status.clear()
        prefs = self.session.preferences
        self.show_lobby.setChecked(not prefs.skip_lobby)
        self.test_devices.blockSignals(True)
        self.test_devices.setChecked(prefs.use_test_devices)
        self.test_devices.blockSignals(False)
        for part, action in self.audio_processing.items():
            action.blockSignals(True)
            action.setChecked(bool(getattr(prefs, part)))
            action.blockSignals(False)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == prefs.theme)
        self.greeting.setText(f"Hello, {prefs.name or prefs.user_id}")
        self.server.setText(f"· {self.session.server_label}")
        self.echo.setVisible(self.session.is_local)
        self.echo.setEnabled(self.session.echo_ready)
        # The list follows client.state.people; its first answer is drawn even when it is
        # no change (nobody else yet: the list says so instead of staying blank).
        self.runner.run(
            client.query_users(), on_done=lambda _: self.show_people(client.state.people.value)
        )
        self.refresh_calls()

    def refresh_calls(self) -> None:
        client = self.session.client
        if client is not None:
            self.runner.run(
                client.query_calls(limit=20), on_done=lambda found: self.show_calls(found[0])
            )

    def show_people(self, people: dict[str, UserPresenceResponse]) -> None:
        """Take the newest people (presence events can come in bursts, as when a server
        restarts and everyone reconnects: one redraw for the burst)."""
        self._people_wanted = people
        if not self._people_pending:
            self._people_pending = True
            QTimer.singleShot(0, self, self._draw_people)  # not after the view is gone

    def _draw_people(self) -> None:
        """Everyone but us and the echo bot, by name; picks survive."""
        self._people_pending = False
        people = self._people_wanted
        chosen = set(self.chosen_people())
        self._people = {k: v for k, v in people.items() if k != ECHO_USER}
        self.people.blockSignals(True)
        self.people.clear()
        # By name only: rows do not move under the mouse when someone comes online.
        ordered = sorted(self._people.values(), key=lambda u: ((u.name or u.id).lower(), u.id))
        for user in ordered:
            presence = "online" if user.online else "offline"
            item = QListWidgetItem(f"{user.name or user.id}  ({user.id}) · {presence}")
            item.setData(Qt.ItemDataRole.UserRole, user.id)
            item.setIcon(presence_dot(user.online))
            item.setToolTip(f"{user.name or user.id} is {presence}")
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if user.id in chosen else Qt.CheckState.Unchecked
            )
            self.people.addItem(item)
        if not ordered:
            item = QListWidgetItem("Nobody else has signed in to this server yet.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.people.addItem(item)
        self._no_match = QListWidgetItem("")
        self._no_match.setData(NO_MATCH_ROLE, True)
        self._no_match.setFlags(Qt.ItemFlag.NoItemFlags)
        self.people.addItem(self._no_match)
        self.people.blockSignals(False)
        self._filter_people()

    def _filter_people(self) -> None:
        wanted = self.search.text().strip().lower()
        shown = 0
        for row in range(self.people.count()):
            item = self.people.item(row)
            user_id = item.data(Qt.ItemDataRole.UserRole)
            if item.data(NO_MATCH_ROLE):
                continue
            user = self._people.get(str(user_id)) if user_id else None
            text = f"{user.name or ''} {user.id}".lower() if user else ""
            hidden = bool(wanted) and user is not None and wanted not in text
            item.setHidden(hidden)
            shown += not hidden
        if self._no_match is not None:
            self._no_match.setText(f"Nobody matches “{self.search.text().strip()}”.")
            self._no_match.setHidden(shown > 0 or not wanted)

    def clear_picks(self) -> None:
        """After a ring: the next call starts from nobody picked."""
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
                item.setCheckState(Qt.CheckState.Unchecked)

    def show_calls(self, calls: list[Call]) -> None:
        """The history, kept current: each row follows its call (a ring that ends after
        the list was loaded turns from "ringing now" into how it ended)."""
        for unsubscribe in self._following:
            unsubscribe()
        self._following = [c.state.call_.subscribe(lambda _: self._calls_changed()) for c in calls]
        self._shown_calls = calls
        self._render_calls()

    def _calls_changed(self) -> None:
        if not self._render_pending:
            self._render_pending = True
            QTimer.singleShot(0, self, self._render_calls)

    def _render_calls(self) -> None:
        self._render_pending = False
        own = self.session.preferences.user_id
        self.recent.clear()
        records = [record_of(call, own, self._people) for call in self._shown_calls]
        # Newest first by the time each row shows (a room met in again today comes
        # before a call made yesterday, though the room was made last week).
        shown = sorted(
            (r for r in records if r is not None), key=lambda r: r.started_at, reverse=True
        )
        for record in shown:
            item = QListWidgetItem(describe(record))
            item.setData(Qt.ItemDataRole.UserRole, record)
            if record.outcome == "missed":
                item.setForeground(QColor(colors().danger))
            again = "join again" if record.joined_again else "call back"
            item.setToolTip(f"{record.cid} — double-click to {again}")
            self.recent.addItem(item)
        self.empty_recent.setVisible(not self.recent.count())
        self.recent.setVisible(bool(self.recent.count()))

    def show_missed(self, call: Call) -> None:
        """The missed-call notice: stays until called back or dismissed."""
        record = record_of(call, self.session.preferences.user_id, self._people)
        if record is None:
            return
        self._missed = [r for r in self._missed if r.cid != record.cid] + [record]
        latest = self._missed[-1]
        names = ", ".join(p.name for p in latest.people[:1]) or "Someone"
        when = latest.started_at.astimezone().strftime("%H:%M")
        more = f" (and {len(self._missed) - 1} more)" if len(self._missed) > 1 else ""
        self.missed_text.setText(f"Missed call from {names} at {when}{more}.")
        self.call_back.setVisible(bool(latest.call_back_ids))
        self.missed_box.show()
        self.refresh_calls()

    def dismiss_missed(self) -> None:
        self._missed.clear()
        self.missed_box.hide()

    # --- actions -----------------------------------------------------------------------------

    def chosen_people(self) -> list[str]:
        chosen = []
        for row in range(self.people.count()):
            item = self.people.item(row)
            if item.checkState() is Qt.CheckState.Checked:
                chosen.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return chosen

    def _picks_changed(self, _item: QListWidgetItem) -> None:
        self.status.clear()  # "Pick at least one person" was about the earlier attempt

    def _person_pressed(self, item: QListWidgetItem) -> None:
        self._pressed_state = item.checkState()

    def _person_clicked(self, item: QListWidgetItem) -> None:
        """A click anywhere on the row picks (or unpicks) the person, not only on the box
        (a click on the box has toggled it already)."""
        if not item.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            return
        if item.checkState() is self._pressed_state:
            checked = item.checkState() is Qt.CheckState.Checked
            item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)
        self._pressed_state = None

    def _ring(self) -> None:
        self.status.clear()
        people = self.chosen_people()
        if not people:
            self.status.show_error("Pick at least one person to ring.")
            return
        self.ring_requested.emit(people, self.video.isChecked())

    def _join(self) -> None:
        self.status.clear()
        text = self.call_id.text().strip()
        if not text:
            self.status.show_error("Type the id of the call to join.")
            return
        self.join_requested.emit(text)

    def _test_devices_setting(self, on: bool) -> None:
        self.session.use_test_devices(on)

    def _lobby_setting(self, show: bool) -> None:
        self.session.preferences.skip_lobby = not show
        self.session.save()

    def _recent_chosen(self, item: QListWidgetItem) -> None:
        """Call back: ring the same people again (a new call); a meeting, or a call with
        nobody else to ring, is joined again."""
        record = item.data(Qt.ItemDataRole.UserRole)
        if not isinstance(record, CallRecord):
            return
        self.status.clear()
        if record.joined_again:
            self.join_requested.emit(record.cid)
        else:
            self.call_back_requested.emit(record.call_back_ids, record.video)

    def _call_back_missed(self) -> None:
        if self._missed:
            latest = self._missed[-1]
            self.dismiss_missed()
            self.call_back_requested.emit(latest.call_back_ids, latest.video)
