"""One participant's tile: the picture, or an avatar with initials when the camera is off;
the name, a muted-microphone mark, a green edge while speaking, and the connection state.

Frames are pulled from an aiortc track by a task on the GUI loop (qasync) and handed to a
:class:`LatestFrameConverter`, which makes them pictures at the tile's size on a worker
thread; the tile paints the newest picture.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import av
import shiboken6
from aiortc.mediastreams import MediaStreamError
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..resources import icon
from ..theme import colors
from .frame_converter import LatestFrameConverter, Picture

log = logging.getLogger(__name__)


def initials(name: str) -> str:
    """Two letters for an avatar: of the first and last words ("Walt Walker (you)" is
    "WW": words that do not start with a letter or digit are not names)."""
    parts = [p for p in name.replace("_", " ").replace(".", " ").split() if p[0].isalnum()]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()


#: Bars lit and their colour for each quality level (three bars, like a phone's signal).
QUALITY_BARS = {"good": (3, "#3ccf7a"), "fair": (2, "#f2b233"), "poor": (1, "#ff6b6b")}
BARS_WIDTH = 14


def _paint_bars(painter: QPainter, box: QRectF, quality: str) -> None:
    lit, color = QUALITY_BARS[quality]
    bar = box.width() / 4
    for index in range(3):
        height = box.height() * (index + 1) / 3
        painter.setBrush(QColor(color) if index < lit else QColor(255, 255, 255, 70))
        painter.drawRoundedRect(
            QRectF(box.x() + index * bar * 1.5, box.bottom() - height, bar, height), 1, 1
        )


class VideoTile(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(QSize(160, 90))
        self.name = ""
        self._person = ""
        self.muted = False
        self.video_off = True
        self.speaking = False
        self.state = ""
        #: The connection's quality as bars: "good", "fair", "poor" (None: not shown).
        self.quality: str | None = None
        self.mirrored = False
        self._picture: Picture | None = None
        self._converter = LatestFrameConverter(self._box, self._converted)
        self._track: Any = None
        self._owns_track = False
        self._pump: asyncio.Task[None] | None = None
        #: Frames handed to the tile and frames painted (tests and benchmarks read these).
        self.frames_shown = 0
        self.frames_painted = 0
        self._overlay_key: tuple[object, ...] | None = None
        self._overlay_pixmap: QPixmap | None = None

    # --- what the tile shows ------------------------------------------------------------

    def set_name(self, name: str, person: str | None = None) -> None:
        """``person``: who it is (a user id) — their avatar has the same colour wherever
        they appear, lobby or call, "(you)" or not (by default the name's)."""
        person = person if person is not None else name
        if (name, person) != (self.name, self._person):
            self.name, self._person = name, person
            self.update()

    def set_mirrored(self, mirrored: bool) -> None:
        if mirrored != self.mirrored:
            self.mirrored = mirrored
            self.update()

    def set_muted(self, muted: bool) -> None:
        if muted != self.muted:
            self.muted = muted
            self.update()

    def set_speaking(self, speaking: bool) -> None:
        if speaking != self.speaking:
            self.speaking = speaking
            self.update()

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.update()

    def set_quality(self, quality: str | None) -> None:
        if quality != self.quality:
            self.quality = quality
            self.update()

    def set_video_off(self, off: bool) -> None:
        if off != self.video_off:
            self.video_off = off
            self._picture = None  # never show a stale picture
            self._converter.forget()
            self.update()

    @property
    def track(self) -> Any:
        return self._track

    def set_track(self, track: Any, *, owned: bool = False) -> None:
        """Show the frames of ``track`` (None: none); the previous pump stops, and the
        previous track too when the tile ``owned`` it (a branch made for this tile)."""
        if track is self._track:
            return
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if self._owns_track and self._track is not None:
            self._track.stop()
        self._track, self._owns_track = track, owned
        if track is not None:
            self._pump = asyncio.ensure_future(self._pull(track))

    async def _pull(self, track: Any) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if not shiboken6.isValid(self):
                    return  # the tile was deleted with its window: nobody to show it to
                if isinstance(frame, av.VideoFrame):
                    self.show_frame(frame)

    def show_frame(self, frame: av.VideoFrame) -> None:
        self.frames_shown += 1
        if self.video_off:  # a frame still in flight after "camera off" is not shown
            return
        if self.isVisible() and not self.window().isMinimized():
            self._converter.convert(frame)
        else:  # nobody sees it: converted once the tile shows again
            self._converter.keep(frame)

    def _box(self) -> tuple[QSize, float]:
        if not shiboken6.isValid(self):
            return QSize(0, 0), 1.0  # deleted with its window while a frame was converted
        ratio = self.devicePixelRatioF()
        return QSize(round(self.width() * ratio), round(self.height() * ratio)), ratio

    def _converted(self, picture: Picture) -> None:
        if shiboken6.isValid(self) and not self.video_off:
            self._picture = picture
            self.update()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.video_off:
            self._converter.again()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The picture is made again at the new size (a still picture too)."""
        super().resizeEvent(event)
        if not self.video_off:
            self._converter.again()

    def stop(self) -> None:
        self.set_track(None)
        self._converter.forget()

    # --- painting -------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        c = colors()
        painter = QPainter(self)
        rect = QRectF(self.rect())
        painter.setPen(Qt.PenStyle.NoPen)
        if self._picture is not None and not self.video_off:
            image = self._picture.image
            logical = image.deviceIndependentSize()
            x = (self.width() - logical.width()) / 2
            y = (self.height() - logical.height()) / 2
            # Only the bars beside the picture need the background (no full-tile fill
            # under a full-tile picture: that doubled the cost of a 720p frame).
            painter.setBrush(QColor(c.tile))
            if x > 0.5:
                painter.drawRect(QRectF(0, 0, x, self.height()))
                painter.drawRect(QRectF(x + logical.width(), 0, x + 1, self.height()))
            if y > 0.5:
                painter.drawRect(QRectF(0, 0, self.width(), y))
                painter.drawRect(QRectF(0, y + logical.height(), self.width(), y + 1))
            if self.mirrored:
                painter.save()
                painter.translate(self.width(), 0)
                painter.scale(-1, 1)
                painter.drawImage(QPointF(x, y), image)
                painter.restore()
            else:
                painter.drawImage(QPointF(x, y), image)
            self.frames_painted += 1
        else:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(c.tile))
            painter.drawRoundedRect(rect, 10, 10)
            self._paint_avatar(painter)
        painter.drawPixmap(QPointF(8, self.height() - 30), self._overlay())
        if self.speaking:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(c.speaking), 3))
            painter.drawRoundedRect(rect.adjusted(1.5, 1.5, -1.5, -1.5), 10, 10)

    def _paint_avatar(self, painter: QPainter) -> None:
        diameter = max(32, min(self.width(), self.height()) * 0.4)
        circle = QRectF(
            (self.width() - diameter) / 2, (self.height() - diameter) / 2, diameter, diameter
        )
        hue = sum(map(ord, self._person)) * 37 % 360
        painter.setBrush(QColor.fromHsv(hue, 110, 190))
        painter.drawEllipse(circle)
        font = QFont(self.font())
        font.setPixelSize(max(12, int(diameter * 0.38)))
        font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(circle, Qt.AlignmentFlag.AlignCenter, initials(self.name))

    def _overlay(self) -> QPixmap:
        """The name pill (with the muted mark and state), drawn once per change."""
        key = (
            self.name,
            self.muted,
            self.state,
            self.quality,
            self.width(),
            self.devicePixelRatioF(),
        )
        if self._overlay_key == key and self._overlay_pixmap is not None:
            return self._overlay_pixmap
        font = QFont(self.font())
        font.setPixelSize(13)
        metrics = QFontMetrics(font)
        text = self.name + (
            "" if not self.state or self.state == "connected" else f" · {self.state}"
        )
        icon_size = 16
        bars = self.quality in QUALITY_BARS
        width = (
            metrics.horizontalAdvance(text)
            + 16
            + (icon_size + 4 if self.muted else 0)
            + (BARS_WIDTH + 6 if bars else 0)
        )
        width = max(24, min(width, self.width() - 16))
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(round(width * ratio), round(22 * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(QRectF(0, 0, width, 22), 6, 6)
        x = 8.0
        if self.muted:
            icon("mic-off", "#ff6b6b").paint(painter, QRect(int(x), 3, icon_size, icon_size))
            x += icon_size + 4
        right = width - 4 - (BARS_WIDTH + 6 if bars else 0)
        if bars:
            _paint_bars(painter, QRectF(right + 4, 5, BARS_WIDTH, 12), str(self.quality))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(
            QRectF(x, 0, right - x, 22),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(right - x)),
        )
        painter.end()
        self._overlay_key, self._overlay_pixmap = key, pixmap
        return pixmap
