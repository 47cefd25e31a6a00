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
* :func:`plan` compares the two and says which ``{feed, mid}`` to ``subscribe`` and to
  ``unsubscribe``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from desktop_app.protocol.calls import feed_commitment

Kind = str  # "audio" | "video"


@dataclass(frozen=True)
class FeedStream:
    feed: str
    mid: str  # the publisher's mid
    kind: Kind


@dataclass(frozen=True)
class Plan:
    subscribe: list[FeedStream]
    unsubscribe: list[FeedStream]

    @property
    def empty(self) -> bool:
        return not self.subscribe and not self.unsubscribe


def feed_streams(publisher: Mapping[str, Any]) -> list[FeedStream]:
    """A publisher's live streams, from Janus's description of it."""
    feed = str(publisher.get("id", ""))
    streams = []
    for stream in publisher.get("streams", []) or []:
        kind = stream.get("type")
        if kind in ("audio", "video") and not stream.get("disabled") and "mid" in stream:
            streams.append(FeedStream(feed, str(stream["mid"]), kind))
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
            if self.streams.get(feed) != streams:
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


def wanted(
    feeds: Feeds, people: Mapping[str, str], visible: Collection[str] | None
) -> set[FeedStream]:
    """Every participant's audio; the video of the visible participants (everyone's when
    ``visible`` is None). One stream of each kind per feed (the first), which is all we
    publish. Only the feeds in ``people`` (see :func:`people_of`)."""
    chosen: set[FeedStream] = set()
    for feed, streams in feeds.streams.items():
        person = people.get(feed)
        if person is None:
            continue
        for kind in ("audio", "video"):
            stream = next((s for s in streams if s.kind == kind), None)
            if stream is None:
                continue
            if kind == "audio" or visible is None or person in visible:
                chosen.add(stream)
    return chosen


def plan(want: set[FeedStream], subscribed: Mapping[str, FeedStream]) -> Plan:
    have = set(subscribed.values())
    order = sorted  # stable requests: easier to read in logs and tests
    return Plan(
        subscribe=order(want - have, key=_key),
        unsubscribe=order(have - want, key=_key),
    )


def _key(stream: FeedStream) -> tuple[str, str]:
    return (stream.feed, stream.mid)


def as_request(streams: list[FeedStream]) -> list[dict[str, str]]:
    return [{"feed": s.feed, "mid": s.mid} for s in streams]
