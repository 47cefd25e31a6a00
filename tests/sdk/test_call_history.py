"""A call as a row of someone's call history: direction, outcome, who, when, how long —
from the stored answers of the call's ring, seen from each side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desktop_app.protocol.calls import (
    CallResponse,
    CallSessionResponse,
    MemberResponse,
    RejectionResponse,
)
from desktop_app.protocol.permissions import Role
from desktop_app.protocol.settings import CallSettings
from desktop_app.protocol.users import UserResponse
from desktop_app.sdk.call_history import Person, call_record

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def user(user_id: str) -> UserResponse:
    return UserResponse(id=user_id, name=user_id.title(), created_at=T0, updated_at=T0)


def call(
    creator: str = "alice",
    *,
    ringing: bool = False,
    accepted: tuple[str, ...] = (),
    rejected: dict[str, str | tuple[str, datetime]] | None = None,
    missed: tuple[str, ...] = (),
    started: datetime | None = None,
    ended: datetime | None = None,
    video: bool = True,
) -> CallResponse:
    session = CallSessionResponse(
        id="s",
        started_at=started,
        ended_at=ended,
        ringing=ringing,
        accepted_by={u: T0 for u in accepted},
        rejected_by={
            u: RejectionResponse(at=r[1], reason=r[0])
            if isinstance(r, tuple)
            else RejectionResponse(at=T0, reason=r)
            for u, r in (rejected or {}).items()
        },
        missed_by={u: T0 for u in missed},
    )
    return CallResponse(
        type="default",
        id="c",
        cid="default:c",
        created_by=user(creator),
        created_at=T0,
        updated_at=T0,
        settings=CallSettings(),
        video=video,
        backstage=False,
        session=session,
        as_of=T0,
    )


MEMBERS = [
    MemberResponse(user_id=u, user=user(u), role=Role.CALL_MEMBER, created_at=T0, updated_at=T0)
    for u in ("alice", "bob", "cy")
]


def outcome(seen_by: str, **how: object) -> str:
    return call_record(call(**how), MEMBERS, seen_by).outcome  # type: ignore[arg-type]


def test_the_callers_side() -> None:
    assert outcome("alice", ringing=True) == "ringing"
    assert outcome("alice", accepted=("cy",), rejected={"bob": "decline"}) == "answered"
    assert outcome("alice", rejected={"bob": "decline", "cy": "busy"}) == "declined"
    assert outcome("alice", rejected={"bob": "decline"}, missed=("cy",)) == "no answer"
    assert outcome("alice", rejected={"alice": "cancel"}) == "cancelled"
    assert outcome("alice", rejected={"alice": "timeout"}) == "no answer"
    later = T0 + timedelta(seconds=1)
    everyone_said_no = outcome(
        "alice", rejected={"bob": "decline", "cy": "decline", "alice": ("cancel", later)}
    )
    assert everyone_said_no == "declined", "a cancel after every callee said no is not ours"
    # Hanging up marks whoever still rang as missed at that moment: still our cancel.
    assert outcome("alice", rejected={"alice": "cancel", "bob": "decline"}, missed=("cy",)) == (
        "cancelled"
    )


def test_a_callees_side() -> None:
    assert outcome("bob", ringing=True) == "ringing"
    assert outcome("bob", ringing=True, rejected={"bob": "decline"}) == "declined"
    assert outcome("bob", accepted=("bob",)) == "answered"
    assert outcome("bob", accepted=("cy",)) == "missed", "another callee answered, not us"
    assert outcome("bob", missed=("bob",)) == "missed"
    assert outcome("bob", rejected={"alice": "cancel"}) == "missed", "the caller gave up"
    assert outcome("bob", rejected={"bob": "busy"}) == "missed"


def test_a_call_that_never_rang_is_a_meeting() -> None:
    assert outcome("alice") == "meeting"
    assert outcome("bob", started=T0) == "meeting"


def test_direction_people_duration_and_call_back() -> None:
    mine = call_record(
        call(accepted=("bob",), started=T0, ended=T0 + timedelta(minutes=3), video=False),
        MEMBERS,
        "alice",
    )
    assert mine.direction == "outgoing" and not mine.video
    assert mine.people == (Person("bob", "Bob"), Person("cy", "Cy"))
    assert mine.duration == timedelta(minutes=3)
    assert mine.call_back_ids == ["bob", "cy"]
    theirs = call_record(call(ringing=True), MEMBERS[1:], "cy")
    assert theirs.direction == "incoming"
    assert theirs.people[0] == Person("alice", "Alice"), "the caller first, even if not a member"
    assert theirs.call_back_ids == ["alice", "bob"]
    assert theirs.duration is None


def test_a_meeting_names_who_joined_by_id_and_its_latest_sessions_time() -> None:
    """Joined by id, the others are not members: the session's ``joined_by`` names them
    (in the order they came), by the names the viewer knows, else by id; the time shown
    is the latest session's, so it matches the duration."""
    meeting = call(started=T0 + timedelta(days=1), ended=T0 + timedelta(days=1, minutes=4))
    assert meeting.session is not None
    meeting.session.joined_by = {
        "alice": T0 + timedelta(days=1),
        "dan": T0 + timedelta(days=1, seconds=30),
        "bob": T0 + timedelta(days=1, seconds=10),
        "eve": T0 + timedelta(days=1, seconds=50),
    }
    only_alice = MEMBERS[:1]
    record = call_record(meeting, only_alice, "alice", {"dan": "Dan Dimitrov", "bob": "Bob"})
    assert record.outcome == "meeting"
    assert record.people == (
        Person("bob", "Bob"),
        Person("dan", "Dan Dimitrov"),
        Person("eve", "eve"),
    )
    assert record.started_at == T0 + timedelta(days=1) and record.duration == timedelta(minutes=4)
    ringing = call(accepted=("bob",))
    assert ringing.session is not None
    ringing.session.joined_by = {"alice": T0, "bob": T0, "dan": T0}
    rung = call_record(ringing, MEMBERS, "alice")
    assert [p.user_id for p in rung.people] == ["bob", "cy", "dan"], "members first, then others"
    assert rung.outcome == "answered" and rung.started_at == T0
