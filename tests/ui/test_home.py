"""Home: people and recent calls from the server, settings that stick, sentences for
mistakes."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from desktop_app.ui.preferences import load_preferences
from desktop_app.ui.theme import DARK, apply_theme
from tests.ui.conftest import SessionFactory
from tests.ui.support import eventually


async def test_home_lists_people_and_settings_stick(
    signed_in: SessionFactory, window_for: Any
) -> None:
    await signed_in("bob")  # someone else has signed in
    session = await signed_in("alice")
    window = window_for(session)
    window.show_home()
    home = window.home
    await eventually(
        lambda: home.people.count() >= 1 and "bob" in home.people.item(0).text(), what="people"
    )

    home.ring.click()
    assert "Pick at least one person" in home.status.error.text()
    home.call_id.setText("no spaces allowed")
    home._join()
    assert "letters, digits" in home.status.error.text()
    home.call_id.setText("quarterly-planning-review-" * 3)  # letters and dashes, but 78
    home._join()
    assert "at most 64 characters (this one has 78)" in home.status.error.text()

    assert home.show_lobby.isChecked()
    home.show_lobby.trigger()
    assert load_preferences().skip_lobby is True
    dark = next(a for a in home.theme_actions.actions() if a.data() == "dark")
    dark.trigger()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    assert app.palette().color(QPalette.ColorRole.Window).name() == DARK.window
    assert load_preferences().theme == "dark"
    apply_theme(app, "light")


async def test_the_first_person_on_a_server_is_told_nobody_else_is_here_yet(
    signed_in: SessionFactory, window_for: Any
) -> None:
    window = window_for(await signed_in("alice"))
    window.show_home()
    home = window.home
    await eventually(
        lambda: home.people.count() >= 1
        and home.people.item(0).text() == "Nobody else has signed in to this server yet.",
        what="the empty list said",
    )  # fmt: skip
