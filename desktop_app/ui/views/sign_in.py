"""Sign-in: this computer (the app runs a server for you) or a server's address; a user id
and a display name; for a server, a pasted token or the server's open sign-up."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QFormLayout,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..preferences import Preferences
from ..tasks import Runner
from .common import StatusRow, button, card, label, scrolling


class SignInView(QWidget):
    #: mode ("local" | "remote"), server url, user id, display name, token
    submitted = Signal(str, str, str, str, str)

    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(self)
        self.local = QRadioButton("This computer")
        self.remote = QRadioButton("A server")
        group = QButtonGroup(self)
        group.addButton(self.local)
        group.addButton(self.remote)
        self.server_url = QLineEdit(preferences.server_url)
        self.server_url.setPlaceholderText("https://parley.example.org")
        self.user_id = QLineEdit(preferences.user_id)
        self.user_id.setPlaceholderText("alice")
        self.name = QLineEdit(preferences.name)
        self.name.setPlaceholderText("Alice Martin")
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("Paste a token, or leave empty to sign up")
        self.hint = label("", "muted", wrap=True)
        self.sign_in = button("Sign in", "primary", self._submit)
        self.status = StatusRow(self.runner)

        form = self.form = QFormLayout()
        form.addRow("Server", self.local)
        form.addRow("", self.remote)
        form.addRow("Address", self.server_url)
        form.addRow("User id", self.user_id)
        form.addRow("Display name", self.name)
        form.addRow("Token", self.token)
        body = QWidget()
        body.setLayout(form)
        box = card(body, self.hint, self.status, self.sign_in, title="Sign in to Parley")
        box.setFixedWidth(480)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)
        scrolling(self, content)

        (self.remote if preferences.server_mode == "remote" else self.local).setChecked(True)
        self.local.toggled.connect(self._mode_changed)
        for field in (self.user_id, self.name, self.server_url, self.token):
            field.returnPressed.connect(self._submit)
        self.runner.busy.connect(lambda busy: self.sign_in.setEnabled(not busy))
        self._mode_changed()

    @property
    def mode(self) -> str:
        return "local" if self.local.isChecked() else "remote"

    def _mode_changed(self) -> None:
        remote = self.mode == "remote"
        self.server_url.setEnabled(remote)
        self.token.setEnabled(remote)
        # This computer's server needs no address or token: not shown, not just greyed.
        self.form.setRowVisible(self.server_url, remote)
        self.form.setRowVisible(self.token, remote)
        self.hint.setText(
            "You sign in with a token from the server's administrator, or sign up if the "
            "server allows it."
            if remote
            else "Parley runs a small server on this computer for you: ring the echo test, "
            "or others who use this computer's server."
        )

    def _submit(self) -> None:
        if self.runner.running:
            return
        self.status.clear()
        self.submitted.emit(
            self.mode,
            self.server_url.text(),
            self.user_id.text(),
            self.name.text(),
            self.token.text(),
        )
