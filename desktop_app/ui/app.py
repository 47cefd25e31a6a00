"""``parley`` / ``python -m desktop_app``: the app on one event loop (qasync runs asyncio
on Qt's main thread, so the SDK and the widgets never need locks between them)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import qasync
from PySide6.QtWidgets import QApplication

from desktop_app.sdk.devices import SyntheticDevices

from .main_window import MainWindow
from .preferences import load_preferences
from .qt_devices import QtDevices, SwitchableDevices
from .resources import app_icon
from .session import Session
from .theme import apply_theme


def build(app: QApplication, theme: str | None = None) -> tuple[MainWindow, Session]:
    preferences = load_preferences()
    apply_theme(app, theme or preferences.theme)
    devices = SwitchableDevices(QtDevices(), SyntheticDevices(), preferences.use_test_devices)
    session = Session(preferences, devices)
    return MainWindow(session), session


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="Parley video calls")
    parser.add_argument("--theme", choices=["light", "dark", "system"], help="override the theme")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Parley")
    # The main window's own close ends the app; Qt quitting by itself when a popup closes
    # over a hidden window would stop the event loop under running calls.
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window, session = build(app, args.theme)
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    app.aboutToQuit.connect(closed.set)
    window.show()
    window.start()

    async def run() -> None:
        await closed.wait()
        await session.shutdown()

    # One run from start to quit: between two runs Qt would still deliver the calls' I/O
    # callbacks with no asyncio loop running (aiortc's transports then raise).
    with loop:
        loop.run_until_complete(run())
    return 0
