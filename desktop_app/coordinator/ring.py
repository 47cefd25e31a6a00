"""The ring of a call, as a sans-I/O state machine: answers and a clock in, outcomes out.

A ring belongs to a call session. The caller rings some members (the *callees*); each
callee's devices ring until that callee accepts, rejects, or runs out of time:

* a callee's own deadline is ``incoming_call_timeout_ms`` after they were rung when they
  had a connected device then (something rang), else ``missed_call_timeout_ms`` (nothing
  rang; that long for them to come online and answer). Unanswered at the deadline, the
  callee has **missed** the call;
* the caller's deadline is ``auto_cancel_timeout_ms``: if nobody has accepted by then, the
  ring ends for everyone — the caller is recorded as rejecting with ``timeout`` and every
  callee still ringing has missed the call;
* the caller may cancel (reject with ``cancel``, or ``timeout`` when its own timer ran out);
  every callee still ringing has then missed the call;
* a callee rejects with ``decline`` or ``busy``; a callee's ``timeout`` counts as missed,
  never as declined. One callee's answer never ends the ring for the others;
* the ring is over when nobody is left ringing, or the caller stopped it.

Nothing here does I/O or reads a clock: the service stores a :class:`Ring` with its call
session, passes ``now`` in, and turns the returned outcomes into events.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from desktop_app.protocol.settings import RingSettings


class RejectReason(StrEnum):
    DECLINE = "decline"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    BUSY = "busy"


class RingEnd(StrEnum):
    CANCELLED = "cancelled"  # the caller cancelled (or its client timed out)
    AUTO_CANCELLED = "auto_cancelled"  # the caller's deadline passed with no accept
    ANSWERED = "answered"  # every callee has answered (accepted, rejected or missed)
    CALL_ENDED = "call_ended"  # the call ended while ringing
    CALLER_GONE = "caller_gone"  # the caller's connection disappeared


class RingError(Exception):
    """An answer that does not fit the ring's state; ``kind`` says which rule it broke."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# --- outcomes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    users: tuple[str, ...]


@dataclass(frozen=True)
class Accepted:
    user: str


@dataclass(frozen=True)
class Rejected:
    user: str
    reason: RejectReason


@dataclass(frozen=True)
class Missed:
    user: str


@dataclass(frozen=True)
class Ended:
    reason: RingEnd


Outcome = Rung | Accepted | Rejected | Missed | Ended


# --- state ------------------------------------------------------------------------------


@dataclass
class Ring:
    caller: str
    video: bool
    started_at: datetime
    auto_cancel_at: datetime
    #: callee → the moment their devices stop ringing
    deadlines: dict[str, datetime] = field(default_factory=dict)
    accepted: dict[str, datetime] = field(default_factory=dict)
    rejected: dict[str, tuple[datetime, RejectReason]] = field(default_factory=dict)
    missed: dict[str, datetime] = field(default_factory=dict)
    ended_at: datetime | None = None
    end_reason: RingEnd | None = None
    #: the caller's WebSocket connection, if it rang through one: its loss ends the ring
    caller_connection_id: str | None = None

    @property
    def ringing(self) -> bool:
        return self.ended_at is None

    def answered(self, user: str) -> bool:
        return user in self.accepted or user in self.rejected or user in self.missed

    def pending(self) -> list[str]:
        """Callees whose devices are still ringing."""
        if not self.ringing:
            return []
        return [u for u in self.deadlines if not self.answered(u)]

    def next_deadline(self) -> datetime | None:
        if not self.ringing:
            return None
        moments = [self.deadlines[u] for u in self.pending()]
        if not self.accepted:
            moments.append(self.auto_cancel_at)
        return min(moments) if moments else None


def _callee_deadline(settings: RingSettings, now: datetime, online: bool) -> datetime:
    milliseconds = settings.incoming_call_timeout_ms if online else settings.missed_call_timeout_ms
    return now + timedelta(milliseconds=milliseconds)


def start(
    caller: str,
    callees: Iterable[str],
    *,
    video: bool,
    settings: RingSettings,
    now: datetime,
    online: Collection[str],
    caller_connection_id: str | None = None,
) -> tuple[Ring, list[Outcome]]:
    """Begin ringing ``callees`` (the caller is never rung)."""
    wanted = [u for u in dict.fromkeys(callees) if u != caller]
    if not wanted:
        raise RingError("no_callees", "There is nobody to ring: the call has no other members.")
    ring = Ring(
        caller=caller,
        video=video,
        started_at=now,
        auto_cancel_at=now + timedelta(milliseconds=settings.auto_cancel_timeout_ms),
        deadlines={u: _callee_deadline(settings, now, u in online) for u in wanted},
        caller_connection_id=caller_connection_id,
    )
    return ring, [Rung(tuple(wanted))]


def add_callees(
    ring: Ring,
    callees: Iterable[str],
    *,
    settings: RingSettings,
    now: datetime,
    online: Collection[str],
) -> list[Outcome]:
    """Ring more members while the ring is on; those already rung are left as they are."""
    if not ring.ringing:
        raise RingError("not_ringing", "This call is not ringing any more; start a new ring.")
    new = [u for u in dict.fromkeys(callees) if u != ring.caller and u not in ring.deadlines]
    for user in new:
        ring.deadlines[user] = _callee_deadline(settings, now, user in online)
    return [Rung(tuple(new))] if new else []


def _finish_if_answered(ring: Ring, now: datetime, outcomes: list[Outcome]) -> None:
    if ring.ringing and not ring.pending():
        ring.ended_at = now
        ring.end_reason = RingEnd.ANSWERED
        outcomes.append(Ended(RingEnd.ANSWERED))


def _stop(ring: Ring, reason: RingEnd, now: datetime) -> list[Outcome]:
    """End the ring: everyone still ringing has missed the call."""
    outcomes: list[Outcome] = []
    for user in ring.pending():
        ring.missed[user] = now
        outcomes.append(Missed(user))
    ring.ended_at = now
    ring.end_reason = reason
    outcomes.append(Ended(reason))
    return outcomes


def _callee_still_ringing(ring: Ring, user: str) -> None:
    if not ring.ringing:
        raise RingError("not_ringing", "This call is not ringing any more.")
    if user == ring.caller:
        raise RingError("caller", "You are the caller; cancel with reject and reason 'cancel'.")
    if user not in ring.deadlines:
        raise RingError("not_rung", "This call is not ringing you.")
    if user in ring.missed:
        raise RingError("not_ringing", "This call stopped ringing you; you can still join it.")
    if ring.answered(user):
        raise RingError("answered", "You have already answered this call.")


def accept(ring: Ring, user: str, now: datetime) -> list[Outcome]:
    _callee_still_ringing(ring, user)
    ring.accepted[user] = now
    outcomes: list[Outcome] = [Accepted(user)]
    _finish_if_answered(ring, now, outcomes)
    return outcomes


def reject(ring: Ring, user: str, reason: RejectReason, now: datetime) -> list[Outcome]:
    if user == ring.caller:
        if not ring.ringing:
            raise RingError("not_ringing", "This call is not ringing any more.")
        if reason not in (RejectReason.CANCEL, RejectReason.TIMEOUT):
            raise RingError(
                "reason", "The caller stops a ring with reason 'cancel' (or 'timeout')."
            )
        ring.rejected[user] = (now, reason)
        return [Rejected(user, reason), *_stop(ring, RingEnd.CANCELLED, now)]
    if reason is RejectReason.CANCEL:
        raise RingError(
            "reason", "'cancel' is the caller's reason; decline with 'decline' or 'busy'."
        )
    _callee_still_ringing(ring, user)
    outcomes: list[Outcome]
    if reason is RejectReason.TIMEOUT:
        ring.missed[user] = now
        outcomes = [Missed(user)]
    else:
        ring.rejected[user] = (now, reason)
        outcomes = [Rejected(user, reason)]
    _finish_if_answered(ring, now, outcomes)
    return outcomes


def tick(ring: Ring, now: datetime) -> list[Outcome]:
    """Apply every deadline that has passed by ``now``; idempotent."""
    if not ring.ringing:
        return []
    if not ring.accepted and now >= ring.auto_cancel_at:
        ring.rejected[ring.caller] = (now, RejectReason.TIMEOUT)
        return [
            Rejected(ring.caller, RejectReason.TIMEOUT),
            *_stop(ring, RingEnd.AUTO_CANCELLED, now),
        ]
    outcomes: list[Outcome] = []
    for user in ring.pending():
        if now >= ring.deadlines[user]:
            ring.missed[user] = now
            outcomes.append(Missed(user))
    _finish_if_answered(ring, now, outcomes)
    return outcomes


def caller_gone(ring: Ring, now: datetime) -> list[Outcome]:
    """The caller's app disappeared while ringing: as if it had cancelled."""
    if not ring.ringing:
        return []
    ring.rejected[ring.caller] = (now, RejectReason.CANCEL)
    return [Rejected(ring.caller, RejectReason.CANCEL), *_stop(ring, RingEnd.CALLER_GONE, now)]


def stop(ring: Ring, reason: RingEnd, now: datetime) -> list[Outcome]:
    """The call ended or the caller vanished: stop ringing everyone."""
    if not ring.ringing:
        return []
    return _stop(ring, reason, now)


# --- storage form -----------------------------------------------------------------------


def _ts(value: datetime) -> str:
    return value.isoformat()


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def to_json(ring: Ring) -> dict[str, Any]:
    return {
        "caller": ring.caller,
        "video": ring.video,
        "started_at": _ts(ring.started_at),
        "auto_cancel_at": _ts(ring.auto_cancel_at),
        "deadlines": {u: _ts(t) for u, t in ring.deadlines.items()},
        "accepted": {u: _ts(t) for u, t in ring.accepted.items()},
        "rejected": {u: [_ts(t), r.value] for u, (t, r) in ring.rejected.items()},
        "missed": {u: _ts(t) for u, t in ring.missed.items()},
        "ended_at": _ts(ring.ended_at) if ring.ended_at else None,
        "end_reason": ring.end_reason.value if ring.end_reason else None,
        "caller_connection_id": ring.caller_connection_id,
    }


def from_json(data: dict[str, Any]) -> Ring:
    return Ring(
        caller=data["caller"],
        video=bool(data["video"]),
        started_at=_dt(data["started_at"]),
        auto_cancel_at=_dt(data["auto_cancel_at"]),
        deadlines={u: _dt(t) for u, t in data["deadlines"].items()},
        accepted={u: _dt(t) for u, t in data["accepted"].items()},
        rejected={u: (_dt(t), RejectReason(r)) for u, (t, r) in data["rejected"].items()},
        missed={u: _dt(t) for u, t in data["missed"].items()},
        ended_at=_dt(data["ended_at"]) if data.get("ended_at") else None,
        end_reason=RingEnd(data["end_reason"]) if data.get("end_reason") else None,
        caller_connection_id=data.get("caller_connection_id"),
    )
