"""Waiting in Qt tests without a nested event loop."""

from __future__ import annotations

from tests.sdk.support import eventually

__all__ = ["eventually"]
