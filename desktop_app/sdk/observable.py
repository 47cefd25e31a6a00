"""A small typed observable value: what the UI binds to (through Qt controllers).

Subscribers are called synchronously, in order, whenever the value changes (``!=``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Observable(Generic[T]):
    def __init__(self, value: T) -> None:
        self._value = value
        self._subscribers: list[Callable[[T], None]] = []

    @property
    def value(self) -> T:
        return self._value

    def set(self, value: T) -> None:
        if value == self._value:
            return
        self._value = value
        for subscriber in list(self._subscribers):
            try:
                subscriber(value)
            except Exception:  # one broken subscriber must not stop the others
                log.exception("observable subscriber failed")

    def notify(self) -> None:
        """Tell subscribers the value changed inside (same object, new content)."""
        for subscriber in list(self._subscribers):
            try:
                subscriber(self._value)
            except Exception:
                log.exception("observable subscriber failed")

    def subscribe(
        self, subscriber: Callable[[T], None], *, now: bool = False
    ) -> Callable[[], None]:
        """Call ``subscriber`` on every change (and once at once with ``now``); returns the
        function that unsubscribes."""
        self._subscribers.append(subscriber)
        if now:
            subscriber(self._value)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe
