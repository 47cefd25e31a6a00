"""Parley's own window in a group call through Janus: Bob rings Alice (her app, offscreen
in the test's namespace), she answers; Carol and Dan join, the call moves to the SFU, and
her grid shows three moving pictures; the layout button puts the one talking large; the
media server dies and the window carries on without losing a tile or saying anyone left.
Screenshots in build/screenshots/sfu/ (for people to look at)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.net.scene import Lines
from tests.sfu.conftest import BotFactory, Sfu
from tests.sfu.support import room_exists
from tests.support.coordinator import RunningCoordinator

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "sfu"


async def _line(output: Lines, matches: object, seconds: float = 60.0, after: int = 0) -> str:
    check = matches if callable(matches) else (lambda line: matches in line)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = next((ln for ln in output.lines[after:] if check(ln)), None)
        if found is not None:
            return found
        if loop.time() > deadline:
            # The last screens, and everything else the app said (its media's log).
            said = [ln for ln in output.lines if not ln.startswith("call ") and "aioice" not in ln]
            tail = "\n".join([*output.lines[-20:], "--- the app's log:", *said[-80:]])
            raise AssertionError(f"the app never showed {matches!r}:\n{tail}")
        await asyncio.sleep(0.1)


async def test_a_group_call_in_the_app(
    sfu: Sfu, coordinator: RunningCoordinator, bots: BotFactory, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PARLEY_TEST_TOKEN": coordinator.user_token("alice"),
        "QT_QPA_PLATFORM": "offscreen",
        "PARLEY_CONFIG_DIR": str(tmp_path / "config"),
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_INSTANCE": f"parley-sfu-test-alice-{os.getpid()}",
    }
    command = [sys.executable, "-m", "tests.net.app_person", "--server", coordinator.base_url,
               "--user", "alice", "--shots", str(SHOTS)]  # fmt: skip
    app = sfu.lan.popen(
        sfu.lan.ns, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    output = Lines(app)
    try:
        await _line(output, "alice is ready")
        # The others take nobody's picture (the app's is 640×480 at 30 fps): four full
        # clients beside Janus would starve two cores, and the test is about the app.
        bob = bots("bob", "--ring", "alice", "--no-remote-video")
        ringing = await bob.line("ringing alice in ")
        cid = re.search(r"in (\S+)", ringing).group(1)  # type: ignore[union-attr]
        await _line(output, "answering")
        for user, tone in (("carol", "660"), ("dan", "880")):
            bots(user, "--join", cid, "--tone", tone, "--no-remote-video")

        def everyone_moving(line: str) -> bool:
            return "media sfu" in line and all(f"tile {name}: bars" in line and re.search(
                rf"tile {name}: [^|]*picture moving", line) for name in ("Bob", "Carol", "Dan"))  # fmt: skip

        await _line(output, everyone_moving, 90)
        assert app.stdin is not None
        app.stdin.write("shot group-grid\n")
        app.stdin.flush()
        await _line(output, "saved group-grid")
        mark = output.mark()
        app.stdin.write("layout\n")
        app.stdin.flush()
        large = await _line(output, "layout speaker, large", after=mark)
        assert "large Alice" not in large, "never yourself large while others are here"
        await asyncio.sleep(1.0)
        app.stdin.write("shot group-speaker\n")
        app.stdin.flush()
        await _line(output, "saved group-speaker")
        assert (SHOTS / "group-grid.png").stat().st_size > 10_000

        # The media server dies: everyone rejoins on the other one. The window keeps its
        # own tile throughout and says nobody left (each rejoin is a new session).
        call_type, call_id = cid.split(":")
        status, body = await coordinator.api("alice").get(f"/v1/calls/{call_type}/{call_id}")
        assert status == 200, body
        room = body["call"]["session"]["media"]["room"]
        (dying,) = [server for server in sfu.servers if await room_exists(server.url, room)]
        mark = output.mark()
        dying.kill()
        # Its media connects anew (the window may say "reconnecting" only for a moment:
        # the app's log says it), then everyone's picture moves again.
        connecting = await _line(output, "media: connecting ('sfu'", 30, after=mark)
        rejoined = output.lines.index(connecting, mark)
        await _line(output, lambda line: "banner" not in line and everyone_moving(line),
                    90, after=rejoined)  # fmt: skip
        screens = [line for line in output.lines[mark:] if line.startswith("call ")]
        assert not [s for s in screens if "tile Alice (you)" not in s], screens
        assert not [s for s in screens if "left the call" in s], screens
    finally:
        if app.poll() is None:
            assert app.stdin is not None
            app.stdin.write("quit\n")
            app.stdin.flush()
            try:
                app.wait(20)
            except subprocess.TimeoutExpired:
                app.kill()
