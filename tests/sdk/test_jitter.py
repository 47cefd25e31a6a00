"""The prompt video jitter buffer: a whole frame goes to the decoder at once."""

from __future__ import annotations

from typing import Any

from aiortc.rtp import RtpPacket

from desktop_app.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack
from desktop_app.sdk.jitter import GapSkippingAudioBuffer, PromptJitterBuffer, stale_seconds_for
from desktop_app.sdk.rtc import PeerMesh


def _packet(seq: int, timestamp: int, marker: bool, data: bytes) -> RtpPacket:
    packet = RtpPacket(
        payload_type=96, sequence_number=seq, timestamp=timestamp, marker=int(marker)
    )
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's receiver sets
    return packet


def test_a_frame_is_released_by_its_marked_last_packet() -> None:
    buffer = PromptJitterBuffer()
    assert buffer.add(_packet(10, 3000, False, b"a"))[1] is None
    assert buffer.add(_packet(11, 3000, False, b"b"))[1] is None
    frame = buffer.add(_packet(12, 3000, True, b"c"))[1]
    assert frame is not None and frame.data == b"abc" and frame.timestamp == 3000
    single = buffer.add(_packet(13, 6000, True, b"d"))[1]
    assert single is not None and single.data == b"d", "a one-packet frame goes at once"


def test_a_missing_packet_holds_the_frame_as_aiortc_would() -> None:
    buffer = PromptJitterBuffer()
    buffer.add(_packet(10, 3000, False, b"a"))
    assert buffer.add(_packet(12, 3000, True, b"c"))[1] is None, "11 is missing"
    frame = buffer.add(_packet(11, 3000, False, b"b"))[1]
    assert frame is not None and frame.data == b"abc"


def test_without_markers_frames_go_when_the_next_one_starts() -> None:
    buffer = PromptJitterBuffer()
    buffer.add(_packet(1, 100, False, b"x"))
    buffer.add(_packet(2, 100, False, b"y"))
    frame = buffer.add(_packet(3, 200, False, b"z"))[1]
    assert frame is not None and frame.data == b"xy" and frame.timestamp == 100


def test_a_frame_that_cannot_be_completed_is_given_up_for_a_keyframe() -> None:
    buffer = PromptJitterBuffer()
    buffer.add(_packet(10, 3000, False, b"a"))  # 11 never comes: frame 3000 is stuck
    buffer.add(_packet(12, 3000, True, b"c"))
    # the next frames arrive whole, but must wait behind the stuck one …
    seq, timestamp = 13, 3000
    for _ in range(11):  # 11 frames of 3000 ticks: 0.37 s of media time
        seq, timestamp = seq + 1, timestamp + 3000
        keyframe_wanted, frame = buffer.add(_packet(seq, timestamp, True, b"p"))
        assert frame is None and not keyframe_wanted
    # … until the newest runs 0.4 s ahead: the stuck frame goes, a keyframe is asked for
    keyframe_wanted, frame = buffer.add(_packet(seq + 1, timestamp + 6000, True, b"p"))
    assert keyframe_wanted and frame is not None and frame.data == b"p", "from here on"
    keyframe = buffer.add(_packet(seq + 2, timestamp + 9000, True, b"k"))[1]
    assert keyframe is not None and keyframe.data == b"k", "what follows decodes at once"


def test_a_late_packet_within_the_limit_still_completes_its_frame() -> None:
    buffer = PromptJitterBuffer()
    buffer.add(_packet(10, 3000, False, b"a"))
    buffer.add(_packet(12, 3000, True, b"c"))
    buffer.add(_packet(13, 6000, True, b"d"))  # 33 ms later: well within the limit
    frame = buffer.add(_packet(11, 3000, False, b"b"))[1]  # the retransmission arrives
    assert frame is not None and frame.data == b"abc"


def test_audio_holds_four_frames_and_steps_over_a_lost_packet() -> None:
    buffer = GapSkippingAudioBuffer()
    released = []
    for seq in range(1, 6):  # 20 ms frames, one packet each
        released.append(buffer.add(_packet(seq, seq * 960, False, bytes([seq])))[1])
    assert released[:4] == [None] * 4, "four held against jitter"
    assert released[4] is not None and released[4].data == b"\x01"
    # packet 6 is lost; 7, 8, … arrive: nothing held before the gap is thrown away
    out = [buffer.add(_packet(seq, seq * 960, False, bytes([seq])))[1] for seq in range(7, 12)]
    assert [f.data[0] for f in out if f is not None] == [2, 3, 4, 5, 7]
    assert buffer.add(_packet(12, 12 * 960, False, b"\x0c"))[1].data == b"\x08"  # type: ignore[union-attr]


async def test_every_receiver_of_a_mesh_peer_gets_ours() -> None:
    mesh = PeerMesh(
        "b",
        [],
        [lambda: SyntheticVideoTrack(), lambda: SyntheticAudioTrack()],
        _nowhere,
        lambda *_: None,
    )
    await mesh.seen("a")  # "b" > "a": we offer, which makes the peer
    peer = mesh.peers["a"]
    buffers = {
        t.kind: t.receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
        for t in peer.getTransceivers()
    }
    assert isinstance(buffers["video"], PromptJitterBuffer), "aiortc still keeps it there"
    assert isinstance(buffers["audio"], GapSkippingAudioBuffer)
    await mesh.close()


async def _nowhere(remote: str, signal: dict[str, Any]) -> None:
    pass


def test_on_a_long_path_a_retransmission_on_its_way_is_waited_for() -> None:
    """With a 500 ms round trip, a retransmission comes ~0.5 s after the loss: the
    0.4 s limit would give the frame up (and ask for a keyframe) just before it."""
    assert stale_seconds_for(None) == 0.4 and stale_seconds_for(50) == 0.4
    assert stale_seconds_for(500) == 1.0 and stale_seconds_for(5000) == 2.0
    buffer = PromptJitterBuffer()
    buffer.stale_seconds = stale_seconds_for(500)
    buffer.add(_packet(10, 3000, False, b"a"))  # 11 is lost
    buffer.add(_packet(12, 3000, True, b"c"))
    seq, timestamp = 12, 3000
    for _ in range(18):  # 0.6 s of frames behind the stuck one
        seq, timestamp = seq + 1, timestamp + 3000
        keyframe_wanted, frame = buffer.add(_packet(seq, timestamp, True, b"p"))
        assert frame is None and not keyframe_wanted
    frame = buffer.add(_packet(11, 3000, False, b"b"))[1]  # its retransmission
    assert frame is not None and frame.data == b"abc"
