"""sfu_plan.py: which streams to ask Janus for, from what Janus says — no server."""

from __future__ import annotations

from desktop_app.protocol.calls import feed_commitment
from desktop_app.sdk.sfu_plan import (
    Feeds,
    FeedStream,
    as_request,
    people_of,
    plan,
    streams_of,
    wanted,
)

#: Each feed is its person's, as the coordinator's commitments say (feed "bob" → "p-bob").
PEOPLE = {feed: f"p-{feed}" for feed in ("bob", "carol", "dan")}


def _publisher(feed: str, *kinds: str) -> dict[str, object]:
    return {
        "id": feed,
        "display": feed,
        "streams": [{"type": kind, "mid": str(i), "mindex": i} for i, kind in enumerate(kinds)],
    }


def test_feeds_follow_janus_publishers_and_leave_ourselves_out() -> None:
    feeds = Feeds("me")
    assert feeds.update({"publishers": [_publisher("bob", "audio", "video"), _publisher("me")]})
    assert set(feeds.streams) == {"bob"}
    assert not feeds.update({"publishers": [_publisher("bob", "audio", "video")]}), "no change"
    assert feeds.update({"publishers": [_publisher("carol", "audio")]})
    assert feeds.update({"unpublished": "bob"}) and set(feeds.streams) == {"carol"}
    assert feeds.update({"leaving": "carol"}) and not feeds.streams
    assert not feeds.update({"leaving": "nobody"})
    # A feed that left is never taken again: its id was known to everyone in the room.
    assert not feeds.update({"publishers": [_publisher("bob", "audio", "video")]})
    assert "bob" not in feeds.streams
    # A disabled stream (a camera unpublished) is not offered.
    feeds.update({"publishers": [{"id": "dan", "streams": [
        {"type": "audio", "mid": "0"}, {"type": "video", "mid": "1", "disabled": True}]}]})  # fmt: skip
    assert feeds.streams["dan"] == [FeedStream("dan", "0", "audio")]


def test_everyones_audio_and_only_the_visible_peoples_video() -> None:
    feeds = Feeds("me")
    feeds.update(
        {"publishers": [_publisher(f, "audio", "video") for f in ("bob", "carol", "dan")]}
    )
    everything = wanted(feeds, PEOPLE, None)
    assert len(everything) == 6
    some = wanted(feeds, PEOPLE, {"p-bob"})
    assert {s.feed for s in some if s.kind == "audio"} == {"bob", "carol", "dan"}
    assert {s.feed for s in some if s.kind == "video"} == {"bob"}


def test_a_plan_is_the_difference_between_wanted_and_subscribed() -> None:
    feeds = Feeds("me")
    feeds.update({"publishers": [_publisher("bob", "audio", "video"), _publisher("carol", "audio", "video")]})
    subscribed = streams_of(
        [
            {"mid": "0", "type": "audio", "active": True, "feed_id": "bob", "feed_mid": "0"},
            {"mid": "1", "type": "video", "active": True, "feed_id": "bob", "feed_mid": "1"},
            {"mid": "2", "type": "audio", "active": True, "feed_id": "carol", "feed_mid": "0"},
            {"mid": "3", "type": "video", "active": False},  # recycled later
        ]
    )
    change = plan(wanted(feeds, PEOPLE, {"p-carol"}), subscribed)
    assert change.subscribe == [FeedStream("carol", "1", "video")]
    assert change.unsubscribe == [FeedStream("bob", "1", "video")]
    assert as_request(change.subscribe) == [{"feed": "carol", "mid": "1"}]
    assert plan(set(subscribed.values()), subscribed).empty


def test_a_recycled_m_line_belongs_to_its_new_feed() -> None:
    before = streams_of([{"mid": "3", "type": "video", "active": True, "feed_id": "bob", "feed_mid": "1"}])
    after = streams_of([{"mid": "3", "type": "video", "active": True, "feed_id": "dan", "feed_mid": "1"}])
    assert before["3"].feed == "bob" and after["3"].feed == "dan"
    assert streams_of([{"mid": "3", "type": "data", "active": True, "feed_id": "x"}]) == {}


def test_a_feed_is_someone_s_only_when_the_coordinator_vouches_for_its_id() -> None:
    commitments = {"p-bob": feed_commitment("bob-secret-id"), "p-carol": feed_commitment("c")}
    feeds = Feeds("me")
    feeds.update({"publishers": [_publisher(f, "audio", "video") for f in ("bob-secret-id", "p-carol", "x")]})
    people = people_of(feeds.streams, commitments)
    # Publishing under someone's session id (public) or an unknown id makes nobody's feed.
    assert people == {"bob-secret-id": "p-bob"}
    assert {s.feed for s in wanted(feeds, people, None)} == {"bob-secret-id"}
    assert people_of(feeds.streams, {}) == {}
