"""The call's state machine without sockets: typed inputs in, state and commands out.

The ringing rules of the caller's and the callees' sides, joining and leaving, rejoining
after a media failure and the resync after a reconnect, each in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from desktop_app.protocol.calls import (
    CallParticipantResponse,
    CallResponse,
    CallSessionResponse,
    MemberResponse,
    RejectionResponse,
)
from desktop_app.protocol.events import (
    CallAcceptedEvent,
    CallEndedEvent,
    CallMissedEvent,
    CallParticipantLeftEvent,
    CallRejectedEvent,
    CallRingEvent,
    CallSessionStartedEvent,
)
from desktop_app.protocol.permissions import Role
from desktop_app.protocol.settings import CallSettings
from desktop_app.protocol.users import UserResponse
from desktop_app.sdk import call_machine as m
from desktop_app.sdk.call_state import CalleeAnswer, CallingState, RingDirection
from desktop_app.sdk.connection import ReconnectPolicy
from desktop_app.sdk.errors import CallStateError

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SESSION = "s1"
RING = [m.ArmTimer(m.Timer.RING, 15.0)]
S = CallingState


def user(user_id: str) -> UserResponse:
    return UserResponse(id=user_id, name=user_id.title(), created_at=T0, updated_at=T0)


class Server:
    """The call as the coordinator would describe it, one step newer each time."""

    def __init__(self, creator: str = "alice") -> None:
        self.creator = creator
        self.step = 0
        self.ringing = False
        self.accepted: dict[str, datetime] = {}
        self.rejected: dict[str, RejectionResponse] = {}
        self.missed: dict[str, datetime] = {}
        self.participants: list[CallParticipantResponse] = []
        self.ended = False
        self.session_id = SESSION

    def call(self) -> CallResponse:
        self.step += 1
        return CallResponse(
            type="default",
            id="c",
            cid="default:c",
            created_by=user(self.creator),
            created_at=T0,
            updated_at=T0,
            settings=CallSettings(),
            video=True,
            backstage=False,
            ended_at=T0 if self.ended else None,
            session=CallSessionResponse(
                id=self.session_id,
                participants=list(self.participants),
                accepted_by=dict(self.accepted),
                rejected_by=dict(self.rejected),
                missed_by=dict(self.missed),
                ringing=self.ringing,
            ),
            as_of=T0 + timedelta(milliseconds=self.step),
        )

    def join(self, session_id: str, user_id: str) -> None:
        self.participants.append(
            CallParticipantResponse(
                session_id=session_id,
                user_id=user_id,
                user=user(user_id),
                role=Role.USER,
                joined_at=T0,
            )
        )

    def base(self) -> dict[str, Any]:
        return {"call_cid": "default:c", "created_at": T0, "call": self.call()}

    def ring(self, caller: str, callees: list[str], video: bool = True) -> CallRingEvent:
        self.ringing = True
        members = [
            MemberResponse(
                user_id=u, user=user(u), role=Role.CALL_MEMBER, created_at=T0, updated_at=T0
            )
            for u in [caller, *callees]
        ]
        return CallRingEvent(
            **self.base(), members=members, session_id=SESSION, user=user(caller), video=video
        )

    def accept(self, who: str, ring_over: bool = True) -> CallAcceptedEvent:
        self.accepted[who] = T0
        self.ringing = not ring_over
        return CallAcceptedEvent(**self.base(), user=user(who))

    def reject(self, who: str, reason: str = "decline", ring_over: bool = False) -> Any:
        self.rejected[who] = RejectionResponse(at=T0, reason=reason)
        self.ringing = not ring_over
        return CallRejectedEvent(**self.base(), user=user(who), reason=reason)

    def miss(self, who: str, ring_over: bool = False) -> CallMissedEvent:
        self.missed[who] = T0
        self.ringing = not ring_over
        return CallMissedEvent(**self.base(), user=user(who), session_id=SESSION)


def event(machine: m.CallMachine, happened: Any, busy: bool = False) -> list[m.Command]:
    return machine.handle(m.EventReceived(happened, busy))


def caller_ringing(*callees: str) -> tuple[m.CallMachine, Server]:
    """Alice rang ``callees`` with get_or_create(ring=True)."""
    machine, server = m.CallMachine("alice"), Server()
    server.ringing = True
    commands = machine.handle(m.RingSent(server.call(), ("alice", *callees), user("alice")))
    assert commands == RING and machine.calling_state is S.RINGING
    assert machine.ringing_out and not machine.ringing_me
    return machine, server


def callee_ringing(
    me: str = "bob", callees: tuple[str, ...] = ("bob",)
) -> tuple[m.CallMachine, Server]:
    machine, server = m.CallMachine(me), Server()
    assert event(machine, server.ring("alice", list(callees))) == RING
    assert machine.calling_state is S.RINGING and machine.ringing_me
    return machine, server


def joined(machine: m.CallMachine, session_id: str = "p-me") -> list[m.Command]:
    commands = machine.handle(m.JoinRequested())
    assert m.SendJoin() in commands and machine.calling_state is S.JOINING
    assert machine.handle(m.JoinSucceeded(session_id)) == [m.StartMedia()]
    assert machine.calling_state is S.JOINED
    return commands


# --- the caller's side ------------------------------------------------------------------


def test_the_caller_joins_on_the_first_accept_once() -> None:
    machine, server = caller_ringing("bob", "cy")
    ring = machine.ring
    assert ring is not None and ring.direction is RingDirection.OUTGOING
    assert ring.caller == user("alice") and set(ring.answers) == {"bob", "cy"}
    assert event(machine, server.accept("bob", ring_over=False)) == [
        m.DisarmTimer(m.Timer.RING),
        m.SendJoin(),
    ]
    assert machine.calling_state is S.JOINING
    assert event(machine, server.accept("cy")) == [], "a second accept joins nobody again"
    assert machine.handle(m.JoinSucceeded("p-alice")) == [m.StartMedia()]
    assert machine.calling_state is S.JOINED


def test_the_caller_is_never_rung_by_its_own_ring() -> None:
    machine, server = caller_ringing("bob", "cy")
    assert event(machine, server.ring("alice", ["bob", "cy"])) == []
    assert machine.ringing_out and not machine.ringing_me


def test_each_callees_answer_reaches_the_caller_with_its_reason() -> None:
    machine, server = caller_ringing("bob", "cy", "dan")
    event(machine, server.reject("bob", "busy"))
    event(machine, server.accept("cy", ring_over=False))
    machine.handle(m.JoinSucceeded("p-alice"))
    event(machine, server.reject("dan", "decline", ring_over=True))
    assert machine.calling_state is S.JOINED, "a later reject does not end a joined call"
    ring = machine.ring
    assert ring is not None and not ring.active
    assert ring.answers == {
        "bob": CalleeAnswer("rejected", "busy"),
        "cy": CalleeAnswer("accepted"),
        "dan": CalleeAnswer("rejected", "decline"),
    }


def test_the_caller_leaves_when_everyone_rejected() -> None:
    machine, server = caller_ringing("bob", "cy")
    assert event(machine, server.reject("bob")) == []
    assert machine.calling_state is S.RINGING, "one reject does not end the ring for the other"
    commands = event(machine, server.miss("cy", ring_over=True))
    assert machine.calling_state is S.LEFT
    assert m.StopMedia() in commands and m.DisarmTimer(m.Timer.RING) in commands
    assert not any(isinstance(c, m.SendReject) for c in commands), "the ring is over already"


def test_the_callers_deadline_cancels_with_timeout() -> None:
    machine, _ = caller_ringing("bob")
    commands = machine.handle(m.TimerFired(m.Timer.RING))
    assert m.SendReject("timeout") in commands and machine.calling_state is S.LEFT


def test_the_caller_cancels_by_leaving() -> None:
    machine, _ = caller_ringing("bob")
    commands = machine.handle(m.LeaveRequested(reject=True, reason="decline"))
    assert m.SendReject("cancel") in commands, "a caller's reject is a cancel"
    assert not any(isinstance(c, m.SendLeave) for c in commands), "never joined"
    assert machine.calling_state is S.LEFT


def test_ringing_more_people_from_a_joined_call_keeps_it_joined() -> None:
    machine, server = m.CallMachine("alice"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine)
    server.ringing = True
    assert machine.handle(m.RingSent(server.call(), ("dan",), user("alice"))) == []
    assert machine.calling_state is S.JOINED and machine.ring is not None


def test_a_ring_that_rang_nobody_does_not_ring() -> None:
    machine, server = m.CallMachine("alice"), Server()
    assert machine.handle(m.RingSent(server.call(), ("bob",), user("alice"))) == []
    assert machine.calling_state is S.IDLE and machine.ring is None


# --- a callee's side ----------------------------------------------------------------------


def test_the_ring_names_who_rang_and_how() -> None:
    machine, server = m.CallMachine("bob"), Server(creator="zed")
    event(machine, server.ring("alice", ["bob"], video=False))
    ring = machine.ring
    assert ring is not None and ring.direction is RingDirection.INCOMING
    assert ring.caller == user("alice"), "the member who rang, not the call's creator"
    assert ring.video is False, "the ring's own flag, not the call's"


def test_joining_accepts_in_the_same_step() -> None:
    machine, _ = callee_ringing()
    commands = joined(machine, "p-bob")
    assert commands == [m.DisarmTimer(m.Timer.RING), m.SendAccept(), m.SendJoin()]
    assert machine.ring is None, "answered"


def test_a_failed_join_goes_back() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    machine.handle(m.JoinRequested())
    assert machine.handle(m.JoinFailed()) == [] and machine.calling_state is S.IDLE
    joined(machine)
    with pytest.raises(CallStateError):
        machine.handle(m.JoinRequested())  # already in the call


def test_a_call_that_ends_while_the_join_travels_is_left() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    machine.handle(m.JoinRequested())
    server.ended = True
    event(machine, CallEndedEvent(**server.base()))
    assert machine.calling_state is S.LEFT
    assert machine.handle(m.JoinSucceeded("p-bob")) == [m.SendLeave("p-bob"), m.StopMedia()]
    assert machine.calling_state is S.LEFT


def test_rejecting_and_the_incoming_deadline() -> None:
    machine, _ = callee_ringing()
    assert machine.handle(m.RejectRequested("decline")) == [
        m.DisarmTimer(m.Timer.RING),
        m.SendReject("decline"),
    ]
    assert machine.calling_state is S.IDLE and machine.ring is None
    machine, _ = callee_ringing()
    assert machine.handle(m.TimerFired(m.Timer.RING)) == [m.SendReject("timeout")]
    assert machine.calling_state is S.IDLE


def test_the_ring_stops_when_answered_on_another_device() -> None:
    machine, server = callee_ringing()
    assert event(machine, server.accept("bob")) == [m.DisarmTimer(m.Timer.RING)]
    assert machine.calling_state is S.IDLE
    machine, server = callee_ringing()
    event(machine, server.reject("bob", ring_over=True))
    assert machine.calling_state is S.IDLE


def test_another_callees_answer_does_not_stop_my_ring() -> None:
    machine, server = callee_ringing("bob", ("bob", "cy"))
    assert event(machine, server.reject("cy")) == []
    assert event(machine, server.accept("cy", ring_over=False)) == []
    assert machine.ringing_me


def test_the_caller_cancelling_stops_the_ring() -> None:
    machine, server = callee_ringing()
    commands = event(machine, server.reject("alice", "cancel", ring_over=True))
    assert commands == [m.DisarmTimer(m.Timer.RING)] and machine.calling_state is S.IDLE


def test_busy() -> None:
    machine, server = m.CallMachine("bob", reject_when_busy=True), Server()
    assert event(machine, server.ring("alice", ["bob"]), busy=True) == [m.SendReject("busy")]
    assert machine.calling_state is S.IDLE
    machine = m.CallMachine("bob")
    assert event(machine, server.ring("alice", ["bob"]), busy=True) == RING, "not told to"


def test_do_not_disturb_refuses_every_ring_as_busy() -> None:
    machine, server = m.CallMachine("bob"), Server()
    quiet = m.EventReceived(server.ring("alice", ["bob"]), do_not_disturb=True)
    assert machine.handle(quiet) == [m.SendReject("busy")]
    assert machine.calling_state is not S.RINGING and machine.missed_rings == 1


def test_a_ring_that_ends_unanswered_is_a_missed_call() -> None:
    """Cancelled by the caller, timed out here or on the server, or the call ended while it
    rang: each counts once. Our own answer on any device does not."""
    machine, server = callee_ringing()
    event(machine, server.reject("alice", "cancel", ring_over=True))
    assert machine.missed_rings == 1
    machine, _ = callee_ringing()
    machine.handle(m.TimerFired(m.Timer.RING))
    assert machine.missed_rings == 1
    machine, server = callee_ringing()
    event(machine, server.miss("bob", ring_over=True))
    assert machine.missed_rings == 1
    machine, server = callee_ringing()
    server.ended = True
    event(machine, CallEndedEvent(**server.base()))
    assert machine.missed_rings == 1
    machine, server = m.CallMachine("bob", reject_when_busy=True), Server()
    event(machine, server.ring("alice", ["bob"]), busy=True)
    assert machine.missed_rings == 1, "refused as busy for us"


def test_answering_anywhere_is_not_a_missed_call() -> None:
    for answer in ("accept", "decline", "decline-here", "join-here"):
        machine, server = callee_ringing()
        if answer == "accept":
            event(machine, server.accept("bob"))
        elif answer == "decline":
            event(machine, server.reject("bob", ring_over=True))
        elif answer == "decline-here":
            machine.handle(m.RejectRequested("decline"))
            event(machine, server.reject("bob", ring_over=True))
        else:
            joined(machine)
            event(machine, server.accept("bob"))
        assert machine.missed_rings == 0, answer
        assert not machine.ringing_me


def test_a_ring_while_in_the_call_does_not_ring() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine)
    assert event(machine, server.ring("alice", ["bob"])) == []
    assert machine.calling_state is S.JOINED


def test_an_older_call_says_nothing_about_the_ring() -> None:
    machine, server = caller_ringing("bob")
    stale = Server()  # a call.created event from before the ring
    stale.step = -5
    happened = CallSessionStartedEvent(**stale.base(), session_id=SESSION)
    assert machine.handle(m.EventReceived(happened, fresh=False)) == []
    assert machine.ringing_out


def test_the_call_ending_stops_everything() -> None:
    machine, server = callee_ringing()
    server.ended = True
    commands = event(machine, CallEndedEvent(**server.base()))
    assert machine.calling_state is S.LEFT and m.StopMedia() in commands


# --- leaving, media, rejoin, resync --------------------------------------------------------


def test_leaving_a_joined_call() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p-bob")
    commands = machine.handle(m.LeaveRequested())
    assert m.SendLeave("p-bob") in commands and m.StopMedia() in commands
    assert machine.calling_state is S.LEFT and machine.session_id is None


def test_rejoin_after_a_media_failure_then_give_up() -> None:
    policy = ReconnectPolicy(delays=(0.0, 0.5), max_attempts=2)
    machine, server = m.CallMachine("bob", media_policy=policy), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p1")
    assert machine.handle(m.MediaFailed()) == [m.CloseMedia(), m.ArmTimer(m.Timer.REJOIN, 0.0)]
    assert machine.calling_state is S.RECONNECTING
    assert machine.handle(m.MediaFailed()) == [], "one rejoin at a time"
    assert machine.handle(m.TimerFired(m.Timer.REJOIN)) == [m.SendRejoin("p1")]
    assert machine.handle(m.RejoinFailed()) == [m.ArmTimer(m.Timer.REJOIN, 0.5)]
    assert machine.handle(m.RejoinFailed()) == [m.StopMedia()]
    assert machine.calling_state is S.RECONNECTING_FAILED


def test_a_successful_rejoin_and_the_budget_starting_over() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p1")
    machine.handle(m.MediaFailed())
    assert machine.handle(m.RejoinSucceeded("p2")) == [m.StartMedia()]
    assert machine.calling_state is S.JOINED and machine.session_id == "p2"
    machine.handle(m.MediaConnected())
    assert machine.rejoin_attempts == 0


def test_a_rejoin_that_lands_after_leaving_leaves_again() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p1")
    machine.handle(m.MediaFailed())
    machine.handle(m.LeaveRequested())
    assert machine.handle(m.RejoinSucceeded("p2")) == [m.SendLeave("p2")]
    assert machine.calling_state is S.LEFT


def test_a_final_rejoin_failure() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p1")
    machine.handle(m.MediaFailed())
    assert machine.handle(m.RejoinFailed(final=True)) == [m.StopMedia()]
    assert machine.calling_state is S.RECONNECTING_FAILED


def test_resync_keeps_the_media_when_the_server_still_has_us() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p-bob")
    server.join("p-bob", "bob")
    assert machine.handle(m.Resynced(server.call())) == [m.PublishState(), m.SyncPeers()]
    assert machine.calling_state is S.JOINED


def test_resync_rejoins_when_the_server_forgot_us() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p-bob")
    assert machine.handle(m.Resynced(server.call()))[:1] == [m.CloseMedia()]
    assert machine.calling_state is S.RECONNECTING


def test_resync_of_a_call_the_server_lost() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p-bob")
    machine.handle(m.ResyncFailed())
    assert machine.calling_state is S.RECONNECTING
    idle = m.CallMachine("bob")
    assert idle.handle(m.ResyncFailed()) == [] and idle.calling_state is S.UNKNOWN


def test_the_server_dropping_our_session_rejoins() -> None:
    machine, server = m.CallMachine("bob"), Server()
    machine.handle(m.CallSeen(server.call()))
    joined(machine, "p-bob")
    server.join("p-bob", "bob")
    gone = server.participants.pop()
    happened = CallParticipantLeftEvent(
        **server.base(), session_id=SESSION, participant=gone, reason="disconnected"
    )
    assert event(machine, happened)[:1] == [m.CloseMedia()]
    assert machine.calling_state is S.RECONNECTING


def test_every_input_is_handled() -> None:
    """The machine's ``handle`` has a case for each member of ``Input``."""
    machine = m.CallMachine("bob")
    server = Server()
    samples: list[m.Input] = [
        m.CallSeen(server.call()),
        m.RingSent(server.call(), ("x",), None),
        m.EventReceived(CallSessionStartedEvent(**server.base(), session_id=SESSION)),
        m.JoinRequested(),
        m.JoinFailed(),
        m.JoinRequested(),
        m.JoinSucceeded("p"),
        m.AcceptRequested(),
        m.RejectRequested(),
        m.MediaConnected(),
        m.MediaFailed(),
        m.TimerFired(m.Timer.REJOIN),
        m.RejoinFailed(),
        m.RejoinSucceeded("q"),
        m.Resynced(server.call()),
        m.ResyncFailed(),
        m.LeaveRequested(),
        m.CallFinished(),
    ]
    assert {type(s) for s in samples} == set(m.Input.__args__)  # type: ignore[attr-defined]
    for sample in samples:
        machine.handle(sample)
