"""The speaker's mix: real audio frames in, paced 20 ms frames out."""

from __future__ import annotations

import fractions
import time

import av
import numpy as np

from desktop_app.media.mixer import MAX_BUFFERED_SECONDS, RATE, SAMPLES, AudioMixer
from desktop_app.media.synthetic import dominant_frequency


def _tone(
    hz: float, seconds: float = 0.02, rate: int = RATE, layout: str = "mono"
) -> av.AudioFrame:
    samples = np.arange(int(seconds * rate))
    wave = (np.sin(2 * np.pi * hz * samples / rate) * 8000).astype(np.int16)
    channels = 2 if layout == "stereo" else 1
    data = np.repeat(wave, channels).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(data, format="s16", layout=layout)
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = fractions.Fraction(1, rate)
    return frame


def _spectrum_peaks(mono: np.ndarray) -> set[int]:
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / RATE)
    strong = spectrum > spectrum.max() * 0.3
    return {int(round(f / 10) * 10) for f in freqs[strong]}


async def test_two_sources_are_summed_and_each_is_heard() -> None:
    mixer = AudioMixer()
    mixer.push("alice", _tone(440, 0.2))
    mixer.push("bob", _tone(1000, 0.2, rate=16000))  # any rate: resampled to 48 kHz
    out = [await mixer.recv() for _ in range(10)]
    assert all(f.samples == SAMPLES and f.sample_rate == RATE for f in out)
    mono = np.concatenate([f.to_ndarray().reshape(-1, 2).mean(axis=1) for f in out])
    peaks = _spectrum_peaks(mono)
    assert any(abs(p - 440) <= 20 for p in peaks) and any(abs(p - 1000) <= 20 for p in peaks)


async def test_silence_when_nobody_speaks_and_when_muted() -> None:
    mixer = AudioMixer()
    assert not (await mixer.recv()).to_ndarray().any()
    mixer.push("alice", _tone(440, 0.1))
    mixer.muted = True
    assert not (await mixer.recv()).to_ndarray().any()
    mixer.muted = False
    assert (await mixer.recv()).to_ndarray().any()


async def test_volume_scales_the_sound() -> None:
    loud, quiet = AudioMixer(), AudioMixer()
    quiet.volume = 0.25
    for mixer in (loud, quiet):
        mixer.push("a", _tone(440, 0.04))
    ratio = np.abs(quiet.mix().astype(float)).max() / np.abs(loud.mix().astype(float)).max()
    assert abs(ratio - 0.25) < 0.01


def test_a_source_that_runs_ahead_keeps_only_the_newest_sound() -> None:
    mixer = AudioMixer()
    for _ in range(100):  # two seconds arriving at once
        mixer.push("alice", _tone(440))
    assert mixer.buffered_seconds("alice") <= MAX_BUFFERED_SECONDS
    mixer.push("test", _tone(500, 2.0), keep_all=True)  # a clip is played whole
    assert mixer.buffered_seconds("test") == 2.0
    mixer.forget("alice")
    assert mixer.buffered_seconds("alice") == 0.0


async def test_the_mix_is_paced_in_real_time() -> None:
    mixer = AudioMixer()
    started = time.monotonic()
    for _ in range(10):
        await mixer.recv()
    # nine intervals of 20 ms must have passed (a lower bound: never faster than real time)
    assert time.monotonic() - started >= 0.17
    tone = _tone(523.25, 0.5)
    mixer.push("t", tone, keep_all=True)
    heard = np.concatenate([mixer.mix().reshape(-1, 2).mean(axis=1) for _ in range(25)])
    assert abs(dominant_frequency(heard, RATE) - 523.25) < 5
