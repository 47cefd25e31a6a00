"""Journeys that broke for a new user, walked through the real app's widgets against a real
coordinator, with bots in their own processes and another person as an SDK client.

* The app rings two bots: no "X is calling" popup of its own ring ever shows; when the
  first accepts the app is in the call; the second accepts later and both pictures move.
* The app rings a bot that declines and one that answers later: "Calling…" says who
  declined; the call follows.
* Camera off and on ten times with the call view's button: after each "on" the other side
  gets fresh frames within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiortc.mediastreams import MediaStreamTrack
from PySide6.QtGui import QImage

from desktop_app.media.synthetic import read_frame_counter
from desktop_app.sdk import CallingState
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.widgets.video_tile import VideoTile
from tests.support.coordinator import unique
from tests.ui.conftest import BotFactory, SessionFactory
from tests.ui.support import bot_line, eventually


def _tile(window: Any, name: str) -> VideoTile | None:
    return next((t for t in window.call_view.tiles.values() if t.name == name), None)


async def _moving_picture(tile: VideoTile) -> None:
    await eventually(lambda: tile.frames_painted > 3, timeout=15, what="painted frames")
    first: QImage = tile.grab().toImage()
    await asyncio.sleep(0.3)
    assert tile.grab().toImage() != first, "the picture changes from frame to frame"


async def test_the_app_rings_two_bots_and_never_rings_itself(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    session = await signed_in("alice", devices=SyntheticDevices(height=240))
    window = window_for(session)
    window.resize(1000, 700)
    window.show_home()
    popups: list[object] = []
    session.incoming_ring.connect(popups.append)
    robin = await bot("robin", "--answer", "accept")
    sam = await bot("sam", "--answer", "accept", "--answer-after", "2")

    window.home.ring_requested.emit(["robin", "sam"], True)
    window.lobby.join.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="call view"
    )
    call = window.call_view.call
    assert call.state.calling_state is CallingState.JOINED
    for name in ("Robin", "Sam"):
        tile = await eventually(lambda n=name: _tile(window, n), timeout=15, what=f"{name}'s tile")
        await _moving_picture(tile)
    await bot_line(robin, "receiving video from alice")
    await bot_line(sam, "receiving video from alice")
    await bot_line(robin, "receiving video from sam")
    assert not popups, "the caller was never shown its own ring"
    assert window.incoming is None or not window.incoming.isVisible()
    window.call_view.leave.click()
    await eventually(lambda: call.state.calling_state is CallingState.LEFT, what="left")
    await eventually(lambda: not call.camera.enabled, what="the peers and devices closed")


async def test_calling_shows_who_declined_and_the_call_follows(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    session = await signed_in("alice", devices=SyntheticDevices(height=240))
    window = window_for(session)
    window.show_home()
    await bot("robin", "--answer", "reject")
    await bot("sam", "--answer", "accept", "--answer-after", "2.5")

    window.home.ring_requested.emit(["robin", "sam"], True)
    window.lobby.join.click()
    dialog = await eventually(lambda: window.outgoing, what="the Calling… dialog")
    await eventually(
        lambda: ("Robin", "declined") in dialog.callee_states(), what="robin declined shown"
    )
    assert ("Sam", "ringing…") in dialog.callee_states()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="call view"
    )
    await eventually(lambda: _tile(window, "Sam"), timeout=15, what="sam's tile")
    window.call_view.leave.click()


async def _drain(track: MediaStreamTrack) -> None:
    with contextlib.suppress(TimeoutError):
        while True:
            await asyncio.wait_for(track.recv(), 0.05)


async def test_camera_off_and_on_ten_times_in_the_app(
    signed_in: SessionFactory, window_for: Any, sdk_user: Any
) -> None:
    session = await signed_in("alice", devices=SyntheticDevices(height=240))
    window = window_for(session)
    bob = await sdk_user("bob", devices=SyntheticDevices(height=120))
    assert session.client is not None
    call = session.client.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    window.show_call(call)
    bobs = bob.call("default", call.id)
    await bobs.join()
    alice = await eventually(
        lambda: next(
            (p for p in bobs.state.participants if p.user.id == "alice" and p.video_track), None
        ),
        timeout=10,
        what="alice's video at bob",
    )
    video = alice.video_track
    for turn in range(10):
        window.call_view.camera.click()  # off
        await eventually(lambda: not call.camera.enabled, what="camera off")
        await asyncio.sleep(0.3 if turn % 2 else 0.05)
        await _drain(video)
        window.call_view.camera.click()  # on
        await eventually(lambda: call.camera.enabled, what="camera on")
        first = read_frame_counter(await asyncio.wait_for(video.recv(), 1.0))
        second = read_frame_counter(await asyncio.wait_for(video.recv(), 1.0))
        assert second > first, f"fresh frames after turning the camera on ({turn + 1})"
    own_tile = next(t for t in window.call_view.tiles.values() if t.name == "Alice (you)")
    painted = own_tile.frames_painted
    await eventually(lambda: own_tile.frames_painted > painted + 3, what="own preview moves")
    await bobs.leave()
    await call.leave()
