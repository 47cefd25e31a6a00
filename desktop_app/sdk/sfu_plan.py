"""What to ask Janus for: the sans-I/O core of an SFU session's subscriptions.

* **Feeds** are the room's publishers as Janus announces them (``publishers`` in the
  publisher handle's ``joined`` answer and later events; ``unpublished`` / ``leaving``
  when they go), each with its streams (``mid``, ``type``). A publisher's id is one the
  coordinator gave its participant session; the others know it only by its commitment
  (``media.feeds``), and :func:`people_of` says whose each feed is.
* **Wanted**: every participant's audio, always (people are heard whether or not their
  tile is on screen); their video only while their tile is visible (``visible``; ``None``
  = all). A feed no participant's commitment matches is nobody's: never subscribed.
* **Subscribed**: the subscriber connection's streams as Janus last described them
  (``streams`` in ``attached`` / ``updated``): our ``mid`` → (feed, feed's mid, kind) for
  the active ones. Janus recycles an inactive m-line for a later stream, so a ``mid``
  can belong to another feed after an update; :func:`streams_of` is the one reader of it.
* **Layers.** A publisher may send its camera twice: full, and a grid layer (described
  ``"grid"``, :mod:`desktop_app.media.grid_layer`). A tile no taller than
  :data:`GRID_TILE_HEIGHT` takes the grid layer (:func:`sharp_of` says who needs more).
* :func:`plan` compares the two and says which ``{feed, mid}`` to ``subscribe`` and to
  ``unsubscribe`` — and which of our m-lines to ``switch`` to another layer of the same
  person (Janus then feeds it from that stream: no renegotiation, and the person's
  track goes on).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from desktop_app.protocol.calls import feed_commitment

Kind = str  # "audio" | "video"

#: How a publisher describes its camera's full picture and its grid layer (Janus's
#: ``descriptions`` of a ``publish``).
CAMERA, GRID = "camera", "grid"
#: A tile at most this tall (device pixels) takes a feed's grid layer (240 lines: at
#: most 1.5× enlarged)…
GRID_TILE_HEIGHT = 360
#: … give or take this much, by which layer it has now (a window resized about the
#: threshold does not switch back and forth: each switch waits for a keyframe).
HYSTERESIS = 30


@dataclass(frozen=True)
class FeedStream:
    feed: str
    mid: str  # the publisher's mid
    kind: Kind
    #: The publisher's description of the stream (:data:`GRID` for a grid layer). Janus
    #: does not repeat it in a subscriber's streams, so it is no part of a stream's identity.
    layer: str = field(default="", compare=False)


@dataclass(frozen=True)
class Plan:
    subscribe: list[FeedStream]
    unsubscribe: list[FeedStream]
    #: Our m-line → the stream to feed it from instead (another layer of the same feed).
    switch: list[tuple[str, FeedStream]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.subscribe and not self.unsubscribe and not self.switch

    @property
    def targets(self) -> list[FeedStream]:
        """The streams asked for (a feed gone meanwhile makes Janus refuse the request)."""
        return [*self.subscribe, *(stream for _, stream in self.switch)]


def feed_streams(publisher: Mapping[str, Any]) -> list[FeedStream]:
    """A publisher's live streams, from Janus's description of it."""
    feed = str(publisher.get("id", ""))
    streams = []
    for stream in publisher.get("streams", []) or []:
        kind = stream.get("type")
        if kind in ("audio", "video") and not stream.get("disabled") and "mid" in stream:
            layer = str(stream.get("description") or "")
            streams.append(FeedStream(feed, str(stream["mid"]), kind, layer))
    return streams


class Feeds:
    """The room's publishers (except ourselves) and their streams."""

    def __init__(self, own_id: str) -> None:
        self.own_id = own_id
        self.streams: dict[str, list[FeedStream]] = {}
        #: Feeds that left: never taken again. A participant never reuses its id in a
        #: room, and once used an id is known to everyone in it — so one that comes back
        #: is somebody else's.
        self.gone: set[str] = set()

    def update(self, data: Mapping[str, Any]) -> bool:
        """Apply a VideoRoom ``joined`` / ``event`` message; whether the feeds changed."""
        changed = False
        for publisher in data.get("publishers", []) or []:
            feed = str(publisher.get("id", ""))
            if not feed or feed == self.own_id or feed in self.gone:
                continue
            streams = feed_streams(publisher)
            if _described(self.streams.get(feed)) != _described(streams):
                self.streams[feed] = streams
                changed = True
        for key in ("unpublished", "leaving"):
            gone = data.get(key)
            if gone is not None:
                self.gone.add(str(gone))
                if str(gone) in self.streams:
                    del self.streams[str(gone)]
                    changed = True
        return changed


def streams_of(described: list[Mapping[str, Any]]) -> dict[str, FeedStream]:
    """Our subscriber's active streams by our ``mid``, from ``attached`` / ``updated``."""
    active: dict[str, FeedStream] = {}
    for stream in described:
        if not stream.get("active", True) or "feed_id" not in stream:
            continue
        kind = stream.get("type")
        if kind in ("audio", "video"):
            active[str(stream["mid"])] = FeedStream(
                str(stream["feed_id"]), str(stream.get("feed_mid", "")), kind
            )
    return active


def people_of(feeds: Iterable[str], commitments: Mapping[str, str]) -> dict[str, str]:
    """Feed → participant session id, for the feeds whose commitment the coordinator
    gave (``commitments``: participant session id → commitment)."""
    by_commitment = {commitment: person for person, commitment in commitments.items()}
    people = {}
    for feed in feeds:
        person = by_commitment.get(feed_commitment(feed))
        if person is not None:
            people[feed] = person
    return people


def sharp_of(
    heights: Mapping[str, int] | None, before: Collection[str] | None = None
) -> set[str] | None:
    """Who needs the full picture: the people whose tile is taller than
    :data:`GRID_TILE_HEIGHT` (``heights``: person → tile height; None: unknown, everyone),
    with :data:`HYSTERESIS` around it for those ``before`` said (None: everyone)."""
    if heights is None:
        return None

    def sharp(person: str, height: int) -> bool:
        had = before is None or person in before
        return height > GRID_TILE_HEIGHT + (-HYSTERESIS if had else HYSTERESIS)

    return {person for person, height in heights.items() if sharp(person, height)}


def wanted(
    feeds: Feeds,
    people: Mapping[str, str],
    visible: Collection[str] | None,
    sharp: Collection[str] | None = None,
) -> set[FeedStream]:
    """Every participant's audio; the video of the visible participants (everyone's when
    ``visible`` is None) — the full picture for those in ``sharp`` (None: everyone), the
    grid layer for the others where their feed has one. Only the feeds in ``people``
    (see :func:`people_of`)."""
    chosen: set[FeedStream] = set()
    for feed, streams in feeds.streams.items():
        person = people.get(feed)
        if person is None:
            continue
        audio = next((s for s in streams if s.kind == "audio"), None)
        if audio is not None:
            chosen.add(audio)
        if visible is not None and person not in visible:
            continue
        video = [s for s in streams if s.kind == "video"]
        full = next((s for s in video if s.layer != GRID), None)
        grid = next((s for s in video if s.layer == GRID), None)
        small = sharp is not None and person not in sharp
        picture = (grid or full) if small else (full or grid)
        if picture is not None:
            chosen.add(picture)
    return chosen


def layers_taken(
    subscribed: Mapping[str, FeedStream], feeds: Feeds, people: Mapping[str, str]
) -> dict[str, frozenset[str]]:
    """What we take of each person's picture now (person → :data:`CAMERA` / :data:`GRID`;
    empty: none), by the layers their feeds described (an undescribed stream is a camera)."""
    layer_of = {(s.feed, s.mid): s.layer for streams in feeds.streams.values() for s in streams}
    taken: dict[str, set[str]] = {person: set() for person in people.values()}
    for stream in subscribed.values():
        person = people.get(stream.feed)
        if person is not None and stream.kind == "video":
            layer = layer_of.get((stream.feed, stream.mid))
            taken[person].add(GRID if layer == GRID else CAMERA)
    return {person: frozenset(layers) for person, layers in taken.items()}


def plan(want: set[FeedStream], subscribed: Mapping[str, FeedStream]) -> Plan:
    """What to ask for. A person's video m-line that should now carry another layer of
    theirs is switched, not unsubscribed and subscribed again."""
    have = set(subscribed.values())
    subscribe, unsubscribe = want - have, have - want
    video_line = {s.feed: mid for mid, s in subscribed.items() if s.kind == "video"}
    switch: list[tuple[str, FeedStream]] = []
    for stream in sorted(subscribe, key=_key):
        mid = video_line.get(stream.feed)
        if stream.kind == "video" and mid is not None and subscribed[mid] in unsubscribe:
            switch.append((mid, stream))
            subscribe.discard(stream)
            unsubscribe.discard(subscribed[mid])
    order = sorted  # stable requests: easier to read in logs and tests
    return Plan(
        subscribe=order(subscribe, key=_key),
        unsubscribe=order(unsubscribe, key=_key),
        switch=switch,
    )


def _key(stream: FeedStream) -> tuple[str, str]:
    return (stream.feed, stream.mid)


def as_request(streams: list[FeedStream]) -> list[dict[str, str]]:
    return [{"feed": s.feed, "mid": s.mid} for s in streams]


def as_switch(switch: list[tuple[str, FeedStream]]) -> list[dict[str, str]]:
    return [{"feed": s.feed, "mid": s.mid, "sub_mid": mid} for mid, s in switch]


def _described(streams: list[FeedStream] | None) -> list[tuple[str, str, str, str]] | None:
    """Streams with their descriptions (a layer described later is a change)."""
    if streams is None:
        return None
    return [(s.feed, s.mid, s.kind, s.layer) for s in streams]
