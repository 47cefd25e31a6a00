"""A call's lifecycle as a sans-I/O state machine: typed inputs in, state and commands out.

The state is one :class:`CallingState` and, while a ring concerns this device, one
:class:`RingContext` (which way it rings, who rang, audio or video, each callee's answer).
Nothing else decides what a call is doing; :class:`~desktop_app.sdk.call.Call` feeds the
machine and carries out the commands it returns (requests, timers, media), under its
per-call lock.

Ringing rules on this side (the coordinator enforces the same deadlines on its own):

* **Outgoing** (we rang): ``ringing`` until someone accepts — then we join, once, on the
  first accept — or the ring is over with nobody accepting (everyone rejected or missed
  it: we leave, cancelling) or our own auto-cancel deadline passes (we leave with
  ``timeout``). Ringing more people from a joined call keeps us ``joined``. Each callee's
  answer is recorded in the ring context, so a caller can show who declined and why.
* **Incoming** (someone else rang us): ``ringing`` until we answer here, the same user
  answers on another device, the caller cancels, the ring is over, the call ends, or our
  incoming deadline passes (reject with ``timeout``, never ``decline``). With
  ``reject_when_busy``, a ring while another call is joined is rejected ``busy`` at once;
  so is every ring while the user asked not to be disturbed.
  A ring from ourselves (another device of ours) never rings us. A ring that ends with
  no answer of ours on any device (accept or decline) counts as a missed call.
* Joining while an incoming ring waits accepts it in the same step.

Media: a joined call whose media fails *rejoins* (a new participant session) in state
``reconnecting``, after the delays of the media reconnect policy; when they run out the
state is ``reconnecting-failed`` and media stops. A resync that finds our participant
session gone from the server rejoins the same way; one that finds it still there keeps
the media as it is.
"""

from __future__ import annotations

from dataclasses import replace

from desktop_app.protocol.calls import CallResponse
from desktop_app.protocol.events import (
    CallAcceptedEvent,
    CallDeletedEvent,
    CallEndedEvent,
    CallEvent,
    CallMissedEvent,
    CallParticipantLeftEvent,
    CallRejectedEvent,
    CallRingEvent,
)

from .call_commands import (
    ArmTimer,
    CloseMedia,
    Command,
    DisarmTimer,
    PublishState,
    SendAccept,
    SendJoin,
    SendLeave,
    SendReject,
    SendRejoin,
    StartMedia,
    StopMedia,
    SyncPeers,
)
from .call_inputs import (
    AcceptRequested,
    CallFinished,
    CallSeen,
    EventReceived,
    Input,
    JoinFailed,
    JoinRequested,
    JoinSucceeded,
    LeaveRequested,
    MediaConnected,
    MediaFailed,
    RejectRequested,
    RejoinFailed,
    RejoinSucceeded,
    Resynced,
    ResyncFailed,
    RingSent,
    Timer,
    TimerFired,
)
from .call_state import CalleeAnswer, CallingState, RingContext, RingDirection
from .connection import ReconnectPolicy
from .errors import CallStateError

__all__ = [
    "AcceptRequested",
    "ArmTimer",
    "CallFinished",
    "CallMachine",
    "CallSeen",
    "CloseMedia",
    "Command",
    "DisarmTimer",
    "EventReceived",
    "Input",
    "JoinFailed",
    "JoinRequested",
    "JoinSucceeded",
    "LeaveRequested",
    "MediaConnected",
    "MediaFailed",
    "PublishState",
    "RejectRequested",
    "RejoinFailed",
    "RejoinSucceeded",
    "ResyncFailed",
    "Resynced",
    "RingSent",
    "SendAccept",
    "SendJoin",
    "SendLeave",
    "SendReject",
    "SendRejoin",
    "StartMedia",
    "StopMedia",
    "SyncPeers",
    "Timer",
    "TimerFired",
    "ring_answers",
]

_IN_CALL = (CallingState.JOINED, CallingState.RECONNECTING)
_DISARM_ALL: list[Command] = [DisarmTimer(Timer.RING), DisarmTimer(Timer.REJOIN)]


def ring_answers(call: CallResponse, callees: tuple[str, ...]) -> dict[str, CalleeAnswer]:
    """Each callee's answer, as the call's session records it."""
    session = call.session
    answers: dict[str, CalleeAnswer] = {}
    for user in callees:
        if session is None:
            answers[user] = CalleeAnswer("ringing")
        elif user in session.accepted_by:
            answers[user] = CalleeAnswer("accepted")
        elif user in session.rejected_by:
            answers[user] = CalleeAnswer("rejected", session.rejected_by[user].reason)
        elif user in session.missed_by:
            answers[user] = CalleeAnswer("missed")
        else:
            answers[user] = CalleeAnswer("ringing")
    return answers


class CallMachine:
    def __init__(
        self,
        own_user_id: str,
        *,
        reject_when_busy: bool = False,
        media_policy: ReconnectPolicy | None = None,
    ) -> None:
        self.own_user_id = own_user_id
        self.reject_when_busy = reject_when_busy
        self.media_policy = media_policy or ReconnectPolicy(
            delays=(0.0, 0.5, 1.5, 3.0), max_attempts=4
        )
        self.calling_state = CallingState.UNKNOWN
        self.ring: RingContext | None = None
        #: Our participant session while joined (or rejoining: the old one, until replaced).
        self.session_id: str | None = None
        #: Rejoins since our media last came up.
        self.rejoin_attempts = 0
        self._callees: tuple[str, ...] = ()
        self._call: CallResponse | None = None
        #: Where a failed join goes back to.
        self._before_join = CallingState.IDLE
        #: Incoming rings that ended on this device with no answer from us anywhere (the
        #: caller cancelled, the ring timed out, the call ended): each is a missed call.
        self.missed_rings = 0

    def __repr__(self) -> str:
        return f"<CallMachine {self.calling_state.value} ring={self.ring}>"

    @property
    def ringing_me(self) -> bool:
        """An incoming ring waits for an answer on this device."""
        return (
            self.calling_state is CallingState.RINGING
            and self.ring is not None
            and self.ring.direction is RingDirection.INCOMING
        )

    @property
    def ringing_out(self) -> bool:
        """We rang and wait for the first accept (not yet in the call)."""
        return (
            self.calling_state is CallingState.RINGING
            and self.ring is not None
            and self.ring.direction is RingDirection.OUTGOING
        )

    # --- the one entry point -----------------------------------------------------------

    def handle(self, given: Input) -> list[Command]:
        """Apply one input; answers what must be done because of it, in order."""
        match given:
            case CallSeen(call):
                return self._seen(call)
            case RingSent():
                return self._ring_sent(given)
            case EventReceived(event, busy, fresh, quiet):
                return self._event(event, busy or quiet, fresh, refuse=quiet)
            case JoinRequested():
                return self._join_requested()
            case JoinSucceeded(session_id) | RejoinSucceeded(session_id):
                return self._joined(session_id, rejoin=isinstance(given, RejoinSucceeded))
            case JoinFailed():
                self.calling_state = self._before_join
                if self.ring is not None and self.ring.direction is RingDirection.INCOMING:
                    self.ring = None  # accepted (or given up) with the join
                return []
            case LeaveRequested(reject, reason):
                return self._leave(reject, reason)
            case AcceptRequested():
                return [SendAccept()]
            case RejectRequested(reason):
                return self._reject(reason)
            case CallFinished():
                return self._finished()
            case TimerFired(timer):
                return self._timer(timer)
            case MediaFailed():
                return self._media_failed()
            case MediaConnected():
                self.rejoin_attempts = 0
                return []
            case RejoinFailed(final):
                return self._rejoin_failed(final)
            case Resynced(call):
                return self._resynced(call)
            case ResyncFailed():
                # The server no longer has the call (or lets us in): try to rejoin, which
                # ends in ``reconnecting-failed`` with the devices released if it cannot.
                return self._media_failed()
        raise AssertionError(f"unhandled input {given!r}")  # pragma: no cover

    # --- what answers and events say -------------------------------------------------

    def _seen(self, call: CallResponse) -> list[Command]:
        """Take the newest call: the ring's answers follow it, and a ring that the server
        ended while we were not looking (no event) stops ringing here too."""
        self._call = call
        if self.calling_state is CallingState.UNKNOWN:
            self.calling_state = CallingState.IDLE
        ring = self.ring
        if ring is None:
            return []
        session = call.session
        same_session = session is not None and session.id == ring.session_id
        active = same_session and session is not None and session.ringing
        answers = ring_answers(call, self._callees) if same_session else ring.answers
        self.ring = replace(ring, active=active, answers=answers)
        if ring.active and not active and self.calling_state is CallingState.RINGING:
            if ring.direction is RingDirection.INCOMING:
                return self._stop_ringing(missed=not self._answered_by_me(call))
            if session is None or not session.accepted_by:
                return self._leave(reject=True, reason="cancel")  # nobody accepted
        return []

    def _ring_sent(self, given: RingSent) -> list[Command]:
        self._call = given.call
        if self.calling_state is CallingState.UNKNOWN:
            self.calling_state = CallingState.IDLE
        session = given.call.session
        if session is None or not session.ringing:
            return []  # nobody to ring (or the ring ended at once)
        self._callees = tuple(u for u in given.callees if u != self.own_user_id)
        self.ring = RingContext(
            RingDirection.OUTGOING,
            session.id,
            given.me,
            bool(given.call.video),
            ring_answers(given.call, self._callees),
        )
        if self.calling_state in (*_IN_CALL, CallingState.JOINING):
            return []  # ringing more people from the call: the server keeps the time
        self.calling_state = CallingState.RINGING
        seconds = given.call.settings.ring.auto_cancel_timeout_ms / 1000
        return [ArmTimer(Timer.RING, seconds)]

    def _event(
        self, event: CallEvent, busy: bool, fresh: bool, refuse: bool = False
    ) -> list[Command]:
        commands = self._seen(event.call) if fresh else []
        match event:
            case CallRingEvent():
                commands += self._rung(event, busy, refuse)
            case CallAcceptedEvent():
                commands += self._accepted(event.user.id)
            case CallRejectedEvent() | CallMissedEvent():
                commands += self._answered_elsewhere(event.user.id)
            case CallEndedEvent() | CallDeletedEvent():
                commands += self._finished()
            case CallParticipantLeftEvent():
                if (
                    event.participant.session_id == self.session_id
                    and self.calling_state is CallingState.JOINED
                ):
                    commands += self._media_failed()  # the server let our session go
        return commands

    def _rung(self, event: CallRingEvent, busy: bool, refuse: bool) -> list[Command]:
        if event.user.id == self.own_user_id:
            return []  # our own ring, from another device of ours
        if self.calling_state in (*_IN_CALL, CallingState.JOINING):
            return []
        if (self.reject_when_busy and busy) or refuse:
            self.missed_rings += 1  # refused for us (busy, do not disturb): still missed
            return [SendReject("busy")]
        self._callees = tuple(m.user_id for m in event.members if m.user_id != event.user.id)
        self.ring = RingContext(
            RingDirection.INCOMING,
            event.session_id,
            event.user,
            event.video,
            ring_answers(event.call, self._callees),
        )
        self.calling_state = CallingState.RINGING
        seconds = event.call.settings.ring.incoming_call_timeout_ms / 1000
        return [ArmTimer(Timer.RING, seconds)]

    def _accepted(self, user_id: str) -> list[Command]:
        if self.ringing_out and user_id != self.own_user_id:
            # The first accept: join, once (the state leaves ``ringing`` right away).
            self._before_join = CallingState.IDLE
            self.calling_state = CallingState.JOINING
            return [DisarmTimer(Timer.RING), SendJoin()]
        if self.ringing_me and user_id == self.own_user_id:
            return self._stop_ringing(missed=False)  # answered on another device of ours
        return []

    def _answered_elsewhere(self, user_id: str) -> list[Command]:
        if self.ringing_me and user_id == self.own_user_id:
            # Rejected (or missed) on another device of ours.
            return self._stop_ringing(missed=not self._answered_by_me(self._call))
        return []

    def _answered_by_me(self, call: CallResponse | None) -> bool:
        """Whether we answered the ring ourselves (on any device): accepted or declined.
        A timeout, a ``busy`` refusal or a ring that just ended is a missed call."""
        session = call.session if call is not None else None
        if session is None:
            return False
        rejection = session.rejected_by.get(self.own_user_id)
        return self.own_user_id in session.accepted_by or (
            rejection is not None and rejection.reason == "decline"
        )

    def _stop_ringing(self, missed: bool) -> list[Command]:
        self.calling_state = CallingState.IDLE
        self.ring = None
        if missed:
            self.missed_rings += 1
        return [DisarmTimer(Timer.RING)]

    # --- the user's intents -----------------------------------------------------------

    def _join_requested(self) -> list[Command]:
        if self.calling_state in _IN_CALL:
            raise CallStateError("You are already in this call.")
        if self.calling_state is CallingState.JOINING:
            raise CallStateError("This call is being joined already.")
        accepting = self.ringing_me
        if accepting or self.calling_state is CallingState.UNKNOWN:
            self._before_join = CallingState.IDLE  # an accepted ring does not come back
        else:
            self._before_join = self.calling_state
        self.calling_state = CallingState.JOINING
        return [DisarmTimer(Timer.RING), *([SendAccept()] if accepting else []), SendJoin()]

    def _joined(self, session_id: str, *, rejoin: bool) -> list[Command]:
        if rejoin and self.calling_state is not CallingState.RECONNECTING:
            return [SendLeave(session_id)]  # left (or ended) while the rejoin travelled
        if not rejoin and self.calling_state is not CallingState.JOINING:
            # The call ended (or was deleted) while the join travelled.
            return [SendLeave(session_id), StopMedia()]
        self.session_id = session_id
        self.calling_state = CallingState.JOINED
        if self.ring is not None and self.ring.direction is RingDirection.INCOMING:
            self.ring = None  # answered
        return [StartMedia()]

    def _leave(self, reject: bool, reason: str) -> list[Command]:
        commands: list[Command] = list(_DISARM_ALL)
        ring = self.ring
        if reject and ring is not None and ring.active:
            if ring.direction is RingDirection.OUTGOING and reason not in ("cancel", "timeout"):
                reason = "cancel"
            if ring.direction is RingDirection.OUTGOING or self.calling_state is (
                CallingState.RINGING
            ):
                commands.append(SendReject(reason))
        if self.calling_state in _IN_CALL and self.session_id is not None:
            commands.append(SendLeave(self.session_id))
        commands.append(StopMedia())
        self.calling_state = CallingState.LEFT
        self.session_id = None
        if ring is not None:
            self.ring = replace(ring, active=False)
        return commands

    def _reject(self, reason: str) -> list[Command]:
        commands: list[Command] = [DisarmTimer(Timer.RING), SendReject(reason)]
        if self.calling_state is CallingState.RINGING:
            self.calling_state = CallingState.IDLE
        self.ring = None
        return commands

    def _finished(self) -> list[Command]:
        if self.ringing_me:
            self.missed_rings += 1  # the call ended while it rang here
        if self.calling_state is CallingState.LEFT and self.session_id is None:
            return [*_DISARM_ALL, StopMedia()]
        self.calling_state = CallingState.LEFT
        self.session_id = None
        if self.ring is not None:
            self.ring = replace(self.ring, active=False)
        return [*_DISARM_ALL, StopMedia()]

    def _timer(self, timer: Timer) -> list[Command]:
        if timer is Timer.REJOIN:
            if self.calling_state is CallingState.RECONNECTING:
                return [SendRejoin(self.session_id)]
            return []
        if self.ringing_me:
            self.calling_state = CallingState.IDLE
            self.ring = None
            self.missed_rings += 1
            return [SendReject("timeout")]
        if self.ringing_out:
            return self._leave(reject=True, reason="timeout")
        return []

    # --- media ------------------------------------------------------------------------

    def _media_failed(self) -> list[Command]:
        if self.calling_state is not CallingState.JOINED:
            return []
        self.calling_state = CallingState.RECONNECTING
        return [CloseMedia(), *self._next_rejoin()]

    def _next_rejoin(self) -> list[Command]:
        delay = self.media_policy.delay(self.rejoin_attempts)
        if delay is None:
            self.calling_state = CallingState.RECONNECTING_FAILED
            self.session_id = None
            return [StopMedia()]
        self.rejoin_attempts += 1
        return [ArmTimer(Timer.REJOIN, delay)]

    def _rejoin_failed(self, final: bool) -> list[Command]:
        if self.calling_state is not CallingState.RECONNECTING:
            return []
        if final:
            self.calling_state = CallingState.RECONNECTING_FAILED
            self.session_id = None
            return [StopMedia()]
        return self._next_rejoin()

    def _resynced(self, call: CallResponse) -> list[Command]:
        commands = self._seen(call)
        if call.ended_at is not None and self.calling_state in _IN_CALL:
            return commands + self._finished()
        if self.calling_state is not CallingState.JOINED:
            return commands
        session = call.session
        ours = session is not None and any(
            p.session_id == self.session_id for p in session.participants
        )
        if not ours:
            return commands + self._media_failed()  # the server forgot us: rejoin
        return [*commands, PublishState(), SyncPeers()]
