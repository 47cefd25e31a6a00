"""Icons, the ringtone and the app icon from the top-level ``resources/`` folder.

Icons are single-colour SVGs drawn with ``#000000``; they are re-coloured for the theme and
rendered at the screen's pixel ratio, so they stay crisp at 200 % scale.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer


def resources_dir() -> Path:
    bundled = getattr(sys, "_MEIPASS", None)  # a PyInstaller bundle keeps it beside the code
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def resource(name: str) -> Path:
    return resources_dir() / name


def _render(svg: bytes, size: int, ratio: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    pixmap = QPixmap(QSize(round(size * ratio), round(size * ratio)))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, pixmap.width(), pixmap.height()))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


@cache
def icon(name: str, color: str = "#000000", size: int = 24) -> QIcon:
    svg = resource(f"icons/{name}.svg").read_bytes().replace(b"#000000", color.encode())
    result = QIcon()
    screen = QGuiApplication.primaryScreen()
    ratios = {1.0, 2.0, screen.devicePixelRatio() if screen else 1.0}
    for ratio in sorted(ratios):
        result.addPixmap(_render(svg, size, ratio))
    return result


@cache
def app_icon() -> QIcon:
    svg = resource("parley.svg").read_bytes()
    result = QIcon()
    for size in (16, 32, 64, 128, 256):
        result.addPixmap(_render(svg, size, 1.0))
    return result


@cache
def presence_dot(online: bool) -> QIcon:
    """A filled green dot (online) or a hollow grey ring (offline), for people lists."""
    pixmap = QPixmap(QSize(24, 24))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    if online:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2ea043"))
        painter.drawEllipse(QRectF(6, 6, 12, 12))
    else:
        painter.setPen(QPen(QColor("#8b949e"), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QRectF(7, 7, 10, 10))
    painter.end()
    return QIcon(pixmap)
