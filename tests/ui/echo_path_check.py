"""Run in a process of its own by ``test_echo_path.py`` (the sound server must be up before
Qt's audio starts): a call between Parley on real devices — the Qt backend on PulseAudio,
its speaker heard by its microphone through a room with a delay — and a far end that talks
and records what it hears.

The far end is an SDK client on synthetic devices whose microphone plays the far
speech and whose speaker keeps everything it received: what Parley *sent*. The near
talker (the person at Parley's microphone) is ``paplay`` into the room. Both start at the
same moment, T0, with recordings laid out in phases (``test_echo_path.py``), and the far
end's recording from T0 on is written to the config's ``out`` file as 48 kHz mono int16.

    python tests/ui/echo_path_check.py CONFIG.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtWidgets import QApplication

from desktop_app.media.audio_processing import AudioProcessingSettings
from desktop_app.sdk import ClientOptions, VideoClient
from desktop_app.sdk.devices import Device, SyntheticDevices, SyntheticSpeaker
from desktop_app.ui.event_loop import QtEventLoop
from desktop_app.ui.qt_devices import QtDevices

RATE = 48_000


async def until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {seconds:.0f} s")
        await asyncio.sleep(0.05)


async def run(config: dict[str, Any]) -> None:
    far_voice = np.fromfile(config["far_raw"], dtype=np.int16)
    seconds = float(config["seconds"])
    far_devices = SyntheticDevices(height=120, tone_hz=0, keep_seconds=seconds + 10)
    far_devices.plug(Device("far-voice", "Far speech", "microphone"), sound=far_voice)
    settings = (
        AudioProcessingSettings(**config["processing"])
        if config["processing"]
        else AudioProcessingSettings.none()
    )
    near = VideoClient(
        {"id": "near", "name": "Near"},
        token=config["near_token"],
        base_url=config["server"],
        devices=QtDevices(),
        options=ClientOptions(audio_processing=settings),
    )
    far = VideoClient(
        {"id": "far", "name": "Far"},
        token=config["far_token"],
        base_url=config["server"],
        devices=far_devices,
    )
    await near.connect()
    await far.connect()
    await near.microphone.select("parley_mic")
    await near.speaker.select("parley_speaker")
    await near.camera.disable()
    await far.camera.disable()
    call = near.call("default", config["call_id"])
    await call.join(create=True, data={"members": [{"user_id": "near"}, {"user_id": "far"}]})
    fars = far.call("default", config["call_id"])
    await fars.join()
    await until(lambda: bool(far_devices.speakers), 15, "far speaker")
    speaker: SyntheticSpeaker = far_devices.speakers[-1]
    await until(lambda: speaker.frames_played > 50, 15, "sound at the far end")
    await asyncio.sleep(2.0)  # null sinks take about a second before data flows

    # T0: the far end starts talking, the near talker too (their recordings hold the phases).
    played_before = speaker.frames_played
    state = {
        "far_microphone_on": fars.microphone.enabled,
        "near_speaker_playing": call.speaker.playing,
        "near_microphone_on": call.microphone.enabled,
    }
    await fars.microphone.select("far-voice")
    talker = await asyncio.create_subprocess_exec(
        "paplay", "--raw", "--rate=48000", "--channels=1", "--format=s16le",
        "--device=room", config["near_raw"],
    )  # fmt: skip
    # Then muted ("mute_at"): is talking into the muted microphone noticed, and is the
    # far end's echo taken for it? (The hint's windows, in seconds from T0.)
    started = time.monotonic()
    await asyncio.sleep(float(config["mute_at"]))
    await call.microphone.disable()
    hints: dict[str, bool] = {}
    for name, (begin, end) in config["hint_windows"].items():
        await asyncio.sleep(max(0.0, begin - (time.monotonic() - started)))
        seen = False
        while time.monotonic() - started < end:
            seen = seen or call.microphone.speaking_while_muted.value
            await asyncio.sleep(0.05)
        hints[name] = seen
    await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))
    await asyncio.wait_for(talker.wait(), 10)
    heard = speaker.heard(seconds + 10)
    recorded = speaker.frames_played - played_before
    since_t0 = heard[-int(recorded * 0.02 * RATE) :]
    np.clip(since_t0, -32768, 32767).astype(np.int16).tofile(config["out"])
    await fars.leave()
    await call.leave()
    await far.disconnect()
    await near.disconnect()
    print(
        json.dumps(
            {
                "recorded_seconds": len(since_t0) / RATE,
                "hints": hints,
                **state,
            }
        ),
        flush=True,
    )


def main() -> int:
    config = json.loads(Path(sys.argv[1]).read_text())
    app = QApplication(sys.argv[:1])
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        loop.run_until_complete(run(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
