"""Waiting in Qt tests without a nested event loop; reading what a bot process says."""

from __future__ import annotations

import asyncio

from tests.sdk.support import eventually

__all__ = ["bot_line", "eventually"]


async def bot_line(process: asyncio.subprocess.Process, text: str, timeout: float = 30) -> str:
    """The next line the bot prints that contains ``text``."""
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"the bot ended before saying {text!r}")
            if text in line:
                return line
