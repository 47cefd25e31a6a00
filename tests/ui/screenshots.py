"""Screenshots of every screen, under Xvfb (a real X server, the xcb platform), for people
to look at: sign-in, home, lobby, outgoing dialog, call view with 2 and 6 participants,
incoming popup, home in the dark theme, ring outcomes, a missed call, the tray menu, the
people search, and the call's participants panel in the dark theme.

    .venv/bin/python tests/ui/screenshots.py [--out build/screenshots] [--scale 2]

Starts Xvfb itself when there is no DISPLAY, a coordinator in its own process, and the
other participants as SDK clients with synthetic devices.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SECRET = "screenshots-secret-0123456789abcdef0123456789abcdef"


def _start_xvfb() -> subprocess.Popen[bytes] | None:
    if os.environ.get("DISPLAY") or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return None
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is not installed (Debian: apt-get install xvfb)")
    display = ":97"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
    os.environ["DISPLAY"] = display
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{display[1:]}").exists():
            break
        time.sleep(0.1)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return server


async def _until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(0.05)
    return result


async def take(out: Path, base_url: str) -> list[Path]:
    import httpx
    from PySide6.QtWidgets import QApplication

    from desktop_app.coordinator.auth import create_server_token, create_user_token
    from desktop_app.sdk import VideoClient
    from desktop_app.sdk.devices import Device, SyntheticDevices
    from desktop_app.sdk.quality import ConnectionQuality, QualityLevel
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.preferences import Preferences
    from desktop_app.ui.session import Session
    from desktop_app.ui.theme import apply_theme
    from tests.support import speech

    saved: list[Path] = []
    app = QApplication.instance()
    assert isinstance(app, QApplication)

    async def rung(client: Any, call: Any) -> Any:
        """``client``'s side of ``call``, once it rings there."""
        theirs = client.call(call.type, call.id)
        return await _until(lambda: theirs if theirs.is_ringing_me else None)

    def shot(widget: Any, name: str) -> None:
        path = out / f"{name}.png"
        widget.grab().save(str(path))
        saved.append(path)

    async with httpx.AsyncClient(base_url=base_url) as http:  # room for six in a mesh
        await http.patch(
            "/v1/app",
            json={"max_mesh_participants": 6},
            headers={"Authorization": f"Bearer {create_server_token(SECRET)}"},
        )
    people = {}
    for user, name in (
        ("bob", "Bob Stone"),
        ("carol", "Carol Diaz"),
        ("dan", "Dan Wu"),
        ("erin", "Erin Moss"),
        ("frank", "Frank Ode"),
        ("gina", "Gina Park"),
    ):
        client = VideoClient(
            {"id": user, "name": name},
            create_user_token(SECRET, user),
            base_url,
            devices=SyntheticDevices(width=640, height=360),
        )
        await client.connect()
        people[user] = client
    await people.pop("gina").disconnect()  # signed up once, offline now

    own_devices = SyntheticDevices(width=640, height=360)
    if speech.available():  # Alice talks (for "you are muted"), through the processing
        own_devices.unplug("synthetic-microphone")
        own_devices.plug(
            Device("room-mic", "Laptop microphone", "microphone", is_default=True, acoustic=True),
            sound=speech.speech(speech.NEAR_TEXT, "en-gb+f3"),
        )
    session = Session(Preferences(), own_devices, persist=False)
    window = MainWindow(session, tray=False)
    window.resize(1100, 720)
    window.show()
    window.start()
    await asyncio.sleep(0.5)
    window.sign_in.user_id.setText("alice")
    window.sign_in.name.setText("Alice Martin")
    shot(window, "1-sign-in")

    await session.sign_in(
        "remote", base_url, "alice", "Alice Martin", create_user_token(SECRET, "alice")
    )
    window.show_home()
    await asyncio.sleep(1.0)
    shot(window, "2-home")

    window.home.ring_requested.emit(["bob"], True)
    await _until(lambda: window.lobby.preview.frames_painted > 3)
    shot(window, "3-lobby")

    window.lobby.join.click()
    dialog = await _until(
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None
    )
    await asyncio.sleep(0.3)
    shot(dialog, "4-outgoing-dialog")
    call = dialog.call
    bobs = await rung(people["bob"], call)
    await bobs.join()
    await _until(lambda: window.stack.currentWidget() is window.call_view)
    await _until(
        lambda: (
            len(window.call_view.tiles) == 2
            and all(t.frames_painted > 3 for t in window.call_view.tiles.values())
        )
    )
    await asyncio.sleep(0.5)
    shot(window, "5-call-2-participants")
    if speech.available():
        window.call_view.mic.click()
        await _until(window.call_view.muted_hint.isVisible, timeout=20)
        shot(window, "5b-talking-while-muted")
        window.call_view.mic.click()

    for user in ("carol", "dan", "erin", "frank"):
        other = people[user].call(call.type, call.id)
        if user != "carol":
            await other.camera.disable()
        await other.join()
    await _until(lambda: len(window.call_view.tiles) == 6, timeout=60)
    await asyncio.sleep(2.0)
    await people["dan"].call(call.type, call.id).microphone.disable()
    await asyncio.sleep(0.5)
    shot(window, "6-call-6-participants")
    # Quality as people see it: measured bars on every tile (all good on one machine); for
    # the picture, fair, poor and a dropped connection are set by hand on three tiles —
    # tests/net/test_faults.py makes them happen for real.
    state = window.call_view.call.state
    looks = {
        "carol": ConnectionQuality(QualityLevel.FAIR, 4.1, 22.0, 180.0, 540.0),
        "dan": ConnectionQuality(QualityLevel.POOR, 12.5, 95.0, 420.0, 210.0),
        "erin": ConnectionQuality(QualityLevel.LOST, 100.0),
    }
    for participant in state.participants:
        participant.quality = looks.get(participant.user.id, participant.quality)
    state.participants_.notify()
    await asyncio.sleep(0.2)
    shot(window, "6b-call-quality")
    for user in ("bob", "carol", "dan", "erin", "frank"):
        await people[user].call(call.type, call.id).leave()
    window.call_view.leave.click()
    await _until(lambda: window.stack.currentWidget() is window.home)

    ring = people["bob"].call("default", "")
    await ring.get_or_create(
        data={"members": [{"user_id": "bob"}, {"user_id": "alice"}]}, ring=True
    )
    popup = await _until(
        lambda: window.incoming if window.incoming and window.incoming.isVisible() else None
    )
    await asyncio.sleep(0.3)
    shot(popup, "7-incoming-popup")
    await ring.leave(reject=True, reason="cancel")

    apply_theme(app, "dark")
    window.home.refresh()
    await asyncio.sleep(1.0)
    shot(window, "8-home-dark")
    apply_theme(app, "light")

    # Ring outcomes: bob declines, carol is busy, gina is offline, dan has not answered.
    window.home.ring_requested.emit(["bob", "carol", "dan", "gina"], True)
    window.lobby.join.click()
    dialog = await _until(
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None
    )
    call = dialog.call
    for user, reason in (("bob", "decline"), ("carol", "busy")):
        theirs = await rung(people[user], call)
        await theirs.reject(reason)
    await _until(lambda: ("Carol Diaz", "busy") in dialog.callee_states())
    await asyncio.sleep(0.3)
    shot(dialog, "9-ring-outcomes")
    dialog.cancel.click()

    # A missed call: bob rings and gives up before anyone answers.
    ring = people["bob"].call("default", "")
    await ring.get_or_create(
        data={"members": [{"user_id": "bob"}, {"user_id": "alice"}]}, ring=True
    )
    await _until(lambda: window.incoming and window.incoming.isVisible())
    await ring.leave(reject=True, reason="cancel")
    await _until(lambda: window.home.missed_box.isVisible())
    await asyncio.sleep(1.0)
    shot(window, "10-missed-call")

    window.tray_menu.popup(window.mapToGlobal(window.rect().center()))
    await asyncio.sleep(0.3)
    shot(window.tray_menu, "11-tray-menu")
    window.tray_menu.hide()

    window.home.search.setText("an")
    await asyncio.sleep(0.3)
    shot(window.home, "12-people-search")
    window.home.search.clear()

    apply_theme(app, "dark")
    window.home.ring_requested.emit(["erin"], False)
    window.lobby.join.click()
    dialog = await _until(
        lambda: window.outgoing if window.outgoing and window.outgoing.isVisible() else None
    )
    call = dialog.call
    erins = await rung(people["erin"], call)
    await erins.join()
    await _until(lambda: len(window.call_view.tiles) == 2)
    window.call_view.participants.click()
    await asyncio.sleep(1.0)
    shot(window, "13-call-participants-dark")
    await erins.leave()
    window.call_view.leave.click()
    apply_theme(app, "light")

    for client in people.values():
        await client.disconnect()
    await session.shutdown()
    window.close()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots")
    parser.add_argument("--scale", type=float, default=1.0, help="QT_SCALE_FACTOR (2 for high DPI)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    xvfb = _start_xvfb()
    from tests.support.served import served

    try:
        from PySide6.QtWidgets import QApplication

        from desktop_app.ui.event_loop import QtEventLoop
        from desktop_app.ui.theme import apply_theme

        app = QApplication([])
        app.setQuitOnLastWindowClosed(False)
        apply_theme(app, "light")
        loop = QtEventLoop(app)
        asyncio.set_event_loop(loop)
        with (
            tempfile.TemporaryDirectory() as data,
            served(Path(data), "--secret", SECRET) as coordinator,
        ):
            os.environ["PARLEY_CONFIG_DIR"] = str(Path(data) / "config")
            with loop:
                saved = loop.run_until_complete(take(args.out, coordinator.base_url))
        for path in saved:
            print(path)
        return 0
    finally:
        if xvfb is not None:
            xvfb.terminate()


if __name__ == "__main__":
    try:
        code = main()
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # aiortc's decoder threads are not daemons: after a failure they would keep the process
    # alive for ever and hide the error behind a timeout.
    os._exit(code)
