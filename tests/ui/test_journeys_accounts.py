"""Journeys of accounts and servers, through the real app's widgets:

* sign out (it asks first) and sign in again as yourself on the same computer; someone
  else's id stays theirs;
* the app's own server keeps its port across launches, moves (and says so) only when the
  port is taken, and comes back by itself when it dies; the echo bot's token never shows
  in the process list;
* the server is killed in the middle of a call and comes back: the call view keeps its
  tiles, says "Reconnecting…" until it is back, and a mute made meanwhile arrives;
* an address typed without ``http://`` is accepted, and a web server that is not Parley
  is named as such.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.coordinator.auth import create_user_token
from desktop_app.sdk import CallingState, ConnectionState, VideoClient
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.preferences import Preferences, preferences_path
from desktop_app.ui.session import Session, SignInProblem
from tests.support.coordinator import unique
from tests.support.restartable import Coordinator
from tests.support.served import free_port
from tests.ui.conftest import SECRET, UiCoordinator
from tests.ui.support import eventually


def _sign_in_form(window: Any, mode: str, url: str, user: str, name: str = "") -> None:
    view = window.sign_in
    (view.remote if mode == "remote" else view.local).setChecked(True)
    view.server_url.setText(url)
    view.user_id.setText(user)
    view.name.setText(name or user.title())
    view.token.clear()
    view.sign_in.click()


async def _sign_out(window: Any) -> None:
    window.home.sign_out_requested.emit()
    question = await eventually(lambda: window.sign_out_question, what="the question")
    assert "Nobody can ring you on this computer" in question.informativeText()
    next(b for b in question.buttons() if b.text() == "Sign out").click()
    window.sign_out_question = None
    await eventually(lambda: window.stack.currentWidget() is window.sign_in, what="signed out")


async def test_signing_out_and_in_again_as_yourself_works_and_others_ids_stay_theirs(
    open_coordinator: UiCoordinator, window_for: Any
) -> None:
    session = Session(Preferences(), SyntheticDevices())
    window = window_for(session)
    window.start()
    address = open_coordinator.base_url.removeprefix("http://")  # typed without http://
    _sign_in_form(window, "remote", address, "bob", "Bob Stone")
    await eventually(lambda: window.stack.currentWidget() is window.home, timeout=10, what="home")

    await _sign_out(window)
    assert window.server_note.text() == "", "the status bar forgets the server"
    assert session.client is None and not session.preferences.token
    assert session.preferences.accounts, "the account's token is remembered…"
    assert _mode(preferences_path()) == 0o600, "…in a file only its owner reads"
    _sign_in_form(window, "remote", address, "bob", "Bob Stone")
    await eventually(lambda: window.stack.currentWidget() is window.home, timeout=10, what="again")
    assert window.sign_in.status.error.text() == ""

    other = VideoClient(
        {"id": "robin"},
        token=open_coordinator.user_token("robin"),
        base_url=open_coordinator.base_url,
    )
    await other.connect()  # robin signed in elsewhere: the id is taken
    await other.disconnect()
    await _sign_out(window)
    _sign_in_form(window, "remote", address, "robin")
    error = window.sign_in.status.error
    await eventually(lambda: "taken" in error.text(), timeout=10, what="robin's id refused")
    assert window.stack.currentWidget() is window.sign_in


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _command_line(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.fixture
def local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the servers' logs
    return data


async def test_the_apps_own_server_keeps_its_port_and_comes_back_when_it_dies(
    local_data: Path, window_for: Any
) -> None:
    port = free_port()
    session = Session(Preferences(local_port=port), SyntheticDevices(), data_dir=local_data)
    window = window_for(session)
    window.start()
    _sign_in_form(window, "local", "", "alice")
    await eventually(lambda: window.stack.currentWidget() is window.home, timeout=30, what="home")
    local = session.local
    assert local is not None and local.port == port and local.moved_from is None
    assert session.preferences.local_port == port
    assert f"127.0.0.1:{port}" in window.server_note.text()
    bot = local._bot
    assert bot is not None and session.echo_ready
    command_line = _command_line(bot.pid)
    assert b"--token" not in command_line and b"eyJ" not in command_line, (
        "the echo bot's token is not in its command line (ps shows it to everyone)"
    )

    assert local._server is not None
    local._server.kill()
    await eventually(
        lambda: "stopped" in window.server_note.text(), timeout=5, what="the server is down"
    )
    await eventually(
        lambda: "started again" in window.server_note.text(), timeout=30, what="back up"
    )
    assert local.port == port, "the same address after the restart"
    client = session.client
    assert client is not None
    await eventually(
        lambda: client.state.connection_state.value is ConnectionState.CONNECTED,
        timeout=15,
        what="the app reconnected",
    )
    async with httpx.AsyncClient(base_url=local.base_url) as http:  # robin signs up here
        signed_up = await http.post("/v1/auth/sign-up", json={"user_id": "robin"})
        assert signed_up.status_code == 201
    with pytest.raises(SignInProblem, match="taken"):
        await session.sign_in("local", "", "robin", "Robin")  # robin's id stays robin's
    await window.session.shutdown()  # quit: the next launch…

    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        again = Session(session.preferences, SyntheticDevices(), data_dir=local_data)
        second = window_for(again)
        second.start()  # signed in: straight to home
        await eventually(
            lambda: second.stack.currentWidget() is second.home, timeout=30, what="relaunch"
        )
        assert again.local is not None and again.local.moved_from == port
        assert f"Port {port} was taken" in second.server_note.text()
        assert again.preferences.local_port == again.local.port
    finally:
        blocker.close()


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Coordinator]:
    coordinator = Coordinator(tmp_path, SECRET, grace=5.0)
    coordinator.start(tmp_path / "calls.sqlite3")
    yield coordinator
    coordinator.stop()


async def test_a_server_restart_mid_call_keeps_the_tiles_and_says_reconnecting(
    restartable: Coordinator, tmp_path: Path, window_for: Any
) -> None:
    session = Session(Preferences(), SyntheticDevices(height=120))
    await session.sign_in(
        "remote", restartable.base_url, "alice", "Alice", create_user_token(SECRET, "alice")
    )
    window = window_for(session)
    bob = VideoClient(
        {"id": "bob", "name": "Bob"},
        token=create_user_token(SECRET, "bob"),
        base_url=restartable.base_url,
        devices=SyntheticDevices(height=120),
    )
    await bob.connect()
    try:
        call_id = unique()
        bobs = bob.call("default", call_id)
        await bobs.join(create=True)
        window.show_home()
        window.home.call_id.setText(call_id)
        window.home.call_id.returnPressed.emit()
        window.lobby.join.click()
        await eventually(lambda: window.stack.currentWidget() is window.call_view, what="call")
        view = window.call_view
        await eventually(lambda: len(view.tiles) == 2, timeout=10, what="two tiles")

        restartable.kill()
        await eventually(
            lambda: view.banner.isVisible() and "Reconnecting" in view.banner_text.text(),
            timeout=10,
            what="the Reconnecting… banner",
        )
        view.toggle_microphone()  # a mute made while the server is away
        await eventually(lambda: not view.call.microphone.enabled, what="muted here")
        assert len(view.tiles) == 2, "the tiles stay while media flows"
        restartable.start(tmp_path / "calls.sqlite3")
        await eventually(lambda: not view.banner.isVisible(), timeout=20, what="banner cleared")
        assert len(view.tiles) == 2 and view.call.state.calling_state is CallingState.JOINED

        def alice_muted() -> bool:
            alice = next((p for p in bobs.state.participants if p.user.id == "alice"), None)
            return alice is not None and alice.published.get("audio") is False

        await eventually(
            alice_muted,
            timeout=10,
            what="the mute reached bob",
        )
        await asyncio.sleep(6)  # past the grace period: nobody dropped
        assert len(view.tiles) == 2 and not view.banner.isVisible()
    finally:
        await bob.disconnect()


class NotParley(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>It works!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


async def test_a_web_server_that_is_not_parley_is_named_so(window_for: Any) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotParley)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session = Session(Preferences(), SyntheticDevices())
        window = window_for(session)
        window.start()
        _sign_in_form(window, "remote", f"127.0.0.1:{server.server_port}", "alice")
        error = window.sign_in.status.error
        await eventually(lambda: error.isVisible(), timeout=10, what="a refusal")
        assert f"http://127.0.0.1:{server.server_port} is not a Parley server" in error.text()
        assert "sign up" not in error.text()
    finally:
        server.shutdown()


def test_addresses_without_a_scheme() -> None:
    from desktop_app.ui.session import server_address

    assert server_address("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert server_address("localhost:3000/") == "http://localhost:3000"
    assert server_address("parley.example.org") == "https://parley.example.org"
    assert server_address("parley.example.org:8443") == "https://parley.example.org:8443"
    assert server_address("192.168.1.20:47000") == "http://192.168.1.20:47000"
    assert server_address("[::1]:47000") == "http://[::1]:47000"
    assert server_address(" https://x.org ") == "https://x.org"
    assert server_address("") == ""
