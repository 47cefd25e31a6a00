"""Invite links and one Parley per user:

* a link names the server and the call; malformed links get a sentence;
* a second launch hands its link to the running Parley (a local socket per user);
* opening a link opens that call's lobby — after signing in to the link's server when the
  app is not signed in there; the call view copies a link to its call.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.invite import Invite, InviteError, invite_link, parse_invite
from desktop_app.ui.preferences import Preferences
from desktop_app.ui.session import Session
from desktop_app.ui.single_instance import SingleInstance, hand_over
from tests.support.coordinator import unique
from tests.ui.conftest import SessionFactory, UiCoordinator
from tests.ui.support import eventually


def test_a_link_names_the_server_and_the_call() -> None:
    link = invite_link("http://127.0.0.1:47000/", "default", "standup-42")
    assert link == "parley://join?server=http://127.0.0.1:47000&call=default:standup-42"
    assert parse_invite(link) == Invite("http://127.0.0.1:47000", "default", "standup-42")
    assert parse_invite(" parley://join?server=https://p.example.org&call=x ").cid == "default:x"


@pytest.mark.parametrize(
    ("link", "sentence"),
    [
        ("https://p.example.org", "not a Parley link"),
        ("parley://open?server=https://p.example.org&call=a:b", "not a Parley link"),
        ("parley://join?call=default:a", "does not name a server"),
        ("parley://join?server=ftp://p.example.org&call=default:a", "does not name a server"),
        ("parley://join?server=https://p.example.org&call=bad id", "does not name a call"),
        ("parley://join?server=https://p.example.org&call=:a", "does not name a call"),
        ("parley://join?server=https://p.example.org", "does not name a call"),
    ],
)
def test_a_malformed_link_gets_a_sentence(link: str, sentence: str) -> None:
    with pytest.raises(InviteError, match=sentence):
        parse_invite(link)


async def test_a_second_launch_hands_its_link_to_the_running_one() -> None:
    name = f"parley-test-{unique()}"
    assert not hand_over("open", name), "nobody running: the launch goes on by itself"
    running = SingleInstance(name)
    assert running.listen()
    heard: list[str] = []
    running.received.connect(heard.append)
    try:
        assert hand_over("parley://join?server=http://x.org&call=a:b", name)
        await eventually(lambda: heard, what="the link handed over")
        assert heard == ["parley://join?server=http://x.org&call=a:b"]
        assert hand_over("open", name)
        await eventually(lambda: len(heard) == 2, what="come forward")
    finally:
        running.close()


async def test_opening_a_link_opens_the_lobby_of_its_call(
    coordinator: UiCoordinator, signed_in: SessionFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice", devices=SyntheticDevices(height=120)))
    window.show_home()
    window.open_request(invite_link(coordinator.base_url, "default", "standup-7"))
    assert window.stack.currentWidget() is window.lobby
    assert window.lobby.subtitle.text() == "Joining standup-7."
    window.lobby.join.click()
    view = window.call_view
    await eventually(lambda: window.stack.currentWidget() is view, timeout=10, what="in call")
    view.copy_id.click()
    copied = parse_invite(QGuiApplication.clipboard().text())
    assert copied == Invite(coordinator.base_url, "default", "standup-7")
    assert view.copied.text() == "Copied an invite link to this call"

    window.open_request("parley://join?server=nonsense")
    assert window.told is not None and "does not name a server" in window.told.text()
    assert window.stack.currentWidget() is view, "a bad link changes nothing"


async def test_a_link_to_another_server_asks_to_sign_in_there_first(
    coordinator: UiCoordinator, window_for: Any
) -> None:
    session = Session(Preferences(), SyntheticDevices(height=120))
    window = window_for(session)
    window.start()
    window.open_request(invite_link(coordinator.base_url, "default", "retro"))
    view = window.sign_in
    assert window.stack.currentWidget() is view
    assert view.remote.isChecked() and view.server_url.text() == coordinator.base_url
    assert "To join default:retro, sign in to" in view.hint.text()
    view.user_id.setText("bob")
    view.token.setText(coordinator.user_token("bob"))
    view.sign_in.click()
    await eventually(
        lambda: window.stack.currentWidget() is window.lobby, timeout=10, what="the lobby"
    )
    assert window.lobby.subtitle.text() == "Joining retro."
