"""Sign-in: mistakes become sentences, a good sign-in reaches home and is remembered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.preferences import Preferences, load_preferences
from desktop_app.ui.session import Session
from tests.ui.conftest import UiCoordinator
from tests.ui.support import eventually


def _window(window_for: Any) -> Any:
    session = Session(Preferences(), SyntheticDevices())
    window = window_for(session)
    window.start()
    return window


def _fill(window: Any, mode: str, url: str, user: str, name: str, token: str = "") -> None:
    view = window.sign_in
    (view.remote if mode == "remote" else view.local).setChecked(True)
    view.server_url.setText(url)
    view.user_id.setText(user)
    view.name.setText(name)
    view.token.setText(token)
    view.sign_in.click()


async def test_mistakes_are_sentences(window_for: Any) -> None:
    window = _window(window_for)
    error = window.sign_in.status.error
    _fill(window, "remote", "http://127.0.0.1:1", "has space", "X")
    await eventually(lambda: error.isVisible(), what="an error")
    assert "user id is 1 to 64 letters" in error.text()

    _fill(window, "remote", "", "alice", "Alice")
    await eventually(lambda: "Type the address" in error.text(), what="address sentence")

    _fill(window, "remote", "127.0.0.1:1", "alice", "Alice")  # no http://: accepted
    await eventually(lambda: "can't be reached" in error.text(), timeout=15, what="unreachable")
    assert "Traceback" not in error.text()
    assert window.stack.currentWidget() is window.sign_in


async def test_a_server_without_open_sign_up_says_so(
    window_for: Any, coordinator: UiCoordinator
) -> None:
    window = _window(window_for)
    _fill(window, "remote", coordinator.base_url, "newbie", "New Person")
    error = window.sign_in.status.error
    await eventually(lambda: error.isVisible(), timeout=10, what="refusal")
    assert "sign" in error.text().lower() and "{" not in error.text()

    _fill(window, "remote", coordinator.base_url, "alice", "Alice", token="not-a-token")
    await eventually(
        lambda: "did not accept your sign-in" in error.text(), timeout=10, what="bad token"
    )


async def test_signing_in_reaches_home_and_is_remembered(
    window_for: Any, coordinator: UiCoordinator, own_config_dir: Path
) -> None:
    window = _window(window_for)
    _fill(
        window,
        "remote",
        coordinator.base_url,
        "alice",
        "Alice Martin",
        coordinator.user_token("alice"),
    )
    await eventually(lambda: window.stack.currentWidget() is window.home, timeout=10, what="home")
    assert window.home.greeting.text() == "Hello, Alice Martin"
    saved = load_preferences()
    assert (saved.server_mode, saved.server_url, saved.user_id, saved.name) == (
        "remote",
        coordinator.base_url,
        "alice",
        "Alice Martin",
    )
    assert saved.signed_in
    assert (own_config_dir / "settings.json").stat().st_mode & 0o077 == 0, "token file is private"

    window.home.sign_out_requested.emit()
    question = await eventually(lambda: window.sign_out_question, what="sign-out question")
    assert "Nobody can ring you" in question.informativeText()
    next(b for b in question.buttons() if b.text() == "Sign out").click()
    await eventually(lambda: window.stack.currentWidget() is window.sign_in, what="signed out")
    assert not load_preferences().token and load_preferences().user_id == "alice"
    await window.session.shutdown()


def test_a_damaged_settings_file_falls_back_to_defaults(own_config_dir: Path) -> None:
    own_config_dir.mkdir(parents=True)
    (own_config_dir / "settings.json").write_text("{not json")
    assert load_preferences() == Preferences()
    (own_config_dir / "settings.json").write_text(json.dumps({"theme": "purple"}))
    assert load_preferences() == Preferences()
