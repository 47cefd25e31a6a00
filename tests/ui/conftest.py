"""Qt tests: real widgets on the offscreen platform, async tests on qasync (asyncio on Qt's
own loop, as the app runs), a real coordinator on an ephemeral port.

Inside these async tests nothing may wait with ``qtbot.waitUntil`` / ``qWait`` (a nested Qt
loop inside the running one hangs); they poll with ``eventually``."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import gc
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytestqt.plugin
from PySide6.QtWidgets import QApplication

from desktop_app.coordinator.auth import create_server_token, create_user_token
from desktop_app.sdk import VideoClient
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.event_loop import QtEventLoop
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import Preferences
from desktop_app.ui.session import Session
from desktop_app.ui.theme import apply_theme
from tests.support.served import served
from tests.ui.support import BotProcess, bot_line

# pytest-qt processes Qt events between a test and its fixtures' teardown. Here Qt's loop
# *is* the asyncio loop (qasync): processing events there would step the calls' tasks with
# no asyncio loop running. Teardown runs inside the loop instead, which is enough.
pytestqt.plugin._process_events = lambda: None


def _application() -> QApplication:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    # Closing a test's last window must not quit Qt (and with it stop qasync's loop
    # under the running test).
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app, "light")
    return app


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Callable[[], Any]]:
    return {"qasync": lambda: QtEventLoop(_application())}


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    monkeypatch.setenv("PARLEY_CONFIG_DIR", str(config))
    return config


SECRET = "ui-tests-secret-0123456789abcdef0123456789abcdef"


@dataclass
class UiCoordinator:
    """The coordinator in a process of its own: its tasks must not share the app's Qt loop
    (pytest steps fixtures outside that loop's run, where a server's tasks would break)."""

    base_url: str

    def user_token(self, user_id: str) -> str:
        return create_user_token(SECRET, user_id)

    def short_rings(self, seconds: int = 5) -> None:
        """Rings of the default call type time out after ``seconds`` (5 at the least), so
        that journeys through a timeout take moments."""
        headers = {"Authorization": f"Bearer {create_server_token(SECRET)}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10) as http:
            settings = http.get("/v1/call-types/default").json()["settings"]
            ms = seconds * 1000
            settings["ring"].update(
                auto_cancel_timeout_ms=ms, incoming_call_timeout_ms=ms, missed_call_timeout_ms=ms
            )
            answer = http.put("/v1/call-types/default", json={"settings": settings})
            assert answer.status_code == 200, answer.text


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[UiCoordinator]:
    with served(tmp_path, "--secret", SECRET) as process:
        yield UiCoordinator(process.base_url)


@pytest.fixture
def open_coordinator(tmp_path: Path) -> Iterator[UiCoordinator]:
    """A coordinator where people sign up by themselves (as the app's own server)."""
    with served(tmp_path, "--secret", SECRET, "--open-sign-up") as process:
        yield UiCoordinator(process.base_url)


SessionFactory = Callable[..., Awaitable[Session]]


@pytest.fixture
async def signed_in(coordinator: UiCoordinator) -> AsyncIterator[SessionFactory]:
    """A signed-in app session (remote mode against the test coordinator)."""
    sessions: list[Session] = []

    async def factory(user_id: str = "alice", devices: Any = None, **prefs: Any) -> Session:
        session = Session(Preferences(**prefs), devices or SyntheticDevices())
        await session.sign_in(
            "remote",
            coordinator.base_url,
            user_id,
            user_id.title(),
            coordinator.user_token(user_id),
        )
        sessions.append(session)
        return session

    yield factory
    for session in sessions:
        await session.shutdown()


@pytest.fixture
async def sdk_user(
    coordinator: UiCoordinator,
) -> AsyncIterator[Callable[..., Awaitable[VideoClient]]]:
    """Another person, as a headless SDK client."""
    clients: list[VideoClient] = []

    async def factory(user_id: str, **kwargs: Any) -> VideoClient:
        client = VideoClient(
            {"id": user_id, "name": user_id.title()},
            token=coordinator.user_token(user_id),
            base_url=coordinator.base_url,
            devices=kwargs.pop("devices", None) or SyntheticDevices(),
            **kwargs,
        )
        await client.connect()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.disconnect()


@pytest.fixture
async def window_for() -> AsyncIterator[Callable[[Session], MainWindow]]:
    """Windows closed inside the test's loop, as the app closes (then their sessions shut
    down): their frame pumps and devices end in this loop (qasync loops share Qt's dispatcher, so a task left pending here would be
    stepped by the next test's loop)."""
    windows: list[MainWindow] = []

    def factory(session: Session, **options: Any) -> MainWindow:
        window = MainWindow(session, **options)
        window.show()
        windows.append(window)
        return window

    yield factory
    for window in windows:
        window.quit()  # not only closed: a window with a tray would stay running
        window.close()
        await window.session.shutdown()  # what the app does once its window closed
    await asyncio.sleep(0.05)
    for window in windows:
        window.deleteLater()
    # Let Qt carry out the deletions now, in this test's loop: left pending, they ran in
    # the next test's fixture set-up, where CI crashed (SIGSEGV inside Qt's event loop).
    await asyncio.sleep(0.05)
    windows.clear()
    # And collect the Python side of what was deleted here too, not whenever the
    # collector next runs — that can be inside a Qt callback of the next test (CI crashed
    # there once more, with only Qt's loop on the stack).
    gc.collect()
    await asyncio.sleep(0.01)  # a timer: Qt's turn (sleep(0) may not give one)


BotFactory = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def bot(coordinator: UiCoordinator, tmp_path: Path) -> AsyncIterator[BotFactory]:
    """``parley-bot`` in its own process (see ``tests/ui/support.py`` for why ``Popen``)."""
    bots: list[BotProcess] = []

    async def start(user: str, *args: str) -> BotProcess:
        output = tmp_path / f"bot-{user}.out"
        with output.open("wb") as sink:
            process = subprocess.Popen(  # noqa: ASYNC220 - see tests/ui/support.py
                [
                    sys.executable,
                    "-m",
                    "desktop_app.sdk.bot",
                    "--server",
                    coordinator.base_url,
                    "--user",
                    user,
                    "--name",
                    user.title(),
                    "--token",
                    coordinator.user_token(user),
                    *args,
                ],
                stdout=sink,
                stderr=subprocess.DEVNULL,
            )
        started = BotProcess(process, output)
        bots.append(started)
        await bot_line(started, "is ready")
        return started

    yield start
    for started in bots:
        started.stop()
