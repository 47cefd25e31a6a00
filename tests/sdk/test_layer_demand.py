"""``sdk/layer_demand.py``: which layers of our camera anybody takes, from what the others
said and from Janus's keyframe requests — and what someone who has not said counts as.
The whole journey through Janus (a layer paused, and sent again) is in
``tests/sfu/test_group_journeys.py``."""

from __future__ import annotations

import pytest

from desktop_app.sdk.layer_demand import (
    HOLD_SECONDS,
    UNSAID,
    LayerDemand,
    parse_takes,
    query_signal,
    takes_signal,
)

BOTH = {"camera", "grid"}


def test_a_layer_is_sent_while_anyone_present_takes_it() -> None:
    demand = LayerDemand()
    present = ["bob", "carol"]
    # Nobody has said: everything, as to another client or a word on its way.
    assert demand.decide(present, 0) == UNSAID == BOTH
    demand.hear("bob", frozenset({"grid"}))
    assert demand.decide(present, 0) == BOTH, "Carol has not said"
    demand.hear("carol", frozenset({"grid"}))
    assert demand.decide(present, 0) == {"grid"}, "a grid of small tiles: no camera"
    demand.hear("carol", frozenset())
    assert demand.decide(present, 0) == {"grid"}, "Carol's page does not show us"
    demand.hear("bob", frozenset({"camera"}))
    assert demand.decide(present, 0) == {"camera"}, "Bob shows us large"
    # Bob leaves: what he said no longer counts, even before he is forgotten.
    assert demand.decide(["carol"], 0) == set()
    demand.forget("bob")
    demand.hear("dave", frozenset({"grid"}))  # said before his join reached us
    assert demand.decide(["carol", "dave"], 0) == {"grid"}
    assert demand.decide([], 0) == set(), "alone in the room: nothing to encode"
    # Our events were cut: what was said may be out of date.
    demand.forget_all()
    assert demand.decide(["carol", "dave"], 0) == BOTH


def test_any_keyframe_request_holds_its_layer_a_moment() -> None:
    """Someone switching to a running layer asks for a keyframe before their word comes:
    another's word in between must not pause it under them."""
    demand = LayerDemand()
    present = ["bob", "dave"]
    demand.hear("bob", frozenset({"grid"}))
    demand.hear("dave", frozenset({"camera"}))
    demand.ask("grid", 10.0, paused=False)  # Dave's tile shrinks: he switches to the grid
    demand.hear("bob", frozenset())  # Bob's page moves on first
    assert demand.decide(present, 10.5) == BOTH
    assert demand.decide(present, 10.0 + HOLD_SECONDS) == {"camera"}, "Dave's word is late"
    demand.hear("dave", frozenset({"grid"}))
    assert demand.decide(present, 20.0) == {"grid"}


def test_a_request_for_a_paused_layer_keeps_it_until_everyone_has_spoken_since() -> None:
    """Janus asks for a keyframe when someone starts taking a stream: a paused layer
    asked for is sent, even against everyone's last word (one may be lost), until each
    one present has spoken after the request (the publisher asks them all)."""
    demand = LayerDemand()
    present = ["bob", "carol"]
    demand.hear("bob", frozenset({"grid"}))
    demand.hear("carol", frozenset({"grid"}))
    assert demand.decide(present, 0) == {"grid"}
    demand.ask("camera", 0, paused=True)  # Bob's tile grew; his word is lost
    demand.hear("carol", frozenset({"grid"}))  # Carol answers the publisher's query
    assert demand.decide(present, 60) == BOTH, "Bob has not spoken since"
    demand.hear("bob", frozenset({"grid"}))  # his tile is small again
    assert demand.decide(present, 60) == {"grid"}, "everyone has spoken: settled"
    # A request the words explain is settled by them too.
    demand.ask("camera", 100, paused=True)
    demand.hear("bob", frozenset({"camera"}))
    demand.hear("carol", frozenset({"grid"}))
    assert demand.decide(present, 200) == BOTH
    demand.hear("bob", frozenset({"grid"}))
    assert demand.decide(present, 200) == {"grid"}


def test_the_signal_says_the_room_and_the_layers() -> None:
    signal = takes_signal("room-7", {"grid", "camera"})
    assert signal == {"type": "layers", "room": "room-7", "take": ["camera", "grid"]}
    assert parse_takes(signal) == ("room-7", {"camera", "grid"})
    assert parse_takes(takes_signal("room-7", set())) == ("room-7", frozenset())
    assert query_signal("room-7") == {"type": "layers", "room": "room-7", "query": True}
    assert parse_takes(query_signal("room-7")) == ("room-7", None)


@pytest.mark.parametrize(
    "signal",
    [
        {"type": "layers", "take": ["grid"]},  # no room
        {"type": "layers", "room": 7, "take": ["grid"]},
        {"type": "layers", "room": "r", "take": "grid"},  # not a list
        {"type": "layers", "room": "r", "take": ["grid", "hd"]},  # a layer we do not have
        {"type": "layers", "room": "r", "take": [None]},
        {"type": "layers", "room": "r", "query": "yes"},
        {"type": "layers", "room": "r", "query": True, "take": "grid"},
    ],
)
def test_a_malformed_word_is_ignored(signal: dict[str, object]) -> None:
    assert parse_takes(signal) is None
