"""The window and the way between screens: sign-in → home → (lobby) → call, and the ring
dialogs and notifications on top. Each step calls the session or the SDK; none decides
what a call does."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QStackedWidget,
    QSystemTrayIcon,
    QWidget,
)

from desktop_app.sdk import Call, CallingState

from .invite import Invite, InviteError, parse_invite
from .resources import app_icon
from .session import Session
from .single_instance import COME_FORWARD
from .tasks import Runner
from .theme import apply_theme
from .views.call_view import CallView
from .views.common import ask, names_phrase
from .views.home import HomeView
from .views.lobby import LobbyView
from .views.ring_dialogs import IncomingRingDialog, OutgoingRingDialog
from .views.sign_in import SignInView

log = logging.getLogger(__name__)


def fit_to_screen(window: QWidget, wanted: QSize) -> None:
    """Open at ``wanted``, or smaller where the screen's free area is smaller (a laptop
    at 200 % has about 720×450 logical pixels), centred on it."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(wanted)
        return
    free = screen.availableGeometry()
    size = wanted.boundedTo(QSize(round(free.width() * 0.95), round(free.height() * 0.92)))
    window.setMinimumSize(window.minimumSize().boundedTo(size))
    window.resize(size)
    window.move(free.center().x() - size.width() // 2, free.center().y() - size.height() // 2)


@dataclass(frozen=True)
class Pending:
    """What the lobby's Join button will do."""

    kind: Literal["ring", "echo", "join"]
    people: tuple[str, ...] = ()
    video: bool = True
    call: Call | None = None


class MainWindow(QMainWindow):
    #: The app is quitting (Quit in the tray menu, or the window closed without a tray).
    closed = Signal()

    def __init__(
        self, session: Session, parent: QWidget | None = None, *, tray: bool | None = None
    ) -> None:
        """``tray``: keep running in the system tray when closed (None: where the desktop
        has a tray)."""
        super().__init__(parent)
        self.session = session
        #: The window closed: the app is quitting (late answers open no view or popup).
        self._closing = False
        self.runner = Runner(self)
        self.setWindowTitle("Parley")
        self.setWindowIcon(app_icon())
        fit_to_screen(self, QSize(1100, 720))
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
        self.tray_menu = QMenu(self)
        self.tray_menu.addAction("Open Parley", self.bring_to_front)
        self.do_not_disturb = self.tray_menu.addAction("Do not disturb")
        self.do_not_disturb.setCheckable(True)
        self.do_not_disturb.toggled.connect(self._do_not_disturb)
        self.tray_menu.addSeparator()
        self.tray_menu.addAction("Quit Parley", self.quit)
        if QSystemTrayIcon.isSystemTrayAvailable() if tray is None else tray:
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Parley")
            self.tray.setContextMenu(self.tray_menu)
            self.tray.activated.connect(self._tray_activated)
            self.tray.show()
        #: The window was closed to the tray (the app runs on, reachable by rings).
        self.in_tray = False
        self.tray_notice: QMessageBox | None = None
        self.sign_out_question: QMessageBox | None = None
        self.leave_question: QMessageBox | None = None
        #: The last message shown with ``tell``.
        self.told: QMessageBox | None = None
        self._pending: Pending | None = None
        #: An invite link waiting for a sign-in to its server.
        self._pending_invite: Invite | None = None
        self.incoming: IncomingRingDialog | None = None
        self.outgoing: OutgoingRingDialog | None = None
        self.notice: QMessageBox | None = None

        self.sign_in.submitted.connect(self._sign_in)
        self.home.sign_out_requested.connect(self._sign_out)
        self.home.theme_chosen.connect(self._theme_chosen)
        self.home.about_requested.connect(self._about)
        self.home.ring_requested.connect(
            lambda ids, video: self._prepare(Pending("ring", tuple(ids), video))
        )
        self.home.call_back_requested.connect(
            lambda ids, video: self._prepare(Pending("ring", tuple(ids), video))
        )
        self.home.echo_requested.connect(lambda: self._prepare(Pending("echo")))
        self.home.join_requested.connect(self._join_by_id)
        self.lobby.join_clicked.connect(self._go)
        self.lobby.cancelled.connect(self._cancel_lobby)
        self.call_view.left.connect(self.show_home)
        session.incoming_ring.connect(self._incoming)
        session.notified.connect(self._notified)
        session.missed.connect(self._missed)
        session.people_changed.connect(self.home.show_people)
        session.connection_changed.connect(self._connection_changed)
        session.local_server_changed.connect(self._local_server_changed)

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
        self.sign_in.runner.run(
            self.session.sign_in(mode, url, user_id, name, token),
            on_done=lambda _: self._signed_in(),
            on_error=self._sign_in_failed,
        )

    def _signed_in(self) -> None:
        self.show_home()
        if self._pending_invite is not None:
            self.open_invite(self._pending_invite)  # the link that asked for this sign-in

    def _sign_in_failed(self, text: str) -> None:
        self.sign_in.status.show_error(text)
        self.server_note.setText("")

    def _sign_out(self) -> None:
        """Ask first: signing out means nobody can ring you here until you sign in."""
        prefs = self.session.preferences
        question = ask(
            self,
            "Sign out",
            f"Sign out of Parley as {prefs.name or prefs.user_id}?",
            ("Sign out", self._sign_out_now),
        )
        question.setInformativeText(
            "Nobody can ring you on this computer until you sign in again. Parley remembers "
            f"this computer, so you can sign in again as {prefs.user_id!r} at any time."
        )
        self.sign_out_question = question

    def _sign_out_now(self) -> None:
        self.runner.run(self.session.sign_out(), on_done=lambda _: self._signed_out())

    def _signed_out(self) -> None:
        self.sign_in.token.clear()
        self.sign_in.status.clear()
        self.server_note.setText("")
        self.connection_note.setText("")
        self.home.dismiss_missed()
        self.stack.setCurrentWidget(self.sign_in)

    def show_home(self) -> None:
        self._show_server_note()
        self.stack.setCurrentWidget(self.home)
        self.home.refresh()

    def _show_server_note(self) -> None:
        local = self.session.local
        if self.session.is_local and local is not None:
            text = f"Parley is running its own server on this computer ({local.base_url})."
            if local.moved_from is not None:
                text += f" Port {local.moved_from} was taken, so its address changed this time."
            self.server_note.setText(text)
        else:
            self.server_note.setText(f"Server: {self.session.server_label}")

    def _local_server_changed(self, what: str) -> None:
        if what == "down":
            self.server_note.setText("Parley's server on this computer stopped. Starting it again…")
        else:
            self._show_server_note()
            self.server_note.setText(
                self.server_note.text() + " (It had stopped and was started again.)"
            )

    def _about(self) -> None:
        app = QApplication.instance()
        number = app.applicationVersion() if app is not None else ""
        self.tell(
            f"Parley {number} — open video calls, on servers you run yourself.", title="About"
        )

    def tell(
        self,
        text: str,
        icon: QMessageBox.Icon = QMessageBox.Icon.Information,
        title: str = "Parley",
    ) -> None:
        """A message that does not stop the app while it shows (calls go on)."""
        box = QMessageBox(icon, title, text, parent=self)
        box.setModal(False)
        self.told = box
        box.open()

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
        self.call_view.set_connection(state)

    # --- starting a call ----------------------------------------------------------------------

    def _prepare(self, pending: Pending) -> None:
        self._pending = pending
        if self.session.preferences.skip_lobby:
            self._go()
            return
        if pending.kind == "ring":
            subtitle = "You are about to ring " + self._names(pending.people) + "."
            action = "Ring"
        elif pending.kind == "echo":
            subtitle = "Echo test: you will see and hear yourself as the others would."
            action = "Start echo test"
        else:
            # The id people typed or were sent ("standup"); the type only when not the
            # usual one.
            call = pending.call
            shown = (call.id if call.type == "default" else call.cid) if call else ""
            subtitle = f"Joining {shown}." if call else ""
            action = "Join"
        self.lobby.open_for(pending.call, subtitle, action, camera=pending.video)
        self.stack.setCurrentWidget(self.lobby)

    def _names(self, user_ids: tuple[str, ...] | list[str]) -> str:
        """People's names as the people list knows them (ids for people it does not)."""
        client = self.session.client
        people = client.state.people.value if client is not None else {}
        names = [(people[u].name or u) if u in people else u for u in user_ids]
        return names_phrase(names, most=len(names))  # the lobby names everyone it will ring

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
        """The lobby's main button. The lobby keeps its preview and meter until the ring
        or join has gone through: a failed attempt leaves it as it was, error shown."""
        pending = self._pending
        if pending is None:
            return
        # Errors show where the person is: the lobby, or home when the lobby is skipped.
        runner = self.lobby.runner if self.stack.currentWidget() is self.lobby else self.home.runner
        if pending.kind in ("ring", "echo"):
            call = self.session.new_call()
            if pending.kind == "echo":
                work = self.session.ring_echo(call)
                title = "Echo test"
            else:
                work = self.session.ring(call, list(pending.people), pending.video)
                title = "Call with " + self._names(pending.people)
            runner.run(work, on_done=lambda _: self._ringing(call, title))
        elif pending.call is not None:
            joining = pending.call
            runner.run(joining.join(create=True), on_done=lambda _: self.show_call(joining))
        else:
            return

    def _ringing(self, call: Call, title: str) -> None:
        self.lobby.close_devices()
        self.home.clear_picks()
        own = self.session.preferences.user_id
        names = [m.user.name or m.user_id for m in call.state.members if m.user_id != own]
        if names and title != "Echo test":  # the server knows everyone's name by now
            title = "Call with " + names_phrase(names)
        client = self.session.client

        def online(user_id: str) -> bool | None:
            person = client.state.people.value.get(user_id) if client is not None else None
            return person.online if person is not None else None

        self.outgoing = OutgoingRingDialog(call, self, online)
        self.outgoing.show()
        self._follow_outgoing(call, title)
        self.show_home()

    def _follow_outgoing(self, call: Call, title: str) -> None:
        def changed(state: CallingState) -> None:
            if state is CallingState.JOINED:
                unsubscribe()
                self.show_call(call, title)
            elif state is CallingState.LEFT:
                unsubscribe()
                self.home.refresh_calls()  # the ring's outcome joins the history

        unsubscribe = call.state.calling_state_.subscribe(changed)

    def show_call(self, call: Call, title: str = "") -> None:
        if self._closing:
            return  # a join that finishes while the app quits shows nothing
        self.lobby.close_devices()
        self.call_view.server = self.session.base_url  # for its invite link
        self.call_view.bind(call, title or call.id, title_from_people=title.startswith("Call with"))
        self.stack.setCurrentWidget(self.call_view)

    # --- invite links and later launches ---------------------------------------------------------

    def open_request(self, text: str) -> None:
        """What a launch asked for: an invite link, or to come to the front (a second
        launch with nothing to open)."""
        self.bring_to_front()
        if text == COME_FORWARD:
            return
        try:
            invite = parse_invite(text)
        except InviteError as error:
            self.tell(str(error), QMessageBox.Icon.Warning)
            return
        self.open_invite(invite)

    def open_invite(self, invite: Invite) -> None:
        """The call's lobby, once signed in to the link's server (asked first if not)."""
        if self._closing:
            return
        if self.session.client is not None and self.session.base_url == invite.server:
            self._pending_invite = None
            if self.call_view.call is not None and self.stack.currentWidget() is self.call_view:
                self.tell(f"Leave this call first to join {invite.cid}.")
                return
            self._prepare(Pending("join", call=self.session.call_by_id(invite.cid)))
            return
        self._pending_invite = invite
        self.sign_in.remote.setChecked(True)
        self.sign_in.server_url.setText(invite.server)
        self.sign_in.token.clear()
        self.sign_in.status.show_error("")
        self.sign_in.hint.setText(
            f"To join {invite.cid}, sign in to {invite.server} (the server of the link)."
        )
        self.stack.setCurrentWidget(self.sign_in)

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
        self.incoming.activateWindow()
        if self.tray is not None and not self._looking():
            self.tray.showMessage("Parley", self.incoming.who.text(), app_icon(), 10_000)

    def _accept(self, call: Call, video: bool) -> None:
        ring = call.state.ring
        caller = ring.caller if ring is not None else None
        title = f"Call with {caller.name or caller.id}" if caller is not None else ""

        async def accept() -> None:
            if not video:
                await call.camera.disable()
            await call.join()

        self.bring_to_front()  # answering brings the call to the front, even from the tray
        self.runner.run(accept(), on_done=lambda _: self.show_call(call, title))

    def _looking(self) -> bool:
        """Whether the person has the window in front of them (else the tray tells)."""
        return self.isVisible() and not self.isMinimized() and self.isActiveWindow()

    def bring_to_front(self) -> None:
        self.in_tray = False
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()

    def _missed(self, call: Call) -> None:
        if self._closing:
            return
        self.home.show_missed(call)
        if self.tray is not None and not self._looking():
            self.tray.showMessage("Parley", self.home.missed_text.text(), app_icon(), 10_000)

    def _do_not_disturb(self, on: bool) -> None:
        self.session.set_do_not_disturb(on)

    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.bring_to_front()

    def _notified(self, call: Call) -> None:
        if self._closing:
            return
        creator = call.state.created_by
        who = (creator.name or creator.id) if creator else "Someone"
        text = f"{who} started a call ({call.id})."
        if self.tray is not None and not self._looking():
            self.tray.showMessage("Parley", text, app_icon(), 10_000)
        self.notice = QMessageBox(QMessageBox.Icon.Information, "Call started", text, parent=self)
        join = self.notice.addButton("Join", QMessageBox.ButtonRole.AcceptRole)
        self.notice.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        join.clicked.connect(lambda: self._prepare(Pending("join", call=call)))
        self.notice.setModal(False)
        self.notice.show()

    # --- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window keeps Parley running in the tray while signed in (people
        can still ring you; the first time, a notice says so). Without a tray, or signed
        out, it quits. In a call it asks first, tray or not: a call is never hidden with
        camera and microphone live, nor ended by a click meant for a window."""
        call = self.call_view.call
        if (
            not self._closing
            and call is not None
            and call.state.calling_state in (CallingState.JOINED, CallingState.RECONNECTING)
        ):
            event.ignore()
            self._ask_to_leave()
            return
        if not self._closing and self.tray is not None and self.session.client is not None:
            event.ignore()
            self.hide()
            self.in_tray = True
            if not self.session.preferences.tray_notice_shown:
                self.session.preferences.tray_notice_shown = True
                self.session.save()
                self.tray.showMessage(
                    "Parley is still running",
                    "You can still be rung. Open Parley or quit it from its icon here.",
                    app_icon(),
                    10_000,
                )
            return
        self._quit_now()
        super().closeEvent(event)

    def _ask_to_leave(self) -> None:
        after = "close the window" if self.tray is not None else "quit Parley"
        self.leave_question = ask(
            self,
            "Leave the call?",
            f"You are in a call. Leave it and {after}?",
            ("Leave the call", self._leave_and_close),
            "Stay",
        )

    def _leave_and_close(self) -> None:
        call = self.call_view.call
        if call is None:
            self.close()
            return
        self.runner.run(call.leave(), on_done=lambda _: self._left_then_close())

    def _left_then_close(self) -> None:
        self.call_view.unbind()
        self.show_home()
        self.close()

    def quit(self) -> None:
        """Quit Parley (the tray menu's Quit): leave calls, stop the local server."""
        self._quit_now()
        self.hide()

    def _quit_now(self) -> None:
        """The app is going: the views stop pulling frames now (the session's shutdown
        then leaves the calls and closes the devices; nothing opens meanwhile)."""
        if self._closing:
            return
        self._closing = True
        self.lobby.close_devices()
        if self.call_view.call is not None:
            self.call_view.unbind()
        if self.tray is not None:
            self.tray.hide()
        self.closed.emit()
