"""Light and dark themes: Fusion with explicit palettes (a colour-scheme hint does nothing
on some platforms and offscreen), one accent, and a short style sheet for the few widgets
that need more than a palette (round call buttons, the red leave button, tiles)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from .resources import resource


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alt: str
    text: str
    muted: str
    accent: str
    danger: str
    tile: str
    speaking: str


LIGHT = Colors(
    window="#f4f5f7",
    base="#ffffff",
    alt="#e9ebef",
    text="#1d2230",
    muted="#6b7280",
    accent="#2f6fde",
    danger="#d93a3a",
    tile="#2b3040",
    speaking="#3ccf7a",
)
DARK = Colors(
    window="#181a20",
    base="#22252d",
    alt="#2c3038",
    text="#e8eaf0",
    muted="#9aa1ad",
    accent="#5a8ef0",
    danger="#e5534b",
    tile="#0f1115",
    speaking="#3ccf7a",
)

_current = LIGHT
#: Icons drawn in the theme's colours, by widget: re-drawn when the theme changes (an icon
#: drawn for light stays dark-on-dark otherwise).
_themed: dict[int, tuple[Any, Callable[[], QIcon]]] = {}


def colors() -> Colors:
    return _current


def themed_icon(widget: Any, make: Callable[[], QIcon]) -> None:
    """Give ``widget`` the icon ``make()`` draws now, and again after every theme change
    (``make`` reads :func:`colors`)."""
    widget.setIcon(make())
    key = id(widget)
    if key not in _themed:  # once per widget (toggles re-register on every refresh)
        widget.destroyed.connect(lambda *_: _themed.pop(key, None))
    _themed[key] = (widget, make)


def _redraw_icons() -> None:
    for key, (widget, make) in list(_themed.items()):
        if shiboken6.isValid(widget):
            widget.setIcon(make())
        else:
            _themed.pop(key, None)


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints and hints.colorScheme().name == "Dark")


def apply_theme(app: QApplication, name: str = "light") -> Colors:
    """``name``: light, dark, or system."""
    global _current
    dark = name == "dark" or (name == "system" and system_prefers_dark())
    c = _current = DARK if dark else LIGHT
    app.setStyle("Fusion")
    palette = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window),
        (role.WindowText, c.text),
        (role.Base, c.base),
        (role.AlternateBase, c.alt),
        (role.Text, c.text),
        (role.Button, c.alt),
        (role.ButtonText, c.text),
        (role.ToolTipBase, c.base),
        (role.ToolTipText, c.text),
        (role.PlaceholderText, c.muted),
        (role.Highlight, c.accent),
        (role.HighlightedText, "#ffffff"),
        (role.Link, c.accent),
        (role.BrightText, "#ffffff"),
    ):
        palette.setColor(r, QColor(value))
    disabled = QPalette.ColorGroup.Disabled
    for r in (role.Text, role.ButtonText, role.WindowText):
        palette.setColor(disabled, r, QColor(c.muted))
    app.setPalette(palette)
    app.setStyleSheet(_style_sheet(c))
    _redraw_icons()
    return c


def _style_sheet(c: Colors) -> str:
    check = resource("check.svg").as_posix()
    return f"""
    QPushButton {{ padding: 6px 14px; border-radius: 6px; border: 1px solid {c.alt};
                   background: {c.base}; }}
    QPushButton:hover {{ border-color: {c.accent}; }}
    QPushButton:default {{ border: 2px solid {c.accent}; }}
    QPushButton:disabled {{ color: {c.muted}; }}
    QPushButton[role="primary"] {{ background: {c.accent}; color: white; border: none; }}
    QPushButton[role="danger"] {{ background: {c.danger}; color: white; border: none; }}
    QToolButton[role="control"] {{ border-radius: 22px; padding: 8px; background: {c.alt};
                                   border: none; }}
    QToolButton[role="control"]:checked {{ background: {c.danger}; }}
    QToolButton[role="panel"] {{ border-radius: 22px; padding: 8px; background: {c.alt};
                                 border: none; }}
    QToolButton[role="panel"]:checked {{ background: {c.accent}; }}
    QToolButton[role="danger"] {{ border-radius: 22px; padding: 8px; background: {c.danger};
                                  border: none; }}
    QLabel[role="title"] {{ font-size: 20px; font-weight: 600; }}
    QLabel[role="muted"] {{ color: {c.muted}; }}
    QLabel[role="error"] {{ color: {c.danger}; }}
    QLabel[role="hint"] {{ background: {c.text}; color: {c.base}; border-radius: 6px;
        padding: 6px 12px; }}
    QFrame[role="banner"] {{ background: {c.alt}; border-radius: 6px; }}
    QFrame[role="card"] {{ background: {c.base}; border: 1px solid {c.alt}; border-radius: 10px; }}
    QLineEdit, QComboBox {{ padding: 2px 6px; min-height: 24px; }}
    QCheckBox::indicator, QRadioButton::indicator, QListView::indicator {{
        width: 14px; height: 14px; border: 2px solid {c.muted}; background: {c.base}; }}
    QCheckBox::indicator, QListView::indicator {{ border-radius: 3px; }}
    QRadioButton::indicator {{ border-radius: 9px; }}
    QCheckBox::indicator:checked, QRadioButton::indicator:checked,
    QListView::indicator:checked {{ background: {c.accent}; border-color: {c.accent}; }}
    QCheckBox::indicator:checked, QListView::indicator:checked {{ image: url({check}); }}
    """
