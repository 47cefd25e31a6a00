"""Other people as ``parley-bot`` processes in the test's namespace: each has a
process (and a core's share) of its own, as people's computers do — a handful of full
clients in the test's one process would drown its event loop and drop packets."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable

from tests.net.scene import Lines
from tests.support.coordinator import RunningCoordinator
from tests.support.janus import MediaLan


class Bot:
    def __init__(
        self, lan: MediaLan, coordinator: RunningCoordinator, user: str, *args: str
    ) -> None:
        self.user = user
        command = [
            sys.executable, "-m", "desktop_app.sdk.bot", "--server", coordinator.base_url,
            "--user", user, "--name", user.title(), "--height", "120", "--fps", "15", "--debug", *args,
        ]  # fmt: skip
        env = {**os.environ, "PARLEY_BOT_TOKEN": coordinator.user_token(user)}
        self.process = lan.popen(
            lan.ns, command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.output = Lines(self.process)

    async def line(
        self, text: str | Callable[[str], bool], seconds: float = 30.0, after: int = 0
    ) -> str:
        """The first line (from ``after`` on) with ``text`` — waited for without blocking
        the test's own event loop."""
        matches = text if callable(text) else (lambda line: text in line)
        deadline = time.monotonic() + seconds
        while True:
            found = next((ln for ln in self.output.lines[after:] if matches(ln)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline or self.process.poll() is not None:
                tail = "\n".join(self.output.lines[-30:])
                raise AssertionError(f"{self.user}: no line with {text!r}:\n{tail}")
            await asyncio.sleep(0.1)

    def mark(self) -> int:
        return self.output.mark()

    def stop(self) -> None:
        """As closing the app does: it leaves its call, then goes."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
