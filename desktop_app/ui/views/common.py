"""Small pieces every view uses: a title, an error line, a spinner row, card frames."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..tasks import Runner
from ..widgets.spinner import Spinner


def names_phrase(names: list[str], most: int = 3) -> str:
    """ "Bob", "Bob and Carol", "Bob, Carol and Dan", "Bob, Carol and 3 others"."""
    if len(names) <= 1:
        return "".join(names)
    if len(names) > most:
        return f"{', '.join(names[: most - 1])} and {len(names) - most + 1} others"
    return ", ".join(names[:-1]) + " and " + names[-1]


def label(text: str, role: str = "", wrap: bool = False) -> QLabel:
    widget = QLabel(text)
    if role:
        widget.setProperty("role", role)
    widget.setWordWrap(wrap)
    return widget


class ElidedLabel(QLabel):
    """One line that ends in "…" when it has not the room: a long title ("Call with" four
    long names) must not set the window's minimum width. ``text()`` stays whole."""

    def __init__(self, text: str = "", role: str = "") -> None:
        super().__init__(text)
        if role:
            self.setProperty("role", role)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(
            min(hint.width(), self.fontMetrics().horizontalAdvance("M") * 6), hint.height()
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        rect = self.contentsRect()
        metrics = self.fontMetrics()
        shown = metrics.elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        self.style().drawItemText(
            painter, rect, int(self.alignment()), self.palette(), self.isEnabled(), shown,
            self.foregroundRole(),
        )  # fmt: skip

    def is_elided(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()


def ask(
    parent: QWidget,
    title: str,
    text: str,
    do: tuple[str, Callable[[], None]],
    keep: str = "Cancel",
    *,
    warning: bool = False,
) -> QMessageBox:
    """A question before something that cannot be undone: ``do`` is the button that does
    it and what it does; ``keep`` (and Esc, and Enter: the default) changes nothing — a
    key pressed by habit must not do what was asked about. Window-modal, opened; the box
    is returned for the caller to keep (tests press its buttons)."""
    icon = QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Question
    question = QMessageBox(icon, title, text, parent=parent)
    role = QMessageBox.ButtonRole.DestructiveRole if warning else QMessageBox.ButtonRole.AcceptRole
    question.addButton(do[0], role).clicked.connect(do[1])
    keeping = question.addButton(keep, QMessageBox.ButtonRole.RejectRole)
    question.setDefaultButton(keeping)
    question.setEscapeButton(keeping)
    question.open()
    keeping.setFocus()
    return question


def button(text: str, role: str = "", on_click: Callable[[], None] | None = None) -> QPushButton:
    widget = QPushButton(text)
    if role:
        widget.setProperty("role", role)
    if on_click is not None:
        widget.clicked.connect(on_click)
    return widget


def card(*children: QWidget, title: str = "") -> QFrame:
    frame = QFrame()
    frame.setProperty("role", "card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 14, 16, 14)
    layout.setSpacing(8)
    if title:
        layout.addWidget(label(title, "title"))
    for child in children:
        layout.addWidget(child)
    layout.addStretch(1)
    return frame


class StatusRow(QWidget):
    """A spinner and an error sentence, driven by a :class:`Runner`."""

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.spinner = Spinner(self)
        self.error = label("", "error", wrap=True)
        # An error coming and going must not move what is below it (a click meant for
        # one row would land on the next).
        policy = self.error.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.error.setSizePolicy(policy)
        self.error.hide()
        layout.addWidget(self.spinner)
        layout.addWidget(self.error, 1)
        runner.busy.connect(self.spinner.set_busy)
        runner.failed.connect(self.show_error)
        runner.busy.connect(self._busy)

    def _busy(self, busy: bool) -> None:
        if busy:
            self.clear()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def clear(self) -> None:
        self.show_error("")


def scrolling(view: QWidget, content: QWidget) -> None:
    """Put ``content`` in ``view`` inside a scroll area: on a small screen (or at 200 %
    scale) every button stays reachable instead of falling off the window's edge."""
    area = QScrollArea(view)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(content)
    layout = QVBoxLayout(view)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(area)
