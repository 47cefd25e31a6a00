"""The prompt video jitter buffer: a whole frame goes to the decoder at once."""

from __future__ import annotations

from typing import Any

from aiortc.rtp import RtpPacket

from desktop_app.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack
from desktop_app.sdk.jitter import PromptJitterBuffer
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


async def test_every_video_receiver_of_a_mesh_peer_gets_it() -> None:
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
    assert not isinstance(buffers["audio"], PromptJitterBuffer)
    await mesh.close()


async def _nowhere(remote: str, signal: dict[str, Any]) -> None:
    pass
