"""What a call's state machine is told: answers, events, the user's intents, timers and
media reports (see :mod:`desktop_app.sdk.call_machine`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from desktop_app.protocol.calls import CallResponse
from desktop_app.protocol.events import CallEvent
from desktop_app.protocol.users import UserResponse


class Timer(StrEnum):
    RING = "ring"  # our ring deadline (incoming or auto-cancel)
    REJOIN = "rejoin"  # the next rejoin attempt


@dataclass(frozen=True)
class CallSeen:
    """An answer from the coordinator carried the call (any verb's REST answer)."""

    call: CallResponse


@dataclass(frozen=True)
class RingSent:
    """We rang: the answer of ``get_or_create(ring=True)``, ``get(ring=True)`` or ``ring``."""

    call: CallResponse
    callees: tuple[str, ...]
    me: UserResponse | None


@dataclass(frozen=True)
class EventReceived:
    event: CallEvent
    #: Whether another call of this client is joined (for ``reject_when_busy``).
    busy: bool = False
    #: Whether the event's ``call`` is the newest seen (answers and events race: an older
    #: one says nothing about the ring).
    fresh: bool = True
    #: Whether the user asked not to be disturbed (rings are refused ``busy``).
    do_not_disturb: bool = False


@dataclass(frozen=True)
class JoinRequested:
    pass


@dataclass(frozen=True)
class JoinSucceeded:
    session_id: str


@dataclass(frozen=True)
class JoinFailed:
    pass


@dataclass(frozen=True)
class LeaveRequested:
    #: Also reject (callee) or cancel (caller) the ring, if it is on.
    reject: bool = False
    reason: str = "decline"


@dataclass(frozen=True)
class AcceptRequested:
    pass


@dataclass(frozen=True)
class RejectRequested:
    reason: str = "decline"


@dataclass(frozen=True)
class CallFinished:
    """The call is over for us: we ended it, or it was deleted."""


@dataclass(frozen=True)
class TimerFired:
    timer: Timer


@dataclass(frozen=True)
class MediaFailed:
    """A peer connection failed (or was closed by anything but us)."""


@dataclass(frozen=True)
class MediaConnected:
    """A peer connection came up: the rejoin budget starts over."""


@dataclass(frozen=True)
class RejoinSucceeded:
    session_id: str


@dataclass(frozen=True)
class RejoinFailed:
    #: The server said no for good (call ended, not allowed, gone): stop trying.
    final: bool = False


@dataclass(frozen=True)
class Resynced:
    """The event connection came back and the call was loaded again."""

    call: CallResponse


@dataclass(frozen=True)
class ResyncFailed:
    """The event connection came back, but the call could not be loaded (the server lost
    it — a coordinator that came back with an empty database — or we lost access)."""


Input = (
    CallSeen
    | RingSent
    | EventReceived
    | JoinRequested
    | JoinSucceeded
    | JoinFailed
    | LeaveRequested
    | AcceptRequested
    | RejectRequested
    | CallFinished
    | TimerFired
    | MediaFailed
    | MediaConnected
    | RejoinSucceeded
    | RejoinFailed
    | Resynced
    | ResyncFailed
)
