"""Where the call's tiles go: a grid of up to :data:`PAGE_SIZE` a page, or the speaker
layout — one person large (the one talking), the others in a strip below it.

Either way only some tiles are on screen (a page of the grid; the featured tile and a
page of the strip): :meth:`TileGrid.visible_tiles` says which, and ``page_changed`` tells
when that may have changed, so the call receives video only for what is shown.
"""

from __future__ import annotations

import math
from typing import Literal

from PySide6.QtCore import QRect, QSize, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from .video_tile import VideoTile

PAGE_SIZE = 16
GAP = 8
#: The strip under the featured tile: this share of the height, within these bounds (px).
STRIP_SHARE = 0.2
STRIP_MIN, STRIP_MAX = 90, 180

Layout = Literal["grid", "speaker"]


def grid_shape(count: int, width: int, height: int) -> tuple[int, int]:
    """Columns and rows for ``count`` tiles that keep them closest to 16:9."""
    if count <= 0:
        return 1, 1
    best, best_score = (1, count), -1.0
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        tile_w, tile_h = width / columns, height / rows
        shown = min(tile_w, tile_h * 16 / 9)  # width of a 16:9 picture that fits
        if shown >= best_score - 1e-9:  # a tie goes to more columns (screens are wide)
            best, best_score = (columns, rows), shown
    return best


def strip_height(height: int) -> int:
    return max(STRIP_MIN, min(STRIP_MAX, round(height * STRIP_SHARE)))


def strip_size(width: int, height: int) -> int:
    """How many 16:9 tiles fit side by side in the strip of a ``width`` × ``height`` area."""
    tile = strip_height(height) * 16 / 9
    return max(1, int((width + GAP) // (tile + GAP)))


#: The least room the grid takes: two rows of the smallest tiles (VideoTile's minimum).
MINIMUM = QSize(2 * 160 + GAP, 2 * 90 + GAP)


class TileGrid(QWidget):
    page_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # It takes what room there is (it has no size of its own to ask for), but never
        # less than two rows of the smallest tiles: below that the window clipped them,
        # and the speaker layout lost its large tile.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(MINIMUM)
        self.tiles: list[VideoTile] = []
        self.page = 0
        self.layout_mode: Layout = "grid"
        #: The tile shown large in the speaker layout.
        self.featured: VideoTile | None = None

    # --- what is shown -----------------------------------------------------------------

    @property
    def per_page(self) -> int:
        if self.layout_mode == "speaker" and len(self.tiles) > 1:
            return strip_size(self.width(), self.height())
        return PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(len(self._paged()) / self.per_page))

    def set_tiles(self, tiles: list[VideoTile]) -> None:
        self.tiles = tiles
        for tile in tiles:
            tile.setParent(self)
        if self.featured not in tiles:
            self.featured = None
        self.page = min(self.page, self.pages - 1)
        self._place()

    def set_layout(self, mode: Layout) -> None:
        if mode != self.layout_mode:
            self.layout_mode = mode
            self.page = 0
            self._place()

    def feature(self, tile: VideoTile | None) -> None:
        """Show ``tile`` large in the speaker layout (None: the first tile)."""
        if tile is not self.featured and (tile is None or tile in self.tiles):
            self.featured = tile
            self.page = min(self.page, self.pages - 1)
            self._place()

    def turn(self, step: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + step))
        self._place()

    def visible_tiles(self) -> list[VideoTile]:
        paged = self._paged()
        shown = paged[self.page * self.per_page : (self.page + 1) * self.per_page]
        big = self._big()
        return [big, *shown] if big is not None else shown

    # --- placing -----------------------------------------------------------------------

    def _big(self) -> VideoTile | None:
        if self.layout_mode != "speaker" or len(self.tiles) < 2:
            return None
        return self.featured if self.featured in self.tiles else self.tiles[0]

    def _paged(self) -> list[VideoTile]:
        big = self._big()
        return [t for t in self.tiles if t is not big]

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._place()

    def _place(self) -> None:
        shown = self.visible_tiles()
        for tile in self.tiles:
            tile.setVisible(tile in shown)
        big = self._big()
        if big is None:
            self._place_grid(shown, QRect(0, 0, self.width(), self.height()))
        else:
            strip = strip_height(self.height())
            big.setGeometry(QRect(0, 0, self.width(), self.height() - strip - GAP))
            self._place_strip(shown[1:], self.height() - strip, strip)
        self.page_changed.emit()

    def _place_grid(self, shown: list[VideoTile], area: QRect) -> None:
        columns, rows = grid_shape(len(shown), area.width(), area.height())
        width = (area.width() - GAP * (columns - 1)) / columns
        height = (area.height() - GAP * (rows - 1)) / rows
        for index, tile in enumerate(shown):
            row, column = divmod(index, columns)
            in_row = min(columns, len(shown) - row * columns)
            offset = (columns - in_row) * (width + GAP) / 2  # centre a short last row
            tile.setGeometry(
                QRect(
                    round(area.x() + offset + column * (width + GAP)),
                    round(area.y() + row * (height + GAP)),
                    round(width),
                    round(height),
                )
            )

    def _place_strip(self, shown: list[VideoTile], top: int, height: int) -> None:
        width = height * 16 / 9
        total = len(shown) * width + GAP * max(0, len(shown) - 1)
        left = (self.width() - total) / 2  # centred under the featured tile
        for index, tile in enumerate(shown):
            x = left + index * (width + GAP)
            tile.setGeometry(QRect(round(x), top, round(width), height))
