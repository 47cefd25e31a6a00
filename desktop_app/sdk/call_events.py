"""What each event of the protocol means to a call's own state — members, the media
session's peers, notifications — before the call's state machine decides the rest. One
entry per event type: the ``CallEventType`` literal makes a misspelt type a type error,
and a test keeps the table whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from desktop_app.protocol.events import CallEventType

if TYPE_CHECKING:
    from .call import Call


def _members_changed(call: Call, event: Any) -> None:
    call.state.merge_members(list(event.members))


def _members_removed(call: Call, event: Any) -> None:
    call.state.remove_members(list(event.members))


def _participant_joined(call: Call, event: Any) -> None:
    call.media_session.participant_joined(event.participant.session_id)


def _participant_left(call: Call, event: Any) -> None:
    call.media_session.participant_left(event.participant.session_id)


def _signal(call: Call, event: Any) -> None:
    call.media_session.signal(event)


def _notification(call: Call, event: Any) -> None:
    if event.user.id != call.context.user_id:
        call.context.listener.notified(call)


def _nothing(call: Call, event: Any) -> None:
    """The event's ``call`` (applied already) and the machine's view are all it means."""


#: Every event type of the protocol and what it means to the call's state (a test and the
#: ``CallEventType`` literal keep it whole: a misspelt type is a type error).
EVENT_HANDLERS: dict[CallEventType, Callable[[Call, Any], None]] = {
    "call.created": _members_changed,
    "call.updated": _nothing,
    "call.deleted": _nothing,
    "call.ended": _nothing,
    "call.member_added": _members_changed,
    "call.member_updated": _members_changed,
    "call.member_removed": _members_removed,
    "call.ring": _members_changed,
    "call.notification": _notification,
    "call.accepted": _nothing,
    "call.rejected": _nothing,
    "call.missed": _nothing,
    "call.live_started": _nothing,
    "call.live_stopped": _nothing,
    "call.session_started": _nothing,
    "call.session_ended": _nothing,
    "call.participant_joined": _participant_joined,
    "call.participant_left": _participant_left,
    "call.participant_updated": _nothing,
    "call.custom": _nothing,
    "call.signal": _signal,
}
