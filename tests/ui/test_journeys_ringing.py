"""Journeys of ringing, walked through the real app's widgets against a real coordinator,
with bots in their own processes and other people as SDK clients:

* the caller sees how each callee's ring ended — declined, busy, no answer, not reachable;
* a ring nobody answers leaves a missed-call notice, and "Call back" rings again;
* closing "Calling…" (Esc or its close button) cancels the ring for the callee;
* answering while the window is minimized brings the call to the front;
* a closed window keeps Parley in the tray: rings still reach it, Do not disturb refuses
  them as busy, Quit quits;
* recent calls tell answered, declined, cancelled and missed calls apart, and call back.

Rings of these tests time out after 5 s (the call type's setting), not 15.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from desktop_app.sdk import Call, CallingState, VideoClient
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.views.ring_dialogs import OutgoingRingDialog
from tests.support.coordinator import unique
from tests.ui.conftest import BotFactory, SessionFactory, UiCoordinator
from tests.ui.support import bot_line, eventually

UserFactory = Callable[..., Awaitable[VideoClient]]


async def _outgoing(window: Any) -> OutgoingRingDialog:
    return await eventually(  # type: ignore[no-any-return]
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None,
        what="Calling…",
    )


async def _popup(window: Any) -> Any:
    return await eventually(
        lambda: window.incoming if window.incoming and window.incoming.isVisible() else None,
        timeout=10,
        what="the incoming popup",
    )


def _recent_rows(window: Any) -> list[str]:
    return [window.home.recent.item(i).text() for i in range(window.home.recent.count())]


class TrayMessages:
    """What the tray said (``showMessage`` draws nothing the test could read)."""

    def __init__(self, window: Any) -> None:
        self.shown: list[tuple[str, str]] = []
        window.tray.showMessage = lambda title, text, *_: self.shown.append((title, text))


async def test_calling_shows_declined_busy_no_answer_and_not_reachable(
    coordinator: UiCoordinator,
    signed_in: SessionFactory,
    window_for: Any,
    bot: BotFactory,
    sdk_user: UserFactory,
) -> None:
    coordinator.short_rings(5)
    away = await sdk_user("una")  # signed up once, not running now
    await away.disconnect()
    await bot("robin", "--answer", "reject")
    await bot("sam", "--answer", "busy")
    await bot("tom", "--answer", "ignore")
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)))
    window.show_home()
    await eventually(lambda: window.home.people.count() >= 4, what="people listed")

    window.home.ring_requested.emit(["robin", "sam", "tom", "una"], True)
    assert window.lobby.join.text() == "Ring"
    window.lobby.join.click()
    dialog = await _outgoing(window)
    await eventually(
        lambda: (
            {("Robin", "declined"), ("Sam", "busy"), ("Una", "not reachable")}
            <= set(dialog.callee_states())
        ),
        what="declined, busy and not reachable while Tom still rings",
    )
    assert ("Tom", "ringing…") in dialog.callee_states()
    await eventually(lambda: dialog.finished_ringing, timeout=10, what="the ring over")
    assert dialog.isVisible(), "the outcome stays for a moment"
    assert dialog.title.text() == "No answer" and dialog.cancel.text() == "Close"
    assert ("Tom", "no answer") in dialog.callee_states()
    assert ("Una", "not reachable") in dialog.callee_states()
    await eventually(lambda: not dialog.isVisible(), timeout=8, what="it closes by itself")
    assert window.stack.currentWidget() is window.home
    rows = await eventually(
        lambda: [r for r in _recent_rows(window) if "Robin" in r], what="the history row"
    )
    assert rows[0].startswith("↗ ") and " · no answer · " in rows[0], rows


async def test_a_ring_nobody_answers_leaves_a_missed_call_and_call_back_rings_again(
    coordinator: UiCoordinator, signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    coordinator.short_rings(5)
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)), tray=True)
    tray = TrayMessages(window)
    window.show_home()
    window.showMinimized()  # not looking: the tray says it too
    robin = await bot("robin", "--ring", "alice")
    popup = await _popup(window)
    assert "Robin is calling" in popup.who.text()
    await eventually(lambda: not popup.isVisible(), timeout=10, what="the ring over")

    await eventually(lambda: window.home.missed_box.isVisible(), what="the missed-call notice")
    assert window.home.missed_text.text().startswith("Missed call from Robin")
    assert any("Missed call from Robin" in text for _title, text in tray.shown), tray.shown
    rows = await eventually(
        lambda: [r for r in _recent_rows(window) if "missed" in r], what="a missed row"
    )
    assert rows[0].startswith("↙ Robin · missed"), rows

    window.bring_to_front()
    window.home.call_back.click()
    assert not window.home.missed_box.isVisible()
    assert window.stack.currentWidget() is window.lobby
    assert window.lobby.subtitle.text() == "You are about to ring Robin."
    window.lobby.join.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="call back"
    )
    assert window.call_view.title.text() == "Call with Robin"
    await bot_line(robin, "receiving video from alice")
    window.call_view.leave.click()
    await eventually(lambda: window.stack.currentWidget() is window.home, what="home")


async def test_closing_calling_with_esc_or_its_close_button_cancels_the_ring(
    signed_in: SessionFactory, window_for: Any, sdk_user: UserFactory
) -> None:
    bob = await sdk_user("bob")
    window = window_for(await signed_in("alice", skip_lobby=True))
    window.show_home()
    for close in ("esc", "close button"):
        window.home.ring_requested.emit(["bob"], False)
        dialog = await _outgoing(window)
        call = dialog.call
        bobs: Call = await eventually(
            lambda c=call: bob.call(c.type, c.id) if bob.call(c.type, c.id).is_ringing_me else None,
            what="bob's ring",
        )
        if close == "esc":
            QTest.keyClick(dialog, Qt.Key.Key_Escape)
        else:
            dialog.close()  # what the window's close button does
        assert not dialog.isVisible()
        await eventually(lambda b=bobs: not b.is_ringing_me, what=f"cancelled by {close}")
        rejection = bobs.state.session.rejected_by.get("alice") if bobs.state.session else None
        assert rejection is not None and rejection.reason == "cancel", close
        await eventually(lambda c=call: c.state.calling_state is CallingState.LEFT, what="left")


async def test_answering_while_minimized_brings_the_call_to_the_front(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)))
    window.show_home()
    window.showMinimized()
    await eventually(lambda: window.isMinimized(), what="minimized")
    robin = await bot("robin", "--ring", "alice")
    popup = await _popup(window)
    popup.accept_video.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="the call"
    )
    assert not window.isMinimized() and window.isVisible()
    await bot_line(robin, "receiving video from alice")


async def test_a_closed_window_stays_in_the_tray_where_rings_reach_it_until_quit(
    coordinator: UiCoordinator,
    signed_in: SessionFactory,
    window_for: Any,
    bot: BotFactory,
    sdk_user: UserFactory,
) -> None:
    session = await signed_in("alice", devices=SyntheticDevices(height=120))
    window = window_for(session, tray=True)
    tray = TrayMessages(window)
    quit_signals: list[bool] = []
    window.closed.connect(lambda: quit_signals.append(True))
    window.show_home()

    window.close()
    assert not window.isVisible() and window.in_tray and not quit_signals
    assert session.client is not None, "still signed in and reachable"
    assert tray.shown[0][0] == "Parley is still running"
    assert session.preferences.tray_notice_shown
    window.bring_to_front()
    window.close()
    assert len(tray.shown) == 1, "the tray notice shows once"

    robin = await bot("robin", "--ring", "alice")
    popup = await _popup(window)
    assert any("Robin is calling" in text for _title, text in tray.shown), tray.shown
    popup.accept_video.click()
    await eventually(
        lambda: window.isVisible() and window.stack.currentWidget() is window.call_view,
        timeout=15,
        what="the call in front",
    )
    await bot_line(robin, "receiving video from alice")
    call_with_robin = window.call_view.call
    window.close()  # in a call: it asks first, never hides a call with camera and mic on
    assert window.isVisible() and window.leave_question is not None
    next(b for b in window.leave_question.buttons() if b.text() == "Leave the call").click()
    await eventually(lambda: not window.isVisible(), what="left, then to the tray")
    assert call_with_robin.state.calling_state is CallingState.LEFT and not quit_signals

    window.do_not_disturb.setChecked(True)
    sam = await sdk_user("sam")
    call = sam.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "sam"}, {"user_id": "alice"}]}, ring=True
    )
    await eventually(
        lambda: call.state.ring is not None and call.state.ring.answers["alice"].reason == "busy",
        what="refused as busy",
    )
    await eventually(lambda: not window.home.missed_box.isHidden(), what="missed while away")
    assert (
        window.incoming is None
        or not window.incoming.isVisible()
        or (window.incoming.call is not call)
    )

    window.tray_menu.actions()[-1].trigger()  # Quit Parley
    assert quit_signals == [True]
    await asyncio.sleep(0)


async def test_recent_calls_tell_answered_declined_cancelled_and_missed_apart(
    coordinator: UiCoordinator,
    signed_in: SessionFactory,
    window_for: Any,
    sdk_user: UserFactory,
) -> None:
    coordinator.short_rings(5)
    bob = await sdk_user("bob")
    window = window_for(await signed_in("alice", skip_lobby=True))
    window.show_home()

    async def bob_rings() -> Call:
        call = bob.call("default", unique())
        await call.get_or_create(
            data={"members": [{"user_id": "bob"}, {"user_id": "alice"}]}, ring=True
        )
        return call

    answered = await bob_rings()
    (await _popup(window)).accept_audio.click()
    await eventually(lambda: window.stack.currentWidget() is window.call_view, what="in call")
    await asyncio.sleep(1.2)
    await answered.leave()
    window.call_view.leave.click()
    await eventually(lambda: window.stack.currentWidget() is window.home, what="home")

    await bob_rings()
    (await _popup(window)).reject_button.click()

    window.home.ring_requested.emit(["bob"], True)
    (await _outgoing(window)).cancel.click()

    missed = await bob_rings()
    await eventually(lambda: not missed.state.ringing, timeout=10, what="a ring nobody answered")

    window.home.refresh_calls()

    def settled() -> list[str] | None:
        """Four rows, none still ringing here (the last ring's end may reach this client a
        moment after it reached bob's; rows follow their calls)."""
        rows = _recent_rows(window)
        return rows if len(rows) >= 4 and not any("ringing now" in r for r in rows) else None

    rows = await eventually(settled, timeout=10, what="four settled rows")
    outcomes = [row.split(" · ")[1] for row in rows[:4]]
    assert outcomes == ["missed", "cancelled", "declined", "answered"], rows
    assert rows[0].startswith("↙ Bob") and rows[1].startswith("↗ Bob"), rows
    assert rows[3].endswith(" s"), f"an answered call says how long it was: {rows[3]}"
    assert len(set(rows)) == 4

    window.home._recent_chosen(window.home.recent.item(2))  # double-click: call back
    await eventually(lambda: window.outgoing and window.outgoing.isVisible(), what="ringing bob")
    assert window.outgoing.call.state.members and {
        m.user_id for m in window.outgoing.call.state.members
    } == {"alice", "bob"}
    assert window.outgoing.call.id != missed.id, "a new call, not the old one"
