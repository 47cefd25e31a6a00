"""sfu_plan.py: which streams to ask Janus for, from what Janus says — no server."""

from __future__ import annotations

from desktop_app.protocol.calls import feed_commitment
from desktop_app.sdk.sfu_plan import (
    GRID_TILE_HEIGHT,
    HYSTERESIS,
    Feeds,
    FeedStream,
    Plan,
    as_request,
    as_switch,
    layers_taken,
    people_of,
    plan,
    sharp_of,
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
    feeds.update({"publishers": [_publisher(f, "audio", "video") for f in ("bob", "carol", "dan")]})
    everything = wanted(feeds, PEOPLE, None)
    assert len(everything) == 6
    some = wanted(feeds, PEOPLE, {"p-bob"})
    assert {s.feed for s in some if s.kind == "audio"} == {"bob", "carol", "dan"}
    assert {s.feed for s in some if s.kind == "video"} == {"bob"}


def test_a_plan_is_the_difference_between_wanted_and_subscribed() -> None:
    feeds = Feeds("me")
    feeds.update(
        {"publishers": [_publisher("bob", "audio", "video"), _publisher("carol", "audio", "video")]}
    )
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
    before = streams_of(
        [{"mid": "3", "type": "video", "active": True, "feed_id": "bob", "feed_mid": "1"}]
    )
    after = streams_of(
        [{"mid": "3", "type": "video", "active": True, "feed_id": "dan", "feed_mid": "1"}]
    )
    assert before["3"].feed == "bob" and after["3"].feed == "dan"
    assert streams_of([{"mid": "3", "type": "data", "active": True, "feed_id": "x"}]) == {}


def test_a_feed_is_someone_s_only_when_the_coordinator_vouches_for_its_id() -> None:
    commitments = {"p-bob": feed_commitment("bob-secret-id"), "p-carol": feed_commitment("c")}
    feeds = Feeds("me")
    feeds.update(
        {"publishers": [_publisher(f, "audio", "video") for f in ("bob-secret-id", "p-carol", "x")]}
    )
    people = people_of(feeds.streams, commitments)
    # Publishing under someone's session id (public) or an unknown id makes nobody's feed.
    assert people == {"bob-secret-id": "p-bob"}
    assert {s.feed for s in wanted(feeds, people, None)} == {"bob-secret-id"}
    assert people_of(feeds.streams, {}) == {}


def _layered(feed: str) -> dict[str, object]:
    """A publisher of sound, its camera (mid 1) and the camera's grid layer (mid 2)."""
    return {
        "id": feed,
        "streams": [
            {"type": "audio", "mid": "0"},
            {"type": "video", "mid": "1", "description": "camera"},
            {"type": "video", "mid": "2", "description": "grid"},
        ],
    }


def _subscribed(*lines: tuple[str, str, str, str]) -> dict[str, FeedStream]:
    return streams_of(
        [
            {"mid": mid, "type": kind, "active": True, "feed_id": feed, "feed_mid": feed_mid}
            for mid, kind, feed, feed_mid in lines
        ]
    )


def test_small_tiles_take_the_grid_layer_large_ones_the_camera() -> None:
    feeds = Feeds("me")
    feeds.update(
        {"publishers": [_layered("bob"), _layered("carol"), _publisher("dan", "audio", "video")]}
    )
    assert feeds.streams["bob"][2].layer == "grid"
    sharp = sharp_of({"p-bob": 400, "p-carol": GRID_TILE_HEIGHT, "p-dan": 100}, set())
    assert sharp == {"p-bob"}
    video = {(s.feed, s.mid) for s in wanted(feeds, PEOPLE, None, sharp) if s.kind == "video"}
    # Dan publishes no grid layer: his small tile takes his camera.
    assert video == {("bob", "1"), ("carol", "2"), ("dan", "1")}
    # Sizes unknown (None): everyone's camera, as before there were layers.
    assert sharp_of(None) is None
    assert {s.mid for s in wanted(feeds, PEOPLE, None) if s.kind == "video"} == {"1"}


def test_a_tile_near_the_threshold_keeps_its_layer() -> None:
    """A window resized about 360 px does not switch layers back and forth."""
    high, low = GRID_TILE_HEIGHT + HYSTERESIS, GRID_TILE_HEIGHT - HYSTERESIS
    assert sharp_of({"p-bob": high}, set()) == set(), "small, and not large enough yet"
    assert sharp_of({"p-bob": high + 1}, set()) == {"p-bob"}
    assert sharp_of({"p-bob": low + 1}, {"p-bob"}) == {"p-bob"}, "large, and not small enough yet"
    assert sharp_of({"p-bob": low}, {"p-bob"}) == set()
    # Sizes unknown before: everyone had the camera.
    assert sharp_of({"p-bob": low + 1, "p-carol": low}, None) == {"p-bob"}


def test_a_feed_gone_under_a_switch_is_named_by_the_plan() -> None:
    change = Plan([FeedStream("bob", "1", "video")], [], [("3", FeedStream("carol", "2", "video"))])
    assert {s.feed for s in change.targets} == {"bob", "carol"}


def test_a_tile_that_changes_size_switches_its_m_line_to_the_other_layer() -> None:
    feeds = Feeds("me")
    feeds.update({"publishers": [_layered("bob"), _layered("carol")]})
    subscribed = _subscribed(
        ("0", "audio", "bob", "0"), ("1", "video", "bob", "1"),
        ("2", "audio", "carol", "0"), ("3", "video", "carol", "2"),
    )  # fmt: skip
    # Carol becomes the large tile, Bob goes into the strip.
    change = plan(wanted(feeds, PEOPLE, None, {"p-carol"}), subscribed)
    assert change.subscribe == [] and change.unsubscribe == []
    assert change.switch == [
        ("1", FeedStream("bob", "2", "video")),
        ("3", FeedStream("carol", "1", "video")),
    ]
    assert as_switch(change.switch) == [
        {"feed": "bob", "mid": "2", "sub_mid": "1"},
        {"feed": "carol", "mid": "1", "sub_mid": "3"},
    ]
    assert not change.empty
    # Janus's answer describes the m-lines fed anew: nothing left to do.
    after = _subscribed(
        ("0", "audio", "bob", "0"), ("1", "video", "bob", "2"),
        ("2", "audio", "carol", "0"), ("3", "video", "carol", "1"),
    )  # fmt: skip
    assert plan(wanted(feeds, PEOPLE, None, {"p-carol"}), after).empty
    # A tile leaving the page is unsubscribed, not switched.
    gone = plan(wanted(feeds, PEOPLE, {"p-carol"}, {"p-carol"}), after)
    assert gone.switch == [] and gone.unsubscribe == [FeedStream("bob", "2", "video")]


def test_a_layer_described_later_is_a_change_of_the_feed() -> None:
    feeds = Feeds("me")
    plain = {"id": "bob", "streams": [{"type": "video", "mid": "2"}]}
    assert feeds.update({"publishers": [plain]})
    described = {"id": "bob", "streams": [{"type": "video", "mid": "2", "description": "grid"}]}
    assert feeds.update({"publishers": [described]})
    assert not feeds.update({"publishers": [described]})


def test_what_we_take_of_each_person_is_told_by_layer() -> None:
    """What a subscriber tells each publisher it takes (layer_demand), from its streams."""
    feeds = Feeds("me")
    feeds.update(
        {"publishers": [_layered("bob"), _layered("carol"), _publisher("dan", "audio", "video")]}
    )
    subscribed = _subscribed(
        ("0", "audio", "bob", "0"),
        ("1", "video", "bob", "2"),  # Bob's grid layer
        ("2", "audio", "carol", "0"),  # Carol's tile is off screen: her sound only
        ("3", "video", "dan", "1"),  # Dan's one undescribed picture counts as his camera
    )
    assert layers_taken(subscribed, feeds, PEOPLE) == {
        "p-bob": {"grid"},
        "p-carol": set(),
        "p-dan": {"camera"},
    }
    # A feed nobody's commitment names is nobody's: nothing is told to anyone for it.
    assert layers_taken(subscribed, feeds, {"bob": "p-bob"}) == {"p-bob": {"grid"}}
