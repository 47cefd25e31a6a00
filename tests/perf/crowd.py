"""Light participants for group-call benchmarks: people who publish through Janus and
cost almost nothing, so that one machine can hold an eight-person call around the client
being measured.

    python tests/perf/crowd.py --server URL --call default:ID --people 7 \
        --width 640 --height 480 --fps 30 [--grid] [--ring USER]

Each person is a real participant of the coordinator's call (its own WebSocket, ``join``,
``POST …/media``) and publishes to the room with the publisher id and token the
coordinator gave it, like the app. What it sends is encoded **once**, before the call: a
two-second loop of VP8 (a keyframe every second) and Opus, replayed with running
timestamps; with ``--grid``, the camera's grid layer too (320×240 at 15 frames/s,
described ``grid`` as the app describes its own). It subscribes to nobody, and with
``--takes`` tells everyone else that it takes this layer of their picture (as the app in
a grid of small tiles says it; ``sdk/layer_demand.py``). So what the measured client
receives is what seven cameras would send it, and the crowd's own cost is packetising and
encrypting.

The first one creates the call (with ``--ring``'s user as a member) and rings that user
once everyone publishes. The user tokens come from ``--secret`` (the coordinator's). Prints ``crowd publishing``
when everyone's media is up at Janus, then stays until stdin closes or it is terminated.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import sys
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import websockets
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.mediastreams import MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_app.coordinator.auth import create_user_token
from desktop_app.media.grid_layer import GRID_FPS, GRID_HEIGHT, GRID_WIDTH
from desktop_app.media.silence_suppression import KEEPALIVE_SECONDS
from desktop_app.media.synthetic import SyntheticVideoTrack
from desktop_app.sdk.janus_link import JanusLink
from desktop_app.sdk.sfu_plan import CAMERA, GRID

LOOP_SECONDS = 2
SAMPLE_RATE = 48000
OPUS_SAMPLES = 960  # 20 ms


async def encode_video(width: int, height: int, fps: int) -> list[bytes]:
    """A loop of the app's test pattern as aiortc's own VP8 encoder makes it (its bitrate
    and settings), a keyframe every second; taken at the pattern's pace (the loop's
    length)."""
    encoder = Vp8Encoder()
    source = SyntheticVideoTrack(width, height, fps)
    frames: list[bytes] = []
    for index in range(fps * LOOP_SECONDS):
        payloads, _ = encoder.encode(await source.recv(), force_keyframe=index % fps == 0)
        frames.append(b"".join(vp8_depayload(payload) for payload in payloads))
    return frames


def encode_audio(tone_hz: float) -> list[bytes]:
    """A loop of Opus packets of a quiet tone."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.time_base = fractions.Fraction(1, SAMPLE_RATE)
    packets: list[bytes] = []
    for index in range(LOOP_SECONDS * SAMPLE_RATE // OPUS_SAMPLES):
        t = (np.arange(OPUS_SAMPLES) + index * OPUS_SAMPLES) / SAMPLE_RATE
        wave = (3000 * np.sin(2 * np.pi * tone_hz * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(wave, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * OPUS_SAMPLES
        packets.extend(bytes(p) for p in encoder.encode(frame))
    return packets


class ReplayTrack(MediaStreamTrack):
    """Pre-encoded packets at their pace, with running timestamps (aiortc packs them
    without encoding)."""

    def __init__(self, kind: str, packets: list[bytes], rate: int, step: int) -> None:
        super().__init__()
        self.kind = kind
        self.packets = packets
        self.rate, self.step = rate, step  # timestamps per second, per packet
        self.index = 0
        self.started: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        if self.started is None:
            self.started = time.monotonic()
        due = self.started + self.index * self.step / self.rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        packet = av.Packet(self.packets[self.index % len(self.packets)])
        packet.pts = self.index * self.step
        packet.time_base = fractions.Fraction(1, self.rate)
        self.index += 1
        return packet


class Person:
    def __init__(self, server: str, secret: str, user: str, takes: list[str] | None) -> None:
        self.server = server
        self.user = user
        #: What it says it takes of the others' pictures (None: says nothing).
        self.takes = takes
        self.crowd: set[str] = set()
        #: The participant sessions of everyone else (who hear what it takes).
        self.others: set[str] = set()
        self._telling: asyncio.Task[None] | None = None
        self.cid = ""
        self.room = ""
        self.token = create_user_token(secret, user)
        self.http = httpx.AsyncClient(
            base_url=server, headers={"Authorization": f"Bearer {self.token}"}, timeout=20
        )
        self.socket: Any = None
        self.session_id = ""
        self.peer: RTCPeerConnection | None = None
        self.link: JanusLink | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> str:
        url = self.server.replace("http", "ws", 1) + "/v1/ws"
        self.socket = await websockets.connect(url)
        await self.socket.send(json.dumps({"type": "auth", "token": self.token,
                                           "user": {"id": self.user, "name": self.user}}))  # fmt: skip
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("type") == "connection.ok":
                break
            if message.get("type") == "connection.error":
                raise RuntimeError(f"{self.user}: {message}")
        self._reader = asyncio.ensure_future(self._drain())
        if self.takes is not None:
            self._telling = asyncio.ensure_future(self._keep_telling())
        return str(message["connection_id"])

    async def _drain(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if self.takes is None:
                continue
            kind = message.get("type")
            if kind == "call.participant_joined":
                participant = message.get("participant") or {}
                if participant.get("user_id") not in self.crowd:
                    self.others.add(str(participant.get("session_id")))
            elif kind == "call.signal" and (message.get("signal") or {}).get("query"):
                await self._tell(str(message.get("from_session_id")))

    async def _keep_telling(self) -> None:
        """Say it to everyone else every second: a word that comes before the measured
        client has its media connection is dropped (it has no room to apply it to)."""
        while True:
            await asyncio.sleep(1.0)
            if self.room:
                for session_id in list(self.others):
                    await self._tell(session_id)

    async def _tell(self, session_id: str) -> None:
        """Say what it takes of this participant's picture (``sdk/layer_demand.py``)."""
        signal = {"type": "layers", "room": self.room, "take": self.takes}
        await self.socket.send(json.dumps({
            "type": "call.signal", "call_cid": self.cid, "from_session_id": self.session_id,
            "to_session_id": session_id, "signal": signal}))  # fmt: skip

    async def join(self, cid: str, members: list[str]) -> None:
        connection_id = await self.connect()
        path = "/v1/calls/" + cid.replace(":", "/")
        body = {"create": True, "data": {"members": [{"user_id": m} for m in members]}}
        answer = await self.http.post(f"{path}/join", json=body,
                                      params={"connection_id": connection_id})  # fmt: skip
        answer.raise_for_status()
        self.session_id = answer.json()["media"]["session_id"]

    async def publish(
        self,
        cid: str,
        video: list[bytes],
        fps: int,
        audio: list[bytes],
        grid: list[bytes],
        audio_step: int = OPUS_SAMPLES,
    ) -> None:
        path = "/v1/calls/" + cid.replace(":", "/")
        answer = await self.http.post(f"{path}/media", json={"session_id": self.session_id})
        answer.raise_for_status()
        server = answer.json()["media_server"]
        if server is None:
            raise RuntimeError("the call is not on the media server (fewer than three?)")
        self.cid, self.room = cid, server["room"]
        self.link = await JanusLink.open(server["url"])
        up = asyncio.Event()
        handle = await self.link.attach(
            lambda message, data, jsep: up.set() if message.get("janus") == "webrtcup" else None
        )
        await handle.request({"request": "join", "ptype": "publisher", "room": server["room"],
                              "id": server["feed"], "display": self.user,
                              "token": server["token"]})  # fmt: skip
        peer = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.peer = peer
        if audio:
            peer.addTrack(ReplayTrack("audio", audio, SAMPLE_RATE, audio_step))
        described = {}
        for packets, pace, description in ((video, fps, CAMERA), (grid, GRID_FPS, GRID)):
            if packets:
                track = ReplayTrack("video", packets, 90000, 90000 // pace)
                described[track] = description
                peer.addTrack(track)
        await peer.setLocalDescription(await peer.createOffer())
        descriptions = [
            {"mid": t.mid, "description": described[t.sender.track]}
            for t in peer.getTransceivers()
            if t.sender.track in described
        ]
        published = await handle.request(
            {"request": "publish", "display": self.user, "descriptions": descriptions},
            {"type": "offer", "sdp": peer.localDescription.sdp, "trickle": False},
        )
        assert published.jsep is not None
        await peer.setRemoteDescription(RTCSessionDescription(published.jsep["sdp"], "answer"))
        await asyncio.wait_for(up.wait(), 20)

    async def close(self) -> None:
        if self.peer is not None:
            await self.peer.close()
        if self.link is not None:
            await self.link.close()
        for task in (self._reader, self._telling):
            if task is not None:
                task.cancel()
        if self.socket is not None:
            await self.socket.close()
        await self.http.aclose()


async def run(args: argparse.Namespace) -> None:
    video = [] if args.no_video else await encode_video(args.width, args.height, args.fps)
    audio = [] if args.no_audio else encode_audio(440.0)
    grid = (
        []
        if args.no_video or not args.grid
        else await encode_video(GRID_WIDTH, GRID_HEIGHT, GRID_FPS)
    )
    takes = None if args.takes is None else [] if args.takes == "none" else [args.takes]
    people = [
        Person(args.server, args.secret, f"{args.prefix}{i}", takes) for i in range(args.people)
    ]
    for person in people:
        person.crowd = {p.user for p in people}
    members = [p.user for p in people] + ([args.ring] if args.ring else [])
    for person in people:
        await person.join(args.call, members)
    talkers = args.people if args.talkers is None else args.talkers
    # The others are muted (nothing), or with --silent, unmuted in a quiet room: Parley's
    # silence suppression sends a packet of silence every KEEPALIVE_SECONDS.
    silence = encode_audio(0.0)[:1] if args.silent else []
    keepalive = round(KEEPALIVE_SECONDS * SAMPLE_RATE)
    await asyncio.gather(
        *(
            p.publish(args.call, video, args.fps, audio, grid)
            if index < talkers
            else p.publish(args.call, video, args.fps, silence, grid, keepalive)
            for index, p in enumerate(people)
        )
    )
    if args.ring:
        path = "/v1/calls/" + args.call.replace(":", "/")
        answer = await people[0].http.post(
            f"{path}/ring", json={"member_ids": [args.ring], "video": True}
        )
        answer.raise_for_status()
    print("crowd publishing", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        for person in people:
            await person.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--call", required=True, help="type:id")
    parser.add_argument("--people", type=int, default=7)
    parser.add_argument("--prefix", default="crowd")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--ring", help="a user to ring once everyone publishes")
    parser.add_argument("--no-audio", action="store_true", help="send no sound")
    parser.add_argument(
        "--talkers",
        type=int,
        help="only the first N send sound (the others are muted: a muted microphone sends nothing)",
    )
    parser.add_argument(
        "--silent", action="store_true", help="the others are silent, not muted (see run)"
    )
    parser.add_argument("--no-video", action="store_true", help="send no picture")
    parser.add_argument("--grid", action="store_true", help="send a grid layer too")
    parser.add_argument(
        "--takes",
        choices=["camera", "grid", "none"],
        help="tell the others this is what each one takes of their picture (unset: say nothing)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
