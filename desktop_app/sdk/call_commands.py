"""What a call's state machine asks for: requests, timers and media steps, carried out by
:class:`~desktop_app.sdk.call.Call` under its lock (see :mod:`desktop_app.sdk.call_machine`)."""

from __future__ import annotations

from dataclasses import dataclass

from .call_inputs import Timer


@dataclass(frozen=True)
class ArmTimer:
    timer: Timer
    seconds: float


@dataclass(frozen=True)
class DisarmTimer:
    timer: Timer


@dataclass(frozen=True)
class SendAccept:
    pass


@dataclass(frozen=True)
class SendReject:
    reason: str


@dataclass(frozen=True)
class SendJoin:
    """Join as a new participant session (the caller's join on the first accept)."""


@dataclass(frozen=True)
class SendLeave:
    """Leave this participant session of ours."""

    session_id: str


@dataclass(frozen=True)
class StartMedia:
    """Open the devices and connect to the other participants."""


@dataclass(frozen=True)
class CloseMedia:
    """Close the peer connections, keeping the devices (a rejoin follows)."""


@dataclass(frozen=True)
class StopMedia:
    """Close the peer connections and release the devices."""


@dataclass(frozen=True)
class SendRejoin:
    """Leave the old participant session if the server still has it, and join anew."""

    old_session_id: str | None


@dataclass(frozen=True)
class PublishState:
    """Tell the server (again) what we send: a resync may have missed a mute."""


@dataclass(frozen=True)
class SyncPeers:
    """Connect to participants we are not connected to yet (after a resync)."""


Command = (
    ArmTimer
    | DisarmTimer
    | SendAccept
    | SendReject
    | SendJoin
    | SendLeave
    | StartMedia
    | CloseMedia
    | StopMedia
    | SendRejoin
    | PublishState
    | SyncPeers
)
