"""The incoming popup appears on a ring, Accept joins, Reject declines, and it closes by
itself on cancel, timeout, or an answer on another device; the outgoing dialog follows the
callees and turns into the call on the first accept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop_app.sdk import Call, CallingState, VideoClient
from desktop_app.ui.views.ring_dialogs import IncomingRingDialog, OutgoingRingDialog
from tests.support.coordinator import unique
from tests.ui.conftest import SessionFactory
from tests.ui.support import eventually

UserFactory = Callable[..., Awaitable[VideoClient]]


async def _ring_alice(bob: VideoClient, timeout_ms: int | None = None) -> Call:
    call = bob.call("default", unique())
    data: dict[str, Any] = {"members": [{"user_id": "bob"}, {"user_id": "alice"}]}
    if timeout_ms is not None:
        data["settings_override"] = {
            "ring": {"incoming_call_timeout_ms": timeout_ms, "auto_cancel_timeout_ms": timeout_ms}
        }
    await call.get_or_create(data=data, ring=True)
    return call


async def _popup(window: Any) -> IncomingRingDialog:
    return await eventually(  # type: ignore[no-any-return]
        lambda: window.incoming if window.incoming and window.incoming.isVisible() else None,
        timeout=5,
        what="the incoming popup",
    )


async def test_accept_joins_and_the_call_view_shows_both(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice"))
    bob = await sdk_user("bob")
    bobs_call = await _ring_alice(bob)
    popup = await _popup(window)
    assert popup.who.text() == "Bob is calling" and popup.kind.text() == "Video call"
    popup.accept_video.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=10, what="call view"
    )
    await eventually(lambda: bobs_call.state.calling_state is CallingState.JOINED, what="bob joins")
    await eventually(lambda: len(window.call_view.tiles) == 2, timeout=10, what="two tiles")
    assert not popup.isVisible()


async def test_audio_only_accept_joins_with_the_camera_off(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    session = await signed_in("alice")
    window = window_for(session)
    bob = await sdk_user("bob")
    bobs_call = await _ring_alice(bob)
    popup = await _popup(window)
    popup.accept_audio.click()
    await eventually(
        lambda: popup.call.state.calling_state is CallingState.JOINED, timeout=10, what="joined"
    )
    assert not popup.call.camera.enabled and popup.call.microphone.enabled
    await eventually(
        lambda: any(
            p.user.id == "alice" and p.published.get("video") is False
            for p in bobs_call.state.participants
        ),
        what="bob sees alice's camera off",
    )


async def test_reject_declines(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice"))
    bob = await sdk_user("bob")
    bobs_call = await _ring_alice(bob)
    popup = await _popup(window)
    popup.reject_button.click()
    await eventually(
        lambda: (s := bobs_call.state.session) is not None and "alice" in s.rejected_by,
        what="rejected",
    )
    session = bobs_call.state.session
    assert session is not None and session.rejected_by["alice"].reason == "decline"
    assert not popup.isVisible()


async def test_esc_or_closing_the_popup_declines_and_the_next_ring_shows(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice"))
    bob = await sdk_user("bob")
    bobs_call = await _ring_alice(bob)
    popup = await _popup(window)
    QTest.keyClick(popup, Qt.Key.Key_Escape)
    await eventually(
        lambda: (s := bobs_call.state.session) is not None and "alice" in s.rejected_by,
        what="Esc declined",
    )
    assert not popup.isVisible()
    second = await _ring_alice(bob)
    popup = await _popup(window)
    assert popup.call.cid == second.cid
    popup.close()  # the window's close button
    await eventually(
        lambda: (s := second.state.session) is not None and "alice" in s.rejected_by,
        what="closing declined",
    )
    assert second.state.session is not None
    assert second.state.session.rejected_by["alice"].reason == "decline"


async def test_the_popup_closes_on_cancel_timeout_and_answer_elsewhere(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice"))
    bob = await sdk_user("bob")

    bobs_call = await _ring_alice(bob)  # bob cancels
    popup = await _popup(window)
    await bobs_call.leave(reject=True, reason="cancel")
    await eventually(lambda: not popup.isVisible(), what="closed on cancel")

    await _ring_alice(bob, timeout_ms=5000)  # nobody answers
    popup = await _popup(window)
    await eventually(lambda: not popup.isVisible(), timeout=10, what="closed on timeout")

    alices_phone = await sdk_user("alice")  # alice's other device answers
    bobs_call = await _ring_alice(bob)
    popup = await _popup(window)
    other = await eventually(
        lambda: (
            alices_phone.call(bobs_call.type, bobs_call.id)
            if alices_phone.call(bobs_call.type, bobs_call.id).is_ringing_me
            else None
        ),
        what="the phone rings too",
    )
    await other.reject("decline")
    await eventually(lambda: not popup.isVisible(), what="closed: answered elsewhere")


async def test_the_outgoing_dialog_follows_callees_and_turns_into_the_call(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    session = await signed_in("alice")
    window = window_for(session)
    bob = await sdk_user("bob")
    carol = await sdk_user("carol")
    window.home.ring_requested.emit(["bob", "carol"], True)
    assert window.stack.currentWidget() is window.lobby
    window.lobby.join.click()
    dialog: OutgoingRingDialog = await eventually(
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None,
        what="outgoing dialog",
    )
    assert sorted(dialog.callee_states()) == [("Bob", "ringing…"), ("Carol", "ringing…")]
    call = dialog.call
    carols = await eventually(
        lambda: (
            carol.call(call.type, call.id) if carol.call(call.type, call.id).is_ringing_me else None
        ),
        what="carol rings",
    )
    await carols.reject("decline")
    await eventually(
        lambda: ("Carol", "declined") in dialog.callee_states(), what="carol declined shown"
    )
    bobs = await eventually(
        lambda: (
            bob.call(call.type, call.id) if bob.call(call.type, call.id).is_ringing_me else None
        ),
        what="bob rings",
    )
    await bobs.join()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=10, what="call view"
    )
    assert not dialog.isVisible()


async def test_cancel_in_the_outgoing_dialog_stops_the_ring(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice", skip_lobby=True))
    bob = await sdk_user("bob")
    window.home.ring_requested.emit(["bob"], False)
    dialog: OutgoingRingDialog = await eventually(
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None,
        what="outgoing dialog (lobby skipped)",
    )
    bobs = await eventually(
        lambda: (
            bob.call(dialog.call.type, dialog.call.id)
            if bob.call(dialog.call.type, dialog.call.id).is_ringing_me
            else None
        ),
        what="bob rings",
    )
    dialog.cancel.click()
    await eventually(
        lambda: bobs.state.calling_state is CallingState.IDLE, what="bob stops ringing"
    )
    assert not dialog.isVisible()


async def test_a_notify_call_shows_a_notice_with_join(
    signed_in: SessionFactory, sdk_user: UserFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice", skip_lobby=True))
    bob = await sdk_user("bob")
    call = bob.call("default", unique())
    await call.join(
        create=True, data={"members": [{"user_id": "bob"}, {"user_id": "alice"}]}, notify=True
    )
    notice = await eventually(
        lambda: window.notice if window.notice and window.notice.isVisible() else None,
        timeout=5,
        what="the notice",
    )
    assert "Bob started a call" in notice.text()
    join = next(b for b in notice.buttons() if b.text() == "Join")
    join.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=10, what="joined"
    )
    assert window.call_view.call is not None and window.call_view.call.cid == call.cid
