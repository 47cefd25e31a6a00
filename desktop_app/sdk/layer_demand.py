"""Which layers of our camera anybody takes through the media server, so that a layer
nobody takes is neither encoded nor sent (what other SFUs call *dynacast*).

In a grid of eight everyone shows everyone small: each subscriber takes the grid layer of
each publisher, and the full camera picture — the costlier encode by far, ~10 % of a core
at 640×480 here — goes to Janus for nobody. Janus does not tell a publisher who takes its
streams, so subscribers say it themselves:

* **Saying.** A subscriber tells each publisher in its room what it takes of their
  picture now — ``{"type": "layers", "room": R, "take": ["grid"]}`` (``camera``, ``grid``,
  or nothing) — as a peer ``call.signal`` (the coordinator relays it to the one
  participant session, as it relays WebRTC offers). It says it again whenever that
  changes, to a publisher newly in the room, when asked, and after its event connection
  came back.
* **Deciding.** A publisher encodes a layer while anyone in the call takes it; someone who
  has not said (another client, a newcomer whose word is on its way, everyone just after
  our event connection came back) counts as taking every layer (:data:`UNSAID`): a layer
  is paused only on everyone's word.
* **Keyframe requests.** Janus asks a publisher for a keyframe whenever a subscriber starts
  or switches to a stream. Any request holds its layer on for :data:`HOLD_SECONDS` (the
  word of whoever just switched to it is on its way). A request for a *paused* layer
  resumes it at once and asks everyone what they take (``{"type": "layers", "room": R,
  "query": true}``; each answers with its word): it stays on until everyone has spoken
  since — a word lost costs an encode for nobody, not a frozen tile.
* **After our events came back** (``call.resync``) what was said to us meanwhile may be
  lost: everyone's word is forgotten and asked for again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from .sfu_plan import CAMERA, GRID

LAYERS = frozenset({CAMERA, GRID})
#: What a participant who has not said takes of our picture: anything.
UNSAID: frozenset[str] = LAYERS
#: How long any keyframe request keeps its layer on.
HOLD_SECONDS = 3.0
SIGNAL_TYPE = "layers"


def takes_signal(room: str, layers: Collection[str]) -> dict[str, Any]:
    """The peer signal that says what we take of its receiver's picture in ``room``."""
    return {"type": SIGNAL_TYPE, "room": room, "take": sorted(layers)}


def query_signal(room: str) -> dict[str, Any]:
    """The peer signal that asks its receiver what it takes of our picture in ``room``."""
    return {"type": SIGNAL_TYPE, "room": room, "query": True}


def parse_takes(signal: Mapping[str, Any]) -> tuple[str, frozenset[str] | None] | None:
    """(room, layers) from a ``layers`` signal — layers None for a query; None for
    anything malformed (a peer's word is input like any other: a bad one is ignored, not
    trusted)."""
    room, take = signal.get("room"), signal.get("take")
    if not isinstance(room, str):
        return None
    if signal.get("query") is True and take is None:
        return room, None
    if not isinstance(take, list):
        return None
    if not all(isinstance(layer, str) and layer in LAYERS for layer in take):
        return None
    return room, frozenset(take)


class LayerDemand:
    """What each participant said it takes of our picture, and the keyframe requests that
    keep layers on (times in seconds, any clock)."""

    def __init__(self) -> None:
        #: session → (when said, the layers), "when" counted in words and requests.
        self._said: dict[str, tuple[int, frozenset[str]]] = {}
        #: layer → when a keyframe request came for it while it was paused.
        self._asked: dict[str, int] = {}
        #: layer → until when the last keyframe request for it holds it on.
        self._held: dict[str, float] = {}
        self._count = 0

    def hear(self, session_id: str, layers: frozenset[str]) -> None:
        self._count += 1
        self._said[session_id] = (self._count, layers)

    def forget(self, session_id: str) -> None:
        self._said.pop(session_id, None)

    def forget_all(self) -> None:
        """What was said may be out of date (our events were cut): everyone is unsaid."""
        self._said.clear()

    def ask(self, layer: str, now: float, *, paused: bool) -> None:
        """A keyframe request for ``layer``: someone takes it (when it was ``paused``,
        against everyone's word — one may be lost)."""
        self._count += 1
        self._held[layer] = now + HOLD_SECONDS
        if paused:
            self._asked[layer] = self._count

    def decide(self, present: Collection[str], now: float) -> frozenset[str]:
        """The layers to send: those someone among ``present`` (the others in the call)
        takes by their word, those held by a recent keyframe request, and those asked
        for while paused until everyone has spoken since (their words then say who takes
        what)."""
        taken: set[str] = set()
        for session_id in present:
            taken |= self._said.get(session_id, (0, UNSAID))[1]
        for layer, until in list(self._held.items()):
            if now < until:
                taken.add(layer)
            else:
                del self._held[layer]
        for layer, at in list(self._asked.items()):
            if all(self._said.get(session_id, (0,))[0] > at for session_id in present):
                del self._asked[layer]
            else:
                taken.add(layer)
        return frozenset(taken)
