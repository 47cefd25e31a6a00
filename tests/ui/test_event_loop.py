"""The app's event loop (qasync with asyncio's ready queue): callbacks run in order, a
cancelled one never runs, one that fails does not stop the others, other threads reach
it, and Qt's own events still get their turns while callbacks keep coming."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer

from desktop_app.ui.event_loop import QtEventLoop


async def test_callbacks_run_in_order_without_the_cancelled_and_past_a_failing_one(
    qapp: object,
) -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, QtEventLoop)
    ran: list[int] = []
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    try:

        def fail() -> None:
            raise ValueError("a callback's own bug")

        for number in range(5):
            loop.call_soon(ran.append, number)
        loop.call_soon(fail)
        loop.call_soon(ran.append, 5).cancel()
        loop.call_soon(ran.append, 6)
        done = loop.create_future()
        loop.call_soon(done.set_result, None)
        await done
    finally:
        loop.set_exception_handler(None)
    assert ran == [0, 1, 2, 3, 4, 6]
    assert [type(p.get("exception")) for p in problems] == [ValueError]


async def test_qt_events_get_their_turn_while_callbacks_keep_coming(qapp: object) -> None:
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    # A coroutine that never waits for anything but itself (every step is a call_soon)
    # until Qt's timer fired: a loop that ran callbacks while any were queued would spin
    # here until the deadline.
    deadline = time.monotonic() + 5
    while not fired and time.monotonic() < deadline:  # noqa: ASYNC110 - the point of it
        await asyncio.sleep(0)
    assert fired, "Qt's timer never fired while callbacks kept coming"


async def test_other_threads_reach_the_loop(qapp: object) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    thread = threading.Thread(
        target=lambda: loop.call_soon_threadsafe(done.set_result, threading.current_thread().name)
    )
    thread.start()
    assert await asyncio.wait_for(done, 5) == thread.name
    thread.join()


async def test_a_call_soon_from_another_thread_still_runs_and_the_loop_goes_on(
    qapp: object,
) -> None:
    """As a Qt signal delivered on a device's thread does (no ``call_soon_threadsafe``)."""
    loop = asyncio.get_running_loop()
    ran: list[str] = []
    thread = threading.Thread(target=lambda: loop.call_soon(ran.append, "from a thread"))
    thread.start()
    thread.join()
    await asyncio.wait_for(_until(lambda: bool(ran)), 5)
    after = loop.create_future()
    loop.call_soon(after.set_result, True)
    assert await asyncio.wait_for(after, 5)


def test_what_is_queued_while_the_loop_stands_still_runs_when_it_runs(qapp: object) -> None:
    loop = QtEventLoop()
    try:
        ran: list[int] = []
        loop.call_soon(ran.append, 1)  # queued before the loop ever ran
        loop.run_until_complete(asyncio.sleep(0.01))
        assert ran == [1]
        loop.call_soon(ran.append, 2)  # between two runs
        assert ran == [1]
        loop.run_until_complete(asyncio.sleep(0.01))
        assert ran == [1, 2]
    finally:
        loop.close()


async def _until(check: Callable[[], bool]) -> None:
    while not check():  # noqa: ASYNC110 - a timer each time, through Qt
        await asyncio.sleep(0.01)
