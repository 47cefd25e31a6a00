"""What a call was, for a person's call history: which way it rang, how it ended, with
whom, when and for how long — read from the call's stored session (the answers of its
ring: ``accepted_by``, ``rejected_by``, ``missed_by``), so every device of a user and every
later run tells the same story.

The rules, from the viewer's side:

* **Outgoing** (the viewer created the call and rang): *answered* once anyone accepted;
  *ringing* while the ring is on; *cancelled* when the viewer hung up first; *declined*
  when every callee declined (or was busy); otherwise *no answer*.
* **Incoming** (someone else's call that rang the viewer): *answered* when the viewer
  accepted (on any device); *ringing* while it still rings; *declined* when the viewer
  declined; otherwise *missed* — a timeout, a busy refusal, or a caller who gave up.
* A call that never rang (joined by id, announced with ``notify``) is a *meeting*.

Who was in it: its members and everyone who joined its session (``joined_by`` — people
who joined a meeting by id are not members). When and how long: its latest session's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from desktop_app.protocol.calls import CallResponse, MemberResponse

Direction = Literal["incoming", "outgoing"]
Outcome = Literal["answered", "ringing", "cancelled", "declined", "no answer", "missed", "meeting"]


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str


@dataclass(frozen=True)
class CallRecord:
    cid: str
    direction: Direction
    outcome: Outcome
    #: The others in the call: the caller first for an incoming call, then its members,
    #: then whoever else joined.
    people: tuple[Person, ...]
    #: When its latest session started (the call's creation, if it never had one).
    started_at: datetime
    #: From the first join to the last leave; None while it goes on or if nobody joined.
    duration: timedelta | None
    video: bool

    @property
    def call_back_ids(self) -> list[str]:
        """Whom to ring to call back: the same people."""
        return [p.user_id for p in self.people]

    @property
    def joined_again(self) -> bool:
        """Whether going back means joining the same call (a meeting is a room people
        come back to; so is a call with nobody else) rather than ringing its people."""
        return self.outcome == "meeting" or not self.people


def call_record(
    call: CallResponse,
    members: list[MemberResponse],
    own_id: str,
    names: Mapping[str, str] | None = None,
) -> CallRecord:
    """``names``: user id → name of people the viewer knows, for those who joined without
    being members (the session names only their ids once they have left)."""
    session = call.session
    outgoing = call.created_by.id == own_id
    others = {m.user_id: m.user.name or m.user_id for m in members if m.user_id != own_id}
    if not outgoing:
        others = {call.created_by.id: call.created_by.name or call.created_by.id, **others}
    rang = set(others)
    if session is not None:
        known = {p.user_id: p.user.name for p in session.participants if p.user.name}
        known = {**(names or {}), **known}
        for user_id in sorted(session.joined_by, key=session.joined_by.__getitem__):
            if user_id != own_id and user_id not in others:
                others[user_id] = known.get(user_id) or user_id
    people = tuple(Person(user_id, name) for user_id, name in others.items())
    duration = None
    if session is not None and session.started_at is not None and session.ended_at is not None:
        duration = session.ended_at - session.started_at
    return CallRecord(
        cid=call.cid,
        direction="outgoing" if outgoing else "incoming",
        outcome=_outcome(call, own_id, [u for u in others if u in rang], outgoing),
        people=people,
        started_at=session.started_at if session and session.started_at else call.created_at,
        duration=duration,
        video=call.video,
    )


def _outcome(call: CallResponse, own_id: str, others: list[str], outgoing: bool) -> Outcome:
    session = call.session
    if session is None:
        return "meeting"
    rang = session.ringing or session.accepted_by or session.rejected_by or session.missed_by
    if not rang:
        return "meeting"
    if outgoing:
        if any(user in session.accepted_by for user in others):
            return "answered"
        if session.ringing:
            return "ringing"
        own = session.rejected_by.get(own_id)
        if own is not None and own.reason == "cancel":
            # Hanging up ends the ring for whoever still rang (the server marks them
            # missed at that very moment): ours is "cancelled" unless everyone had said
            # no before.
            cancelled_at = own.at

            def said_no_before(user: str) -> bool:
                rejected = session.rejected_by.get(user)
                missed = session.missed_by.get(user)
                at = rejected.at if rejected is not None else missed
                return at is not None and at < cancelled_at

            if not (others and all(said_no_before(user) for user in others)):
                return "cancelled"
        if own is not None and own.reason == "timeout":
            return "no answer"  # our own deadline passed
        return _callee_outcome(call, others)
    if own_id in session.accepted_by:
        return "answered"
    if session.ringing and own_id not in session.rejected_by and own_id not in session.missed_by:
        return "ringing"
    own = session.rejected_by.get(own_id)
    if own is not None and own.reason == "decline":
        return "declined"
    return "missed"


def _callee_outcome(call: CallResponse, others: list[str]) -> Outcome:
    """Everyone answered no: all declined (or busy) is *declined*, else *no answer*."""
    session = call.session
    assert session is not None
    refused = [
        user
        for user in others
        if user in session.rejected_by and session.rejected_by[user].reason in ("decline", "busy")
    ]
    return "declined" if others and len(refused) == len(others) else "no answer"
