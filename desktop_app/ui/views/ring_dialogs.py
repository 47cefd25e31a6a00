"""The ring dialogs.

* **Incoming**: who calls, audio or video; Accept (with video, or audio only) and Reject; a
  looping ringtone. It closes itself as soon as the call stops ringing on this device —
  the caller cancelled, it timed out, or the user answered or rejected on another device
  (the SDK's calling state says so).
* **Outgoing**: the callees and their state (ringing, answered, declined, busy, no answer,
  not reachable) and Cancel; it closes when the call is joined (first accept), and shows
  how the ring ended for a moment when nobody answered. Closing it cancels the ring.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QHideEvent, QIcon
from PySide6.QtWidgets import QDialog, QHBoxLayout, QListWidget, QVBoxLayout, QWidget

from desktop_app.sdk import Call, CallingState
from desktop_app.sdk.call_state import CalleeAnswer

from ..resources import icon, resource
from ..tasks import Runner
from ..theme import colors, themed_icon
from ..widgets.video_tile import VideoTile
from .common import StatusRow, button, label


def ringtone(parent: QObject) -> object | None:
    """A looping ``QSoundEffect``, or None where Qt Multimedia cannot load (no sound).

    Owned by ``parent`` (the popup), so it goes with the popup, in Qt's own order: left to
    Python's garbage collector it was destroyed whenever a collection ran, with its audio
    backend's thread possibly still busy."""
    try:
        from PySide6.QtMultimedia import QSoundEffect
    except ImportError:
        return None
    effect = QSoundEffect(parent)
    effect.setSource(QUrl.fromLocalFile(str(resource("ringtone.wav"))))
    effect.setLoopCount(QSoundEffect.Loop.Infinite.value)
    effect.setVolume(0.6)
    return effect


class IncomingRingDialog(QDialog):
    accepted_with = Signal(bool)  # video?
    rejected_ring = Signal()

    def __init__(self, call: Call, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.runner = Runner(self)
        self.setWindowTitle("Incoming call")
        self.setWindowFlag(Qt.WindowType.WindowMinMaxButtonsHint, False)
        self.setModal(False)
        ring = call.state.ring  # who rang and how: the ring's own, not the call's creator
        caller = ring.caller if ring is not None else None
        name = (caller.name or caller.id) if caller else "Someone"
        video = ring.video if ring is not None else bool(call.state.call and call.state.call.video)
        self.avatar = VideoTile()
        self.avatar.set_name(name, caller.id if caller else None)
        self.avatar.setFixedSize(QSize(220, 124))
        self.who = label(f"{name} is calling", "title")
        self.kind = label("Video call" if video else "Audio call", "muted")
        self.accept_video = button("Accept", "primary", lambda: self._accept(True))
        self.accept_video.setIcon(icon("camera", "#ffffff"))
        self.accept_audio = button("Audio only", on_click=lambda: self._accept(False))
        themed_icon(self.accept_audio, lambda: icon("mic", colors().text if video else "#ffffff"))
        self.reject_button = button("Reject", "danger", self._reject)
        self.reject_button.setIcon(icon("hang-up", "#ffffff"))
        self.accept_video.setVisible(video)
        if not video:
            self.accept_audio.setText("Accept")
            self.accept_audio.setProperty("role", "primary")
        buttons = QHBoxLayout()
        buttons.addWidget(self.reject_button)
        buttons.addStretch(1)
        buttons.addWidget(self.accept_audio)
        buttons.addWidget(self.accept_video)
        layout = QVBoxLayout(self)
        layout.addWidget(self.avatar, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.who, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.kind, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(StatusRow(self.runner))
        layout.addLayout(buttons)
        self.sound = ringtone(self)
        if self.sound is not None:
            self.sound.play()  # type: ignore[attr-defined]
        self._answered = False
        self._unsubscribe: Callable[[], None] = call.state.calling_state_.subscribe(
            self._state_changed
        )

    def _state_changed(self, state: CallingState) -> None:
        if state is not CallingState.RINGING and state is not CallingState.JOINING:
            self.close()  # cancelled, timed out, or answered elsewhere

    def _accept(self, video: bool) -> None:
        self._answered = True
        self.accepted_with.emit(video)
        self.close()

    def _reject(self) -> None:
        self._decline()
        self.close()

    def _decline(self) -> None:
        self._answered = True
        self.runner.run(self.call.leave(reject=True, reason="decline"))
        self.rejected_ring.emit()

    def reject(self) -> None:
        """Esc, and the window's close button (QDialog's close handling comes here)."""
        if not self._answered and self.call.is_ringing_me:
            # Closing the popup declines: a hidden popup would leave the caller ringing,
            # and the next ring of this call unannounced.
            self._decline()
        super().reject()

    def hideEvent(self, event: QHideEvent) -> None:
        """However the popup goes (a button, Esc, closed, the ring over): the ringtone
        stops and the popup stops following the call. (Not when the window system hides
        it, as with a minimized main window: the ring goes on.)"""
        if not event.spontaneous():
            self._unsubscribe()
            self._unsubscribe = lambda: None
            if self.sound is not None:
                self.sound.stop()  # type: ignore[attr-defined]
        super().hideEvent(event)


#: How long "Calling…" shows how a ring ended (nobody answered) before it closes.
OUTCOME_SECONDS = 4.0


def answer_words(answer: CalleeAnswer, online: bool | None, ring_over: bool = False) -> str:
    """One callee's state as the caller reads it (``ring_over``: one still "ringing" was
    never answered — the caller's deadline ended the ring first)."""
    if answer.status == "accepted":
        return "answered"
    if answer.status == "missed":
        return "not reachable" if online is False else "no answer"
    if answer.status == "rejected":
        return {"busy": "busy", "timeout": "no answer"}.get(answer.reason or "", "declined")
    if online is False:
        return "not reachable"
    return "no answer" if ring_over else "ringing…"


class OutgoingRingDialog(QDialog):
    """The caller's "Calling…": each callee's state as it changes; Cancel (or closing it,
    or Esc) cancels the ring. When the ring ends with nobody answering it stays for a
    moment to say why ("declined", "busy", "no answer", "not reachable"), then closes."""

    def __init__(
        self,
        call: Call,
        parent: QWidget | None = None,
        online: Callable[[str], bool | None] = lambda _user_id: None,
    ) -> None:
        super().__init__(parent)
        self.call = call
        self.online = online
        self.runner = Runner(self)
        self.setWindowTitle("Calling…")
        self.setWindowFlag(Qt.WindowType.WindowMinMaxButtonsHint, False)
        self.setModal(False)
        self.title = label("Calling…", "title")
        self.callees = QListWidget()
        self.callees.setMinimumSize(QSize(300, 120))
        self.cancel = button("Cancel", "danger", self._cancel)
        self.cancel.setIcon(icon("hang-up", "#ffffff"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.callees)
        layout.addWidget(StatusRow(self.runner))
        layout.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignRight)
        #: The ring is over and this shows how it ended (closing no longer cancels).
        self.finished_ringing = False
        self._closer = QTimer(self)
        self._closer.setSingleShot(True)
        self._closer.timeout.connect(self.close)
        self._unsubscribe = [
            call.state.ring_.subscribe(lambda _: self.refresh()),
            call.state.members_.subscribe(lambda _: self.refresh()),
            call.state.calling_state_.subscribe(self._state_changed),
        ]
        self.refresh()

    def callee_states(self) -> list[tuple[str, str]]:
        """Each callee and their answer so far (from the call's ring context)."""
        ring = self.call.state.ring
        if ring is None:
            return []
        names = {m.user_id: m.user.name or m.user_id for m in self.call.state.members}
        over = self.finished_ringing or not ring.active
        return [
            (names.get(user_id, user_id), answer_words(answer, self.online(user_id), over))
            for user_id, answer in ring.answers.items()
        ]

    def refresh(self) -> None:
        self.callees.clear()
        states = self.callee_states()
        for name, what in states:
            self.callees.addItem(f"{name} — {what}")
        waiting = [what for _name, what in states if what in ("ringing…", "not reachable")]
        if not self.finished_ringing and waiting and all(w == "not reachable" for w in waiting):
            self.title.setText("Nobody you are ringing is online")

    def _state_changed(self, state: CallingState) -> None:
        if state is CallingState.JOINED:
            self.close()
        elif state in (CallingState.LEFT, CallingState.IDLE) and not self.finished_ringing:
            self._show_ending()

    def _show_ending(self) -> None:
        """Nobody answered: say how it ended for each, then go."""
        self.finished_ringing = True
        states = [what for _name, what in self.callee_states()]
        if states and all(what == "declined" for what in states):
            self.title.setText("Declined")
        elif states and all(what == "busy" for what in states):
            self.title.setText("Busy")
        else:
            self.title.setText("No answer")
        self.setWindowTitle(self.title.text())
        self.refresh()
        self.cancel.setText("Close")
        self.cancel.setIcon(QIcon())
        self.cancel.setProperty("role", "")
        self.cancel.style().polish(self.cancel)
        self._closer.start(round(OUTCOME_SECONDS * 1000))

    def _cancel(self) -> None:
        self.close()

    def done(self, result: int) -> None:
        """However it closes while the ring is on (Cancel, Esc, the window's close
        button — QDialog routes them all here), the ring is cancelled: nobody may be left
        ringing for a caller who gave up."""
        state = self.call.state.calling_state
        if state in (CallingState.RINGING, CallingState.JOINING) and not self.finished_ringing:
            # Ringing: cancel. Joining (someone answered a moment ago): hang up, too —
            # the person asked to stop, the call must not open behind their back.
            self.finished_ringing = True
            self.runner.run(self.call.leave(reject=True, reason="cancel"))
        self._closer.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        super().done(result)
