"""What the microphone's audio processing costs, beside the unprocessed path in the same run.

    .venv/bin/python tests/perf/bench_audio_processing.py [--seconds 60]

* **CPU per second of audio**: a call's worth of sound — the far end's speech as the
  speaker's reference, and a microphone hearing its echo, the near end's speech and a fan
  — through ``AudioProcessor`` in the 20 ms frames every backend delivers: with every part
  off (the unprocessed path: the stage passes sound through), with the defaults (echo
  cancellation, noise suppression, high-pass filter) and with everything (gain control
  too). Process CPU time (``time.process_time``), as milliseconds per second of audio and
  as a share of one core; the ratio to the unprocessed path, and — for scale — the cost
  of encoding the same sound with Opus, which every call pays anyway.
* **Added latency**: how far the processed sound lags the microphone's (the position of
  the cross-correlation peak: the module's own algorithmic delay, plus any part of a
  frame the 10 ms stepping holds back), for 20 ms frames and for odd-sized ones; and the
  time one 20 ms frame takes to process (median, 99th percentile): the wait it adds to
  every frame.

Needs ``espeak-ng`` (real speech; ``tests/run_all.sh`` installs it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_app.media.audio_processing import FRAME, AudioProcessingSettings, AudioProcessor
from tests.support import speech
from tests.support.speech import RATE, fit

SETTINGS = {
    "unprocessed": AudioProcessingSettings.none(),
    "defaults": AudioProcessingSettings(),
    "everything": AudioProcessingSettings(auto_gain_control=True),
}


def sounds(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """The speaker's sound and the microphone's (its 40 ms echo, the near end, a fan)."""
    far = fit(speech.speech(speech.FAR_TEXT, "en-us+m3"), seconds, pause=1.0) * 0.6
    near = fit(speech.speech(speech.NEAR_TEXT, "en-gb+f3"), seconds, pause=2.5) * 0.5
    shift = int(0.04 * RATE)
    echo = np.concatenate((np.zeros(shift), far[:-shift] * 0.5))
    fan = np.random.default_rng(1).normal(0, 200, len(far))
    microphone = np.clip(echo + near + fan, -32768, 32767).astype(np.int16)
    return far.astype(np.int16), microphone


def cpu(settings: AudioProcessingSettings, far: np.ndarray, mic: np.ndarray) -> list[float]:
    """Seconds of CPU per 20 ms frame."""
    processor = AudioProcessor(settings)
    processor.microphone_opened()
    costs = []
    for start in range(0, len(mic) - FRAME + 1, FRAME):
        began = time.process_time()
        processor.render(far[start : start + FRAME])
        processor.capture(mic[start : start + FRAME], 20.0)
        costs.append(time.process_time() - began)
    return costs


def opus(mic: np.ndarray) -> list[float]:
    """Seconds of CPU per 20 ms frame to encode the microphone's sound with Opus (PyAV)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = RATE, "mono", "s16"  # type: ignore[attr-defined]
    codec.bit_rate = 32_000
    costs = []
    for start in range(0, len(mic) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(mic[start : start + FRAME].reshape(1, -1), "s16", "mono")
        frame.sample_rate, frame.pts = RATE, start
        began = time.process_time()
        codec.encode(frame)  # type: ignore[attr-defined]
        costs.append(time.process_time() - began)
    return costs


def latency_ms(
    settings: AudioProcessingSettings, mic: np.ndarray, sizes: list[int]
) -> tuple[float, float]:
    """(algorithmic, held back) in ms: where the processed sound best matches the
    microphone's (cross-correlation peak; no echo here), and how much of what came in
    had not come out yet after each frame, on average (the 10 ms stepping)."""
    processor = AudioProcessor(settings)
    processor.microphone_opened()
    out, start, turn, held = [], 0, 0, []
    while start + max(sizes) <= len(mic):
        size = sizes[turn % len(sizes)]
        out.append(processor.capture(mic[start : start + size], 1000 * size / RATE))
        start, turn = start + size, turn + 1
        held.append(start - sum(len(o) for o in out))
    processed = np.concatenate(out).astype(np.float64)
    original = mic[: len(processed)].astype(np.float64)
    window = slice(2 * RATE, 6 * RATE)  # past the suppressor's first seconds
    lags = range(0, int(0.05 * RATE))
    scores = [float(np.dot(processed[window], np.roll(original, lag)[window])) for lag in lags]
    return 1000 * int(np.argmax(scores)) / RATE, 1000 * statistics.mean(held) / RATE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not speech.available():
        print("needs espeak-ng (apt-get install espeak-ng)")
        return 1
    far, mic = sounds(args.seconds)
    print(f"{args.seconds:.0f} s of audio in 20 ms frames, 48 kHz mono\n")
    baseline = None
    print(f"{'path':<12} {'CPU ms per s':>13} {'of a core':>10} {'vs unprocessed':>15} "
          f"{'frame median':>13} {'frame p99':>10}")  # fmt: skip
    runs = {name: lambda s=settings: cpu(s, far, mic) for name, settings in SETTINGS.items()}
    runs["opus encode"] = lambda: opus(mic)
    for name, run in runs.items():
        costs = run()
        per_second = 1000 * sum(costs) / args.seconds
        baseline = baseline or per_second
        ordered = sorted(costs)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        print(
            f"{name:<12} {per_second:>13.2f} {per_second / 10:>9.2f}% "
            f"{per_second / baseline:>14.1f}x {1000 * statistics.median(costs):>11.3f}ms "
            f"{1000 * p99:>8.3f}ms"
        )
    print()
    speech_only = fit(speech.speech(speech.NEAR_TEXT, "en-gb+f3"), 8.0).astype(np.int16)
    for label, sizes in (("20 ms frames", [FRAME]), ("odd frames (7-23 ms)", [336, 1104, 624])):
        base_delay, base_held = latency_ms(SETTINGS["unprocessed"], speech_only, sizes)
        delay, held = latency_ms(SETTINGS["defaults"], speech_only, sizes)
        print(
            f"added latency, {label}: algorithmic {delay:.1f} ms, held back {held:.1f} ms "
            f"(unprocessed path: {base_delay:.1f} ms, {base_held:.1f} ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
