"""The call view's line that says who left, and that you are the only one here.

Someone's session going is said only once they have been gone
:data:`LEFT_GRACE_SECONDS` (a client that rejoins leaves one session and joins with the
next: not a departure); two who leave together are one sentence; "You are the only one
here." comes after the departure it follows, not before. The line keeps its place when
empty, so the tiles do not jump when it shows.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel

from desktop_app.sdk import Call, CallingState, Participant

from .common import names_phrase

#: How long "Bob left the call." stays.
NOTICE_SECONDS = 5.0
#: How long someone must stay gone before "Bob left the call." is said.
LEFT_GRACE_SECONDS = 3.0
ALONE = "You are the only one here."


class ArrivalNotice(QLabel):
    def __init__(self) -> None:
        super().__init__("")
        self.setProperty("role", "muted")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        keep_place = self.sizePolicy()
        keep_place.setRetainSizeWhenHidden(True)
        self.setSizePolicy(keep_place)
        #: The others in the call now: user id → name.
        self.others: dict[str, str] = {}
        self._call: Call | None = None
        #: Who left and is not said yet (their grace runs), and whom the line names now
        #: (user id → name: someone who left twice within the grace is said once).
        self._leaving: set[str] = set()
        self._left_names: dict[str, str] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._clear)

    def follow(self, call: Call | None) -> None:
        """Speak of ``call`` from now on (None: of no call)."""
        self._call = call
        self.others = {}
        self._leaving.clear()
        self._clear()

    def participants_changed(self, participants: list[Participant]) -> None:
        call = self._call
        if call is None:
            return
        own = call.state.own_user_id
        # Not ourselves: before the join answer our own session looks like anyone's.
        others = {
            p.user.id: p.user.name or p.user.id
            for p in participants
            if not p.is_local and p.user.id != own
        }
        joined = call.state.calling_state is CallingState.JOINED
        for user_id, name in self.others.items():
            if user_id not in others and joined:
                self._leaving.add(user_id)
                QTimer.singleShot(
                    round(LEFT_GRACE_SECONDS * 1000),
                    self,
                    partial(self._say_left, call, user_id, name),
                )
        self.others = others
        if not self._timer.isActive():
            self._clear()

    def _say_left(self, call: Call, user_id: str, name: str) -> None:
        """Said only if they did not come straight back, in the call they left."""
        if call is not self._call:
            return
        self._leaving.discard(user_id)
        if call.state.calling_state is CallingState.JOINED and user_id not in self.others:
            if not self._timer.isActive():
                self._left_names = {}
            self._left_names[user_id] = name
            self.setText(f"{names_phrase(list(self._left_names.values()))} left the call.")
            self.show()
            self._timer.start(round(NOTICE_SECONDS * 1000))
        elif not self._timer.isActive():
            self._clear()  # came back: "the only one here" if that is so

    def _clear(self) -> None:
        """Nothing to say but, maybe, that you are alone."""
        self._timer.stop()
        self._left_names = {}
        call = self._call
        if (
            call is not None
            and not self.others
            and not self._leaving
            and call.state.calling_state is CallingState.JOINED
        ):
            self.setText(ALONE)
            self.show()
            return
        self.setText("")
        self.hide()
