"""The coordinator on this computer: a child process the app starts when no server is
configured, with open sign-up, SQLite in the user data directory, and the echo bot
beside it. Both stop with the app.

* **A stable address.** The server listens on the same port every launch (the app
  remembers it), so an address someone saved keeps working; only when that port is taken
  does it move to a free one, and says so (``moved_from``).
* **Kept alive.** If the server process dies while the app runs, :meth:`keep_alive`
  starts it again on the same port (clients reconnect by themselves) and reports it.
* **Secrets stay out of ``ps``.** The echo bot gets its token through the environment.

Children are ``subprocess.Popen`` processes polled from the event loop rather than
asyncio subprocesses: asyncio's child watcher wakes the loop that started a child, and
the tests run one Qt loop after another (see ``tests/ui/support.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import platformdirs

from desktop_app.programs import command

log = logging.getLogger(__name__)

ECHO_USER = "echo"
ECHO_NAME = "Echo test"
#: The port tried first when the app has none remembered (then the one it got is kept).
DEFAULT_PORT = 47000


def port_is_free(port: int) -> bool:
    """Whether the server could listen on ``port`` now. Like the server itself, the probe
    allows address reuse: connections of the last run waiting out TIME_WAIT do not make
    the port taken (a relaunch within a minute would move it otherwise)."""
    with socket.socket() as probe:
        if sys.platform != "win32":  # there, reuse would let it bind over a listener
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalServerError(Exception):
    pass


class LocalServer:
    def __init__(self, data_dir: Path | None = None, port: int | None = None) -> None:
        wanted = port or DEFAULT_PORT
        #: The remembered port, when it was taken and the server had to move.
        self.moved_from: int | None = None
        if port_is_free(wanted):
            self.port = wanted
        else:
            self.port = free_port()
            self.moved_from = wanted
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        if data_dir is not None:
            self.env["PARLEY_DATA_DIR"] = str(data_dir)
        self._server: subprocess.Popen[bytes] | None = None
        self._bot: subprocess.Popen[bytes] | None = None
        self._bot_output: Path | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False
        #: The server's own log (a pipe nobody reads would fill up and stall it).
        self.log_path = Path(platformdirs.user_log_dir("parley")) / "local-server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.poll() is None

    def _serve(self) -> subprocess.Popen[bytes]:
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log_file:
            return subprocess.Popen(
                [
                    *command("coordinator"),
                    "serve",
                    "--port",
                    str(self.port),
                    "--open-sign-up",
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )

    async def start(self, startup_seconds: float = 30.0) -> None:
        self._server = self._serve()
        try:
            await self._until_healthy(self._server, startup_seconds)
        except LocalServerError:
            self._end(self._server)  # one that hangs must not keep the port
            raise

    def move_to_free_port(self) -> None:
        """Use another port from now on (the remembered one could not be listened on)."""
        self.moved_from = self.moved_from or self.port
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _end(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.kill()
            process.wait(5)

    async def _until_healthy(self, server: subprocess.Popen[bytes], seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        async with httpx.AsyncClient(timeout=1.0) as http:
            while True:
                if server.poll() is not None:
                    with self.log_path.open("rb") as log_file:
                        log_file.seek(self._log_start)
                        err = log_file.read().decode(errors="replace")
                    raise LocalServerError(f"The local server stopped: {err.strip()[-300:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base_url}/healthz")).status_code == 200:
                        return
                if loop.time() > deadline:
                    raise LocalServerError("The local server did not start in time.")
                await asyncio.sleep(0.1)

    def keep_alive(
        self, on_down: Callable[[], None], on_up: Callable[[], None], poll_seconds: float = 0.5
    ) -> None:
        """Watch the server; when it dies, say so, start it again and say so."""

        async def watch() -> None:
            while not self._stopping:
                await asyncio.sleep(poll_seconds)
                if self._stopping or self._server is None or self._server.poll() is None:
                    continue
                log.warning(
                    "the local server stopped (exit %s); restarting it", self._server.returncode
                )
                on_down()
                while not self._stopping:
                    try:
                        await self.start()
                    except LocalServerError as error:
                        log.warning("restarting the local server failed: %s", error)
                        await asyncio.sleep(2)
                        continue
                    on_up()
                    break

        self._keeper = asyncio.ensure_future(watch())

    async def token(self, user_id: str) -> str:
        """Mint a token for ``user_id`` (same data directory, same secret): for the app's
        own echo bot only — people get theirs from sign-up."""
        result = await asyncio.to_thread(
            subprocess.run,
            [*command("coordinator"), "token", user_id],
            env=self.env,
            capture_output=True,
        )
        if result.returncode != 0:
            lines = result.stderr.decode(errors="replace").strip().splitlines()
            raise LocalServerError(lines[-1] if lines else "could not mint a token")
        return result.stdout.decode().strip()

    async def start_echo_bot(self) -> None:
        env = dict(self.env, PARLEY_BOT_TOKEN=await self.token(ECHO_USER))
        output = self._bot_output = self.log_path.with_name("echo-bot.log")
        with output.open("wb") as sink:
            self._bot = subprocess.Popen(  # noqa: ASYNC220 - polled (module docstring)
                [
                    *command("bot"),
                    "--server",
                    self.base_url,
                    "--user",
                    ECHO_USER,
                    "--name",
                    ECHO_NAME,
                    "--answer",
                    "accept",
                    "--echo",
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.DEVNULL,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while b"ready" not in output.read_bytes():
            if self._bot.poll() is not None or loop.time() > deadline:
                raise LocalServerError("The echo bot did not start.")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self._stopping = True
        if self._keeper is not None:
            self._keeper.cancel()
            try:
                await self._keeper
            except asyncio.CancelledError:
                pass
            except Exception as error:  # how the watcher ended does not matter any more
                # (seen in tests, where several qasync loops share one Qt dispatcher and a
                # cancelled sleep can wake where no loop runs: "no running event loop")
                log.debug("the local server's watcher ended with %r", error)
            self._keeper = None
        for process in (self._bot, self._server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    await asyncio.to_thread(process.wait, 5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    await asyncio.to_thread(process.wait, 5)
        self._bot = self._server = None
