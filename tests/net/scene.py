"""A scene for network tests: the internet of ``tests/support/netns.py`` with a coordinator
and coturn on its public side (the coordinator mints TURN credentials for both of coturn's
transports), sites behind routers, and people in them played by ``parley-bot``
processes whose lines the test waits for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from desktop_app.coordinator.auth import create_user_token
from tests.support import coturn, netns

SECRET = "network-tests-secret-of-enough-length-for-hs256"
TURN_SECRET = "network-tests-turn-secret"
PORT = 3000
WAIT_SECONDS = 45.0


@dataclass(frozen=True)
class Side:
    nat: netns.Nat = "cone"
    firewall: netns.Firewall = None


class Lines:
    """A process's output lines, read as they come, each with when it came
    (``time.monotonic``)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.times: list[float] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self.times.append(time.monotonic())
                self._changed.notify_all()

    def mark(self) -> int:
        """Where the lines stand now: ``wait_for(…, after=mark)`` looks only later."""
        with self._changed:
            return len(self.lines)

    def wait_for(
        self,
        text: str | Callable[[str], bool],
        seconds: float = WAIT_SECONDS,
        after: int = 0,
    ) -> str:
        """The first line (from ``after`` on) containing ``text``, or for which it is true."""
        matches = text if callable(text) else (lambda line: text in line)
        deadline = time.monotonic() + seconds
        with self._changed:
            while True:
                found = next((line for line in self.lines[after:] if matches(line)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no line with {text!r} in {seconds:.0f} s:\n{tail}")
                self._changed.wait(min(left, 0.5))


class Person:
    def __init__(self, scene: Scene, user: str, host: netns.Host) -> None:
        self.scene, self.user, self.host = scene, user, host
        self.output: Lines | None = None

    def bot(self, *args: str) -> None:
        token = create_user_token(SECRET, self.user)
        command = [sys.executable, "-m", "desktop_app.sdk.bot", "--server", self.scene.url,
                   "--user", self.user, "--name", self.user.title(), *args]  # fmt: skip
        process = self.host.popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**self.scene.env, "PARLEY_BOT_TOKEN": token},
        )
        self.output = Lines(process)
        self.output.wait_for(f"{self.user} is ready")

    def app(self) -> None:
        """Parley's own window for this person (``tests/net/app_person.py``), offscreen,
        with settings of its own; it answers the first ring. Its screenshots go to
        ``scene.shots``."""
        home = self.scene.work / self.user
        command = [sys.executable, "-m", "tests.net.app_person", "--server", self.scene.url,
                   "--user", self.user, "--shots", str(self.scene.shots)]  # fmt: skip
        env = {
            **self.scene.env,
            "PARLEY_TEST_TOKEN": create_user_token(SECRET, self.user),
            "QT_QPA_PLATFORM": "offscreen",
            "PARLEY_CONFIG_DIR": str(home / "config"),
            "PARLEY_DATA_DIR": str(home / "data"),
            "PARLEY_INSTANCE": f"parley-net-test-{self.user}-{os.getpid()}",
        }
        process = self.host.popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
        self.output = Lines(process)
        self.output.wait_for(f"{self.user} is ready")

    def screenshot(self, name: str) -> Path:
        """The app's window now, as ``scene.shots/NAME.png``."""
        assert self.output is not None and self.output.process.stdin is not None
        mark = self.mark()
        self.output.process.stdin.write(f"shot {name}\n")
        self.output.process.stdin.flush()
        self.wait_for(f"saved {name}", 10, mark)
        return self.scene.shots / f"{name}.png"

    def wait_for(
        self, text: str | Callable[[str], bool], seconds: float = WAIT_SECONDS, after: int = 0
    ) -> str:
        assert self.output is not None
        return self.output.wait_for(text, seconds, after)

    def mark(self) -> int:
        assert self.output is not None
        return self.output.mark()

    def when(self, line: str, after: int = 0) -> float:
        """When ``line`` (one ``wait_for(…, after=after)`` returned) arrived: the first
        such line from ``after`` on, as ``wait_for`` found it (report lines repeat)."""
        assert self.output is not None
        return self.output.times[self.output.lines.index(line, after)]

    def path_to(self, other: str) -> str:
        """``direct udp``, ``relayed tcp`` … as this person's bot reported it."""
        line = self.wait_for(f"connected to {other}:")
        return line.split(f"connected to {other}: ", 1)[1].split(" (", 1)[0]

    def said(self) -> str:
        return "\n".join(self.output.lines[-60:]) if self.output else ""


class Scene:
    #: Where the app's screenshots go (a build folder: they are for people to look at).
    shots = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "network"

    def __enter__(self) -> Scene:
        self.net = netns.Internet().__enter__()
        self.work = Path(tempfile.mkdtemp(prefix="parley-net-"))
        self.url = f"http://{netns.PUBLIC}:{PORT}"
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.work)}
        try:
            self._turn = coturn.coturn(TURN_SECRET, host=netns.PUBLIC, netns=self.net.public)
            self.turn = self._turn.__enter__()
            coordinator = [
                sys.executable, "-m", "desktop_app.coordinator", "serve",
                "--host", netns.PUBLIC, "--port", str(PORT), "--secret", SECRET,
                "--database", f"sqlite:///{self.work / 'coordinator.sqlite3'}",
                "--turn-url", self.turn.url, "--turn-url", self.turn.tcp_url,
                "--turn-secret", TURN_SECRET, "--log-level", "warning", "--no-rate-limits",
            ]  # fmt: skip
            self.net.popen(
                self.net.public, coordinator, env={**self.env, "PARLEY_DATA_DIR": str(self.work)}
            )
            self.net.wait_listening(self.net.public, netns.PUBLIC, PORT)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        if hasattr(self, "_turn"):
            self._turn.__exit__(None, None, None)
        self.net.close()
        shutil.rmtree(self.work, ignore_errors=True)

    def site(self, name: str, side: Side) -> netns.Site:
        return self.net.site(name, nat=side.nat, firewall=side.firewall)

    def person(self, user: str, site: netns.Site) -> Person:
        return Person(self, user, site.host(user))
