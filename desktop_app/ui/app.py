"""``parley`` / ``python -m desktop_app``: the app on one event loop (qasync runs asyncio
on Qt's main thread, so the SDK and the widgets never need locks between them)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from PySide6.QtWidgets import QApplication

from desktop_app.sdk.devices import SyntheticDevices

from .event_loop import QtEventLoop
from .main_window import MainWindow
from .preferences import load_preferences
from .qt_devices import QtDevices, SwitchableDevices
from .resources import app_icon
from .self_test import self_test
from .session import Session
from .single_instance import COME_FORWARD, SingleInstance, hand_over
from .theme import apply_theme


def build(app: QApplication, theme: str | None = None) -> tuple[MainWindow, Session]:
    preferences = load_preferences()
    apply_theme(app, theme or preferences.theme)
    devices = SwitchableDevices(QtDevices(), SyntheticDevices(), preferences.use_test_devices)
    session = Session(preferences, devices)
    return MainWindow(session), session


def version() -> str:
    try:
        return package_version("parley")
    except PackageNotFoundError:
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="Parley video calls")
    parser.add_argument("--theme", choices=["light", "dark", "system"], help="override the theme")
    parser.add_argument("--version", action="version", version=f"parley {version()}")
    parser.add_argument(
        "link", nargs="?", help="an invite link to open (parley://join?server=…&call=type:id)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation end to end (own server, sign-in, echo test) and quit",
    )
    args = parser.parse_args(argv)
    if args.self_test:  # settings and data of its own: a person's are never touched
        scratch = tempfile.mkdtemp(prefix="parley-self-test-")
        os.environ["PARLEY_CONFIG_DIR"] = os.path.join(scratch, "config")
        os.environ["PARLEY_DATA_DIR"] = os.path.join(scratch, "data")
        os.environ["PARLEY_INSTANCE"] = f"parley-self-test-{os.getpid()}"
    logging.basicConfig(level=logging.WARNING)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Parley")
    app.setApplicationVersion(version())
    # One Parley per user: a second launch hands its link (or "come forward") over.
    if not args.self_test and hand_over(args.link or COME_FORWARD):
        return 0
    # The main window's own close ends the app; Qt quitting by itself when a popup closes
    # over a hidden window would stop the event loop under running calls.
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    window, session = build(app, args.theme)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    app.aboutToQuit.connect(closed.set)
    single = SingleInstance()
    single.listen()
    single.received.connect(window.open_request)
    # Stopped by the system (a desktop session's logout sends SIGTERM) or Ctrl+C: quit as
    # the tray's Quit does — calls left, the local server and echo bot stopped — instead
    # of dying with them running (their port then stays taken).
    for number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(number, window.quit)  # (not on Windows)
    window.show()
    window.start()
    if args.link:
        window.open_request(args.link)

    verdict = 0

    async def run() -> None:
        nonlocal verdict
        if args.self_test:
            verdict = await self_test(window)
            window.quit()
        await closed.wait()
        single.close()
        await session.shutdown()

    # One run from start to quit: between two runs Qt would still deliver the calls' I/O
    # callbacks with no asyncio loop running (aiortc's transports then raise).
    with loop:
        loop.run_until_complete(run())
    return verdict
