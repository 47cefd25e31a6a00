"""A slow answer shows the spinner (after 300 ms, never for a fast one) and the window
keeps working meanwhile; a failure becomes a sentence."""

from __future__ import annotations

import asyncio

from desktop_app.sdk.errors import ConnectionFailed
from desktop_app.ui.tasks import Runner
from tests.ui.support import eventually


async def test_the_spinner_shows_only_for_slow_work_and_errors_are_sentences() -> None:
    runner = Runner()
    busy: list[bool] = []
    failures: list[str] = []
    runner.busy.connect(busy.append)
    runner.failed.connect(failures.append)

    results: list[int] = []
    runner.run(asyncio.sleep(0.05, result=1), on_done=results.append)
    await eventually(lambda: results == [1], what="fast work")
    assert True not in busy, "no spinner for a fast answer"

    ticks = 0

    async def slow() -> int:
        await asyncio.sleep(0.6)
        return 2

    runner.run(slow(), on_done=results.append)
    while not results[1:]:
        ticks += 1  # the loop (and so the window) keeps running meanwhile
        await asyncio.sleep(0.01)
    assert busy[-2:] == [True, False] and ticks > 20

    async def unreachable() -> None:
        raise ConnectionFailed("refused")

    runner.run(unreachable())
    await eventually(lambda: failures, what="the sentence")
    assert failures[0].startswith("The server can't be reached")
