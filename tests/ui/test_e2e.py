"""The whole product: the app (real widgets) rings a headless bot in its own process that
accepts, and the bot's picture moves in the call view; then another bot rings the app, the
popup is accepted with a click, and both sides see each other."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtGui import QImage

from desktop_app.sdk import CallingState
from desktop_app.ui.widgets.video_tile import VideoTile
from tests.ui.conftest import BotFactory, SessionFactory
from tests.ui.support import bot_line, eventually


def _pixels(tile: VideoTile) -> QImage:
    return tile.grab().toImage()


async def _moving_picture(tile: VideoTile) -> None:
    await eventually(lambda: tile.frames_painted > 3, timeout=15, what="painted frames")
    first = _pixels(tile)
    await asyncio.sleep(0.3)
    assert _pixels(tile) != first, "the picture changes from frame to frame"


async def test_the_app_rings_a_bot_and_a_bot_rings_the_app(
    signed_in: SessionFactory, window_for: Any, bot: BotFactory
) -> None:
    session = await signed_in("alice")
    window = window_for(session)
    window.resize(1000, 700)
    window.show_home()
    answering = await bot("robin", "--answer", "accept")

    window.home.ring_requested.emit(["robin"], True)
    window.lobby.join.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="call view"
    )
    robins_tile = await eventually(
        lambda: next((t for t in window.call_view.tiles.values() if t.name == "Robin"), None),
        timeout=10,
        what="robin's tile",
    )
    await _moving_picture(robins_tile)
    await bot_line(answering, "receiving video from alice")
    call = window.call_view.call
    window.call_view.leave.click()
    await eventually(lambda: call.state.calling_state is CallingState.LEFT, what="left")
    await eventually(lambda: window.stack.currentWidget() is window.home, what="home again")

    ringing = await bot("sam", "--ring", "alice", "--answer", "ignore")
    popup = await eventually(
        lambda: window.incoming if window.incoming and window.incoming.isVisible() else None,
        timeout=10,
        what="the incoming popup",
    )
    assert popup.who.text() == "Sam is calling"
    popup.accept_video.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.call_view, timeout=15, what="call view"
    )
    sams_tile = await eventually(
        lambda: next((t for t in window.call_view.tiles.values() if t.name == "Sam"), None),
        timeout=10,
        what="sam's tile",
    )
    await _moving_picture(sams_tile)
    await bot_line(ringing, "receiving video from alice")
    window.call_view.leave.click()
    await eventually(lambda: window.stack.currentWidget() is window.home, what="home at the end")
