"""``sdk/call_state.py``: which participant is us follows our session at once."""

from __future__ import annotations

from datetime import UTC, datetime

from desktop_app.protocol.users import UserResponse
from desktop_app.sdk.call_state import CallState, Participant

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _participant(session_id: str, user: str) -> Participant:
    return Participant(
        session_id, UserResponse(id=user, created_at=NOW, updated_at=NOW), "user", NOW
    )


def test_a_rejoins_next_session_is_us_as_soon_as_the_answer_names_it() -> None:
    """Rejoining, the event of our next session can come before the join's answer (whose
    older call is then not taken): once the answer names the session, it is us — not
    someone else called Alice beside an empty chair."""
    state = CallState("alice")
    state.local_session_id = "old"
    state.participants_.set([_participant("bob-1", "bob"), _participant("new", "alice")])
    assert not any(p.is_local for p in state.participants)
    told: list[list[Participant]] = []
    state.participants_.subscribe(told.append)

    state.set_local_session("new")

    assert [p.session_id for p in state.participants if p.is_local] == ["new"]
    assert told, "whoever shows the participants hears of it"
    told.clear()
    state.set_local_session("new")
    assert not told, "nothing changed: nothing said"
    state.set_local_session(None)  # left
    assert not any(p.is_local for p in state.participants)
