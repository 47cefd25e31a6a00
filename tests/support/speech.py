"""Real (synthesized) speech for audio tests: Debian's ``espeak-ng`` says a sentence, and
the test gets it as 48 kHz mono 16-bit samples. Speech, not a tone: echo cancellers and
noise suppressors are built for its pauses and changing spectrum, and a steady tone is
what a noise suppressor is *meant* to remove."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

RATE = 48_000
FAR_TEXT = (
    "Good morning everyone. Let us look at the numbers from last week before we decide "
    "anything about the release. The build was green on Tuesday and red again on Friday."
)
NEAR_TEXT = (
    "Sorry to interrupt, but I think the red build came from the network tests. "
    "Could we run them again on a quiet machine and see what happens?"
)


def available() -> bool:
    return shutil.which("espeak-ng") is not None


@functools.cache
def speech(text: str, voice: str = "en-us", words_per_minute: int = 160) -> np.ndarray:
    """``text`` spoken by ``voice``, as int16 samples at 48 kHz (read-only: copy to change)."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        with wave.open(str(path)) as source:
            rate = source.getframerate()
            samples = np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    out = np.concatenate(chunks)
    out.setflags(write=False)
    return out


def fit(samples: np.ndarray, seconds: float, pause: float = 0.0) -> np.ndarray:
    """``samples`` repeated (with ``pause`` seconds of silence after each time), or cut,
    to last ``seconds``."""
    wanted = int(seconds * RATE)
    once = np.concatenate((samples, np.zeros(int(pause * RATE), dtype=samples.dtype)))
    repeats = -(-wanted // len(once))
    return np.tile(once, repeats)[:wanted].copy()


def quiet_stretches(samples: np.ndarray, frame: int = 480, settle: int = 20) -> np.ndarray:
    """Which 10 ms frames lie inside a silence of ``samples`` (exact zeros: the pauses
    ``fit`` puts in), leaving out the first ``settle`` frames after the speech (a
    suppressor's release) and the frame before it starts again: a mask over frames."""
    count = len(samples) // frame
    silent = ~np.any(samples[: count * frame].reshape(count, frame) != 0, axis=1)
    inside = silent.copy()
    for index in np.flatnonzero(silent):
        before = silent[max(0, index - settle) : index]
        after = silent[index + 1 : index + 2]
        inside[index] = bool(len(before) == settle and before.all() and after.all())
    return inside


def energy_db(samples: np.ndarray) -> float:
    """Mean power in dB (relative to one int16 step squared)."""
    values = samples.astype(np.float64)
    return float(10 * np.log10(np.mean(values**2) + 1e-9))


def active(samples: np.ndarray, frame: int = 480, below_peak_db: float = 30.0) -> np.ndarray:
    """Which 10 ms frames of ``samples`` hold speech (within ``below_peak_db`` of the
    loudest frame): a mask over frames."""
    count = len(samples) // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    power = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    mask: np.ndarray = power > power.max() - below_peak_db
    return mask


def frames_of(samples: np.ndarray, mask: np.ndarray, frame: int = 480) -> np.ndarray:
    """The 10 ms frames of ``samples`` where ``mask`` is true, joined."""
    count = len(mask)
    picked: np.ndarray = samples[: count * frame].reshape(count, frame)[mask].reshape(-1)
    return picked
