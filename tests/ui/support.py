"""Waiting in Qt tests without a nested event loop; bots in their own processes.

Bots are started with ``subprocess.Popen`` and print into a file that the test reads:
asyncio's subprocess support watches children from a thread that wakes the loop that
started them, and with one qasync loop per test a child that ends after its test has
woken a loop that was gone (a crash in Qt, now and then)."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.sdk.support import eventually

__all__ = ["BotProcess", "bot_line", "eventually"]


@dataclass
class BotProcess:
    process: subprocess.Popen[bytes]
    output: Path
    #: How much of the output has been read.
    read: int = field(default=0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


async def bot_line(bot: BotProcess, text: str, timeout: float = 30) -> str:
    """The next line the bot prints that contains ``text``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        content = bot.output.read_text()
        lines = content[bot.read :].splitlines(keepends=True)
        for line in lines:
            if not line.endswith("\n"):
                break  # not written whole yet
            bot.read += len(line)
            if text in line:
                return line
        if bot.process.poll() is not None and bot.read >= len(bot.output.read_text()):
            raise AssertionError(f"the bot ended before saying {text!r}")
        if loop.time() > deadline:
            raise AssertionError(f"the bot did not say {text!r} within {timeout} s")
        await asyncio.sleep(0.05)
