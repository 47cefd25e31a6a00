"""The window and the way between screens: sign-in → home → (lobby) → call, and the ring
dialogs and notifications on top. Each step calls the session or the SDK; none decides
what a call does."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QSystemTrayIcon,
    QWidget,
)

from desktop_app.sdk import Call, CallingState

from .resources import app_icon
from .session import Session
from .tasks import Runner
from .theme import apply_theme
from .views.call_view import CallView
from .views.home import HomeView
from .views.lobby import LobbyView
from .views.ring_dialogs import IncomingRingDialog, OutgoingRingDialog
from .views.sign_in import SignInView

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """What the lobby's Join button will do."""

    kind: Literal["ring", "echo", "join"]
    people: tuple[str, ...] = ()
    video: bool = True
    call: Call | None = None


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        #: The window closed: the app is quitting (late answers open no view or popup).
        self._closing = False
        self.runner = Runner(self)
        self.setWindowTitle("Parley")
        self.setWindowIcon(app_icon())
        self.resize(1100, 720)
        self.sign_in = SignInView(session.preferences)
        self.home = HomeView(session)
        self.lobby = LobbyView(session)
        self.call_view = CallView()
        self.stack = QStackedWidget()
        for view in (self.sign_in, self.home, self.lobby, self.call_view):
            self.stack.addWidget(view)
        self.setCentralWidget(self.stack)
        self.server_note = QLabel()
        self.connection_note = QLabel()
        self.statusBar().addWidget(self.server_note, 1)
        self.statusBar().addPermanentWidget(self.connection_note)
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.show()
        self._pending: Pending | None = None
        self.incoming: IncomingRingDialog | None = None
        self.outgoing: OutgoingRingDialog | None = None
        self.notice: QMessageBox | None = None

        self.sign_in.submitted.connect(self._sign_in)
        self.home.sign_out_requested.connect(self._sign_out)
        self.home.theme_chosen.connect(self._theme_chosen)
        self.home.ring_requested.connect(
            lambda ids, video: self._prepare(Pending("ring", tuple(ids), video))
        )
        self.home.echo_requested.connect(lambda: self._prepare(Pending("echo")))
        self.home.join_requested.connect(self._join_by_id)
        self.lobby.join_clicked.connect(self._go)
        self.lobby.cancelled.connect(self._cancel_lobby)
        self.call_view.left.connect(self.show_home)
        session.incoming_ring.connect(self._incoming)
        session.notified.connect(self._notified)
        session.connection_changed.connect(self._connection_changed)

    # --- start and sign-in ------------------------------------------------------------------

    def start(self) -> None:
        prefs = self.session.preferences
        if prefs.signed_in:
            self._sign_in(prefs.server_mode, prefs.server_url, prefs.user_id, prefs.name, "")
        else:
            self.stack.setCurrentWidget(self.sign_in)

    def _sign_in(self, mode: str, url: str, user_id: str, name: str, token: str) -> None:
        self.stack.setCurrentWidget(self.sign_in)
        if mode == "local":
            self.server_note.setText("Starting the server on this computer…")
        if mode == "remote" and not token and self.session.preferences.user_id == user_id:
            token = self.session.preferences.token
        self.sign_in.runner.run(
            self.session.sign_in(mode, url, user_id, name, token),
            on_done=lambda _: self.show_home(),
            on_error=self._sign_in_failed,
        )

    def _sign_in_failed(self, text: str) -> None:
        self.sign_in.status.show_error(text)
        self.server_note.setText("")

    def _sign_out(self) -> None:
        self.runner.run(self.session.sign_out(), on_done=lambda _: self._signed_out())

    def _signed_out(self) -> None:
        self.sign_in.token.clear()
        self.stack.setCurrentWidget(self.sign_in)

    def show_home(self) -> None:
        if self.session.is_local and self.session.local is not None:
            self.server_note.setText(
                f"Parley is running its own server on this computer ({self.session.local.base_url})."
            )
        else:
            self.server_note.setText(f"Server: {self.session.server_label}")
        self.stack.setCurrentWidget(self.home)
        self.home.refresh()

    def _theme_chosen(self, name: str) -> None:
        if name in ("light", "dark", "system"):
            self.session.preferences.theme = name  # type: ignore[assignment]
            self.session.save()
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, name)

    def _connection_changed(self, state: str) -> None:
        texts = {
            "reconnecting": "Reconnecting to the server…",
            "offline": "Offline: the server can't be reached.",
        }
        self.connection_note.setText(texts.get(state, ""))

    # --- starting a call ----------------------------------------------------------------------

    def _prepare(self, pending: Pending) -> None:
        self._pending = pending
        if self.session.preferences.skip_lobby:
            self._go()
            return
        if pending.kind == "ring":
            subtitle = "You are about to ring " + ", ".join(pending.people) + "."
        elif pending.kind == "echo":
            subtitle = "Echo test: you will see and hear yourself as the others would."
        else:
            subtitle = f"Joining {pending.call.cid}." if pending.call else ""
        self.lobby.open_for(pending.call, subtitle)
        self.stack.setCurrentWidget(self.lobby)

    def _join_by_id(self, text: str) -> None:
        try:
            call = self.session.call_by_id(text)
        except Exception as error:
            from .sentences import sentence

            self.home.status.show_error(sentence(error))
            return
        self._prepare(Pending("join", call=call))

    def _cancel_lobby(self) -> None:
        self.lobby.close_devices(release=True)
        self.show_home()

    def _go(self) -> None:
        self.lobby.close_devices()
        pending = self._pending
        if pending is None:
            return
        if pending.kind in ("ring", "echo"):
            call = self.session.new_call()
            if pending.kind == "echo":
                work = self.session.ring_echo(call)
            else:
                work = self.session.ring(call, list(pending.people), pending.video)
            self.lobby.runner.run(work, on_done=lambda _: self._ringing(call))
        elif pending.call is not None:
            joining = pending.call
            self.lobby.runner.run(
                joining.join(create=True), on_done=lambda _: self.show_call(joining)
            )

    def _ringing(self, call: Call) -> None:
        self.outgoing = OutgoingRingDialog(call, self)
        self.outgoing.show()
        self._follow_outgoing(call)
        self.show_home()

    def _follow_outgoing(self, call: Call) -> None:
        def changed(state: CallingState) -> None:
            if state is CallingState.JOINED:
                unsubscribe()
                self.show_call(call)
            elif state in (CallingState.LEFT, CallingState.IDLE):
                unsubscribe()

        unsubscribe = call.state.calling_state_.subscribe(changed)

    def show_call(self, call: Call) -> None:
        if self._closing:
            return  # a join that finishes while the app quits shows nothing
        self.call_view.bind(call)
        self.stack.setCurrentWidget(self.call_view)

    # --- rings and notifications ----------------------------------------------------------------

    def _incoming(self, call: Call) -> None:
        if self._closing:
            return
        if self.incoming is not None and self.incoming.isVisible():
            return  # one popup at a time; the SDK rejects a second ring when told to
        self.incoming = IncomingRingDialog(call, self)
        self.incoming.accepted_with.connect(lambda video: self._accept(call, video))
        self.incoming.show()
        self.incoming.raise_()
        if self.tray is not None and not self.isActiveWindow():
            self.tray.showMessage("Parley", self.incoming.who.text(), app_icon(), 10_000)

    def _accept(self, call: Call, video: bool) -> None:
        async def accept() -> None:
            if not video:
                await call.camera.disable()
            await call.join()

        self.runner.run(accept(), on_done=lambda _: self.show_call(call))

    def _notified(self, call: Call) -> None:
        if self._closing:
            return
        creator = call.state.created_by
        who = (creator.name or creator.id) if creator else "Someone"
        text = f"{who} started a call ({call.id})."
        if self.tray is not None and not self.isActiveWindow():
            self.tray.showMessage("Parley", text, app_icon(), 10_000)
        self.notice = QMessageBox(QMessageBox.Icon.Information, "Call started", text, parent=self)
        join = self.notice.addButton("Join", QMessageBox.ButtonRole.AcceptRole)
        self.notice.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        join.clicked.connect(lambda: self._prepare(Pending("join", call=call)))
        self.notice.setModal(False)
        self.notice.show()

    # --- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """The app is going: the views stop pulling frames now (the session's shutdown
        then leaves the calls and closes the devices; nothing opens meanwhile)."""
        self._closing = True
        self.lobby.close_devices()
        if self.call_view.call is not None:
            self.call_view.unbind()
        self.closed.emit()
        super().closeEvent(event)
