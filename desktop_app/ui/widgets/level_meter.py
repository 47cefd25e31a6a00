"""A horizontal level meter (0–1), for the lobby's microphone check."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..theme import colors


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._level = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(10)

    def sizeHint(self) -> QSize:
        return QSize(200, 10)

    @property
    def level(self) -> float:
        return self._level

    def set_level(self, level: float) -> None:
        level = min(1.0, max(0.0, level))
        if abs(level - self._level) > 0.01:
            self._level = level
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        c = colors()
        rect = QRectF(0, 0, self.width(), self.height())
        painter.setPen(QColor(0, 0, 0, 0))
        painter.setBrush(QColor(c.alt))
        painter.drawRoundedRect(rect, 5, 5)
        painter.setBrush(QColor(c.speaking))
        painter.drawRoundedRect(QRectF(0, 0, self.width() * self._level, self.height()), 5, 5)
