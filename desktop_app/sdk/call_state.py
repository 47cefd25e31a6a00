"""The observable state of one call, as the SDK knows it from answers and events.

Every value is an :class:`Observable` (bind to it) with a plain property beside it (read
it). The state is rebuilt from any ``call`` object the coordinator sends — every answer and
every event carries the whole call — so it never drifts from the server's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from desktop_app.protocol.calls import CallResponse, CallSessionResponse, MemberResponse
from desktop_app.protocol.permissions import Permission
from desktop_app.protocol.settings import CallSettings
from desktop_app.protocol.users import UserResponse

from .observable import Observable
from .quality import ConnectionQuality


class CallingState(StrEnum):
    UNKNOWN = "unknown"
    IDLE = "idle"
    RINGING = "ringing"
    JOINING = "joining"
    JOINED = "joined"
    LEFT = "left"
    RECONNECTING = "reconnecting"
    MIGRATING = "migrating"
    RECONNECTING_FAILED = "reconnecting-failed"
    OFFLINE = "offline"


class RingDirection(StrEnum):
    INCOMING = "incoming"  # someone rang us
    OUTGOING = "outgoing"  # we rang


AnswerStatus = Literal["ringing", "accepted", "rejected", "missed"]


@dataclass(frozen=True)
class CalleeAnswer:
    status: AnswerStatus
    #: Why a callee rejected: ``decline``, ``busy``, ``timeout`` or ``cancel``.
    reason: str | None = None


@dataclass(frozen=True)
class RingContext:
    direction: RingDirection
    #: The call session the ring belongs to.
    session_id: str | None
    #: Who rang: the ring event's ``user`` (incoming), ourselves (outgoing).
    caller: UserResponse | None
    #: Whether the ring asked for video (the ring's own flag, not the call's).
    video: bool
    #: Each callee's answer so far (outgoing rings; by user id).
    answers: Mapping[str, CalleeAnswer] = field(default_factory=dict)
    #: Whether the ring is still on (the server's view, from the newest call seen).
    active: bool = True


@dataclass(frozen=True)
class ConnectionPath:
    """How a connected peer connection runs."""

    #: ``relayed`` when either end's selected candidate is a TURN relay.
    route: Literal["direct", "relayed"]
    #: Our own leg: UDP, or TCP to the TURN server.
    transport: Literal["udp", "tcp"]
    #: The selected pair's candidate types (host, srflx, prflx, relay).
    local_type: str
    remote_type: str

    def __str__(self) -> str:
        return f"{self.route} {self.transport}"


@dataclass
class Participant:
    """One participant session (a user may have several: one per device)."""

    session_id: str
    user: UserResponse
    role: str
    joined_at: datetime
    is_local: bool = False
    published: dict[str, bool] = field(default_factory=dict)
    #: Media arrives with the rtc layer: the remote tracks and the speaking level (0–1).
    video_track: Any = None
    audio_track: Any = None
    audio_level: float = 0.0
    #: Our peer connection to this participant: new, connecting, connected, failed, closed.
    connection_state: str = "new"
    #: Once connected: direct or relayed, over UDP or TCP (``ice.path_of`` reads it).
    connection_path: ConnectionPath | None = None
    #: How the connection with them is (``quality.py``); for the local participant, our
    #: own uplink as the others report it. None until measured.
    quality: ConnectionQuality | None = None


class CallState:
    def __init__(self, own_user_id: str | None) -> None:
        self.own_user_id = own_user_id
        self.calling_state_: Observable[CallingState] = Observable(CallingState.UNKNOWN)
        self.call_: Observable[CallResponse | None] = Observable(None)
        self.members_: Observable[list[MemberResponse]] = Observable([])
        self.participants_: Observable[list[Participant]] = Observable([])
        self.own_capabilities_: Observable[list[Permission]] = Observable([])
        self.dominant_speaker_: Observable[Participant | None] = Observable(None)
        #: The ring that concerns this device (see ``call_machine.RingContext``).
        self.ring_: Observable[RingContext | None] = Observable(None)
        #: This device's participant session, once joined.
        self.local_session_id: str | None = None

    # --- plain getters -------------------------------------------------------------------

    @property
    def calling_state(self) -> CallingState:
        return self.calling_state_.value

    @property
    def call(self) -> CallResponse | None:
        return self.call_.value

    @property
    def members(self) -> list[MemberResponse]:
        return self.members_.value

    @property
    def participants(self) -> list[Participant]:
        return self.participants_.value

    @property
    def local_participant(self) -> Participant | None:
        return next((p for p in self.participants if p.is_local), None)

    @property
    def dominant_speaker(self) -> Participant | None:
        return self.dominant_speaker_.value

    @property
    def own_capabilities(self) -> list[Permission]:
        return self.own_capabilities_.value

    @property
    def custom(self) -> dict[str, object]:
        return dict(self.call.custom) if self.call else {}

    @property
    def settings(self) -> CallSettings | None:
        return self.call.settings if self.call else None

    @property
    def backstage(self) -> bool:
        return bool(self.call and self.call.backstage)

    @property
    def created_by(self) -> UserResponse | None:
        return self.call.created_by if self.call else None

    @property
    def is_created_by_me(self) -> bool:
        return self.created_by is not None and self.created_by.id == self.own_user_id

    @property
    def ended_at(self) -> datetime | None:
        return self.call.ended_at if self.call else None

    @property
    def session(self) -> CallSessionResponse | None:
        return self.call.session if self.call else None

    @property
    def ring(self) -> RingContext | None:
        return self.ring_.value

    @property
    def ringing(self) -> bool:
        """Whether the call's ring is on (server's view)."""
        return bool(self.session and self.session.ringing)

    # --- updates ---------------------------------------------------------------------------

    def set_calling_state(self, value: CallingState) -> None:
        self.calling_state_.set(value)

    def set_local_session(self, session_id: str | None) -> None:
        """Our participant session is now ``session_id`` (a rejoin's answer names the next
        one): which participant is us follows at once — its event may have come first, and
        the answer's call, older than that event, is not taken."""
        if session_id == self.local_session_id:
            return
        self.local_session_id = session_id
        changed = False
        for participant in self.participants:
            local = participant.session_id == session_id
            changed = changed or participant.is_local != local
            participant.is_local = local
        if changed:
            self.participants_.notify()

    def apply_call(self, call: CallResponse) -> bool:
        """Take ``call`` unless what we have is newer (answers and events race); says
        whether it was taken."""
        if self.call is not None and call.as_of < self.call.as_of:
            return False
        session = call.session
        previous = {p.session_id: p for p in self.participants}
        participants = []
        if session is not None and session.ended_at is None:
            for p in session.participants:
                known = previous.get(p.session_id)
                participant = known or Participant(p.session_id, p.user, p.role.value, p.joined_at)
                participant.user = p.user
                participant.published = dict(p.published)
                if participant.published.get("audio") is False:
                    participant.audio_level = 0.0  # a muted microphone sends nothing to measure
                participant.is_local = p.session_id == self.local_session_id
                participants.append(participant)
        self.participants_.set(participants)
        speaker = self.dominant_speaker
        if speaker is not None and speaker not in participants:
            self.dominant_speaker_.set(None)
        # Last: whoever hears of the new call finds its participants (and what each
        # publishes) already current.
        self.call_.set(call)
        return True

    def apply_members(self, members: list[MemberResponse]) -> None:
        self.members_.set(list(members))

    def merge_members(self, changed: list[MemberResponse]) -> None:
        by_id = {m.user_id: m for m in self.members}
        for member in changed:
            by_id[member.user_id] = member
        self.members_.set(list(by_id.values()))

    def remove_members(self, user_ids: list[str]) -> None:
        self.members_.set([m for m in self.members if m.user_id not in set(user_ids)])

    def apply_capabilities(self, capabilities: list[Any]) -> None:
        self.own_capabilities_.set([Permission(c) for c in capabilities])
