"""Run in a process of its own by test_qt_devices.py (a sound server must be up before Qt's
audio starts): plays a 660 Hz tone through the Qt speaker into a PulseAudio null sink and
hears it back through the Qt microphone (the sink's monitor, remapped as a source).
Prints what it found as JSON."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from PySide6.QtWidgets import QApplication

from desktop_app.media.synthetic import SyntheticAudioTrack, dominant_frequency
from desktop_app.ui.event_loop import QtEventLoop
from desktop_app.ui.qt_devices import QtDevices


async def check() -> dict[str, object]:
    devices = QtDevices()
    found = {
        k: [(d.id, d.is_default) for d in devices.list_devices(k)]
        for k in ("camera", "microphone", "speaker")
    }  # type: ignore[arg-type]
    speaker = await devices.open_speaker("parley_mic_sink", SyntheticAudioTrack(660.0, volume=0.5))
    microphone = await devices.open_microphone("parley_mic")
    await asyncio.sleep(1.5)  # null sinks take about a second before data flows
    samples = []
    for _ in range(50):
        frame = await asyncio.wait_for(microphone.recv(), 5)
        samples.append(frame.to_ndarray().reshape(-1).astype(float))
    microphone.stop()
    speaker.close()
    heard = np.concatenate(samples)
    return {
        "devices": found,
        "frames": len(samples),
        "rate": frame.sample_rate,
        "peak": float(np.abs(heard).max()),
        "frequency": dominant_frequency(heard, frame.sample_rate),
    }


def main() -> int:
    app = QApplication(sys.argv[:1])
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        result = loop.run_until_complete(check())
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
