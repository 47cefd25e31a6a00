"""The coordinator on this computer: a child process the app starts when no server is
configured, with open sign-up, SQLite in the user data directory, and the echo bot
beside it. Both stop with the app.

The app mints tokens through ``parley-coordinator token`` (same data directory, same
secret): sign-up hands out a user id once, and this is the user's own machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

ECHO_USER = "echo"
ECHO_NAME = "Echo test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalServerError(Exception):
    pass


class LocalServer:
    def __init__(self, data_dir: Path | None = None, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        if data_dir is not None:
            self.env["PARLEY_DATA_DIR"] = str(data_dir)
        self._server: asyncio.subprocess.Process | None = None
        self._bot: asyncio.subprocess.Process | None = None

    async def _command(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "desktop_app.coordinator",
            *args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise LocalServerError(err.decode(errors="replace").strip().splitlines()[-1:])
        return out.decode().strip()

    async def start(self, startup_seconds: float = 30.0) -> None:
        self._server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "desktop_app.coordinator",
            "serve",
            "--port",
            str(self.port),
            "--open-sign-up",
            "--log-level",
            "warning",
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        deadline = asyncio.get_running_loop().time() + startup_seconds
        async with httpx.AsyncClient(timeout=1.0) as http:
            while True:
                if self._server.returncode is not None:
                    assert self._server.stderr is not None
                    err = (await self._server.stderr.read()).decode(errors="replace")
                    raise LocalServerError(f"The local server stopped: {err.strip()[-300:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise LocalServerError("The local server did not start in time.")
                await asyncio.sleep(0.1)

    async def token(self, user_id: str) -> str:
        return await self._command("token", user_id)

    async def start_echo_bot(self) -> None:
        token = await self.token(ECHO_USER)
        self._bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "desktop_app.sdk.bot",
            "--server",
            self.base_url,
            "--user",
            ECHO_USER,
            "--name",
            ECHO_NAME,
            "--token",
            token,
            "--answer",
            "accept",
            "--echo",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self._bot.stdout is not None
        line = await asyncio.wait_for(self._bot.stdout.readline(), 30)
        if b"ready" not in line:
            raise LocalServerError("The echo bot did not start.")

    async def stop(self) -> None:
        for process in (self._bot, self._server):
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except TimeoutError:
                    process.kill()
        self._bot = self._server = None
