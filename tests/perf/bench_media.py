"""Media: time to first frame, capture-to-screen latency and CPU, beside raw aiortc.

    .venv/bin/python tests/perf/bench_media.py [--calls 10] [--seconds 8]

Baseline: two aiortc peer connections in one process, offer/answer passed directly,
each sending the same synthetic camera (640x480@30, VP8) and tone to the other. Parley: two SDK clients in
one process, a real coordinator (SQLite) in another, ringing and answering for real.

* first frame: from the moment the callee answers (``join()``, i.e. accept + join; for
  the baseline, ``createOffer``) to the first decoded remote frame at the callee — median
  of ``--calls`` calls;
* latency: capture time of each frame (recorded by the synthetic camera under its frame
  number) to its arrival at the receiver, read back from the number drawn in the picture;
* CPU: this process's CPU time (both peers) during ``--seconds`` of a steady call, as a
  share of one core.
Targets: first frame <= 1.5x raw and <= 200 ms; latency <= raw; CPU <= 1.2x raw.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiortc import RTCPeerConnection

from desktop_app.coordinator.auth import create_user_token
from desktop_app.media.synthetic import (
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    read_frame_counter,
)
from desktop_app.sdk import CallingState, VideoClient
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.sdk.rtc import allow_loopback, rtc_configuration
from tests.perf.harness import ROOT, coordinator_command, percentile, server
from tests.support.served import free_port

SECRET = "media-bench-secret-0123456789abcdef0123456789"


async def _first(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.perf_counter() + timeout
    while not (value := predicate()):
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(0.002)
    return value


async def _steady(
    track: Any, captured: dict[int, float], seconds: float
) -> tuple[list[float], float]:
    """Read frames for ``seconds``: capture→arrival latencies (ms) and CPU share."""
    latencies: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        frame = await track.recv()
        arrived = time.perf_counter()
        sent = captured.get(read_frame_counter(frame))
        if sent is not None:
            latencies.append((arrived - sent) * 1000)
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return latencies, cpu


async def raw_pair(calls: int, seconds: float) -> tuple[list[float], list[float], float]:
    allow_loopback()
    first_frames: list[float] = []
    latencies: list[float] = []
    cpu = 0.0
    for index in range(calls):
        captured: dict[int, float] = {}
        a, b = RTCPeerConnection(rtc_configuration([])), RTCPeerConnection(rtc_configuration([]))
        camera = SyntheticVideoTrack()
        camera.captured_at = captured
        a.addTrack(camera)
        a.addTrack(SyntheticAudioTrack())
        b.addTrack(SyntheticVideoTrack())  # a 1:1 call sends video and audio both ways
        b.addTrack(SyntheticAudioTrack())
        received: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        @b.on("track")
        def on_track(track: Any, received: asyncio.Future[Any] = received) -> None:
            if track.kind == "video" and not received.done():
                received.set_result(track)

        start = time.perf_counter()
        await a.setLocalDescription(await a.createOffer())
        await b.setRemoteDescription(a.localDescription)
        await b.setLocalDescription(await b.createAnswer())
        await a.setRemoteDescription(b.localDescription)
        track = await asyncio.wait_for(received, 10)
        await track.recv()
        first_frames.append((time.perf_counter() - start) * 1000)
        if index == calls - 1:
            latencies, cpu = await _steady(track, captured, seconds)
        await a.close()
        await b.close()
    return first_frames, latencies, cpu


async def parley_pair(
    url: str, calls: int, seconds: float
) -> tuple[list[float], list[float], float]:
    captured: dict[int, float] = {}
    caller = VideoClient(
        {"id": "caller"},
        token=create_user_token(SECRET, "caller"),
        base_url=url,
        devices=SyntheticDevices(captured_at=captured),
    )
    callee = VideoClient(
        {"id": "callee"},
        token=create_user_token(SECRET, "callee"),
        base_url=url,
        devices=SyntheticDevices(),
    )
    await caller.connect()
    await callee.connect()
    first_frames: list[float] = []
    latencies: list[float] = []
    cpu = 0.0
    for index in range(calls):
        captured.clear()
        call = caller.call("default", f"bench{index}-{int(time.time())}")
        await call.get_or_create(
            data={"members": [{"user_id": "caller"}, {"user_id": "callee"}]}, ring=True
        )
        ringing = await _first(
            lambda c=call: (
                callee.call(c.type, c.id)
                if callee.call(c.type, c.id).state.calling_state is CallingState.RINGING
                else None
            )
        )
        start = time.perf_counter()
        await ringing.join()
        remote = await _first(
            lambda r=ringing: next(
                (p for p in r.state.participants if p.user.id == "caller" and p.video_track), None
            )
        )
        await remote.video_track.recv()
        first_frames.append((time.perf_counter() - start) * 1000)
        if index == calls - 1:
            latencies, cpu = await _steady(remote.video_track, captured, seconds)
        await ringing.leave()
        await _first(
            lambda c=call: (
                c.state.calling_state is CallingState.LEFT
                or c.state.calling_state is CallingState.JOINED
            )
        )
        await call.leave()
    await caller.disconnect()
    await callee.disconnect()
    return first_frames, latencies, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    raw = asyncio.run(raw_pair(args.calls, args.seconds))
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        command = coordinator_command(port, SECRET, f"sqlite:///{data}/media.sqlite3")
        with server(command, port, {"PYTHONPATH": str(ROOT), "PARLEY_DATA_DIR": data}) as url:
            ours = asyncio.run(parley_pair(url, args.calls, args.seconds))
    print(
        f"\n{args.calls} calls; steady call {args.seconds:g} s; 640x480@30 VP8 + Opus, loopback\n"
    )
    print(f"{'':34}{'raw aiortc':>12}{'Parley':>12}{'ratio':>8}")

    def row(name: str, raw_value: float, our_value: float, unit: str) -> None:
        print(
            f"{name:34}{raw_value:>10.1f}{unit:>2}{our_value:>10.1f}{unit:>2}{our_value / raw_value:>7.2f}x"
        )

    row("first frame, median", statistics.median(raw[0]), statistics.median(ours[0]), "ms")
    row("latency capture->arrival p50", percentile(raw[1], 0.5), percentile(ours[1], 0.5), "ms")
    row("latency capture->arrival p99", percentile(raw[1], 0.99), percentile(ours[1], 0.99), "ms")
    row("CPU, both peers (one process)", raw[2] * 100, ours[2] * 100, "%")
    print("\ntargets: first frame <= 1.5x raw and <= 200 ms; latency <= raw; CPU <= 1.2x raw")


if __name__ == "__main__":
    main()
