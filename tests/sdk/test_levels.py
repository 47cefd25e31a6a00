"""Audio levels and the dominant speaker, without a network."""

from __future__ import annotations

import av
import numpy as np

from desktop_app.sdk.levels import audio_level, loudest, smooth


def _frame(amplitude: float) -> av.AudioFrame:
    t = np.arange(960) / 48000
    samples = (np.sin(2 * np.pi * 440 * t) * amplitude * 32767).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = 48000
    return frame


def test_levels_follow_loudness() -> None:
    assert audio_level(_frame(0.0)) == 0.0
    quiet, loud = audio_level(_frame(0.01)), audio_level(_frame(0.5))
    assert 0 < quiet < loud <= 1


def test_smoothing_rises_fast_and_falls_slowly() -> None:
    assert smooth(0.0, 1.0) == 0.5
    assert smooth(1.0, 0.0) == 0.9


def test_the_dominant_speaker_is_held_until_someone_is_clearly_louder() -> None:
    assert loudest({"a": 0.0, "b": 0.01}, None) is None
    assert loudest({"a": 0.6, "b": 0.3}, None) == "a"
    assert loudest({"a": 0.6, "b": 0.65}, "a") == "a", "not clearly louder"
    assert loudest({"a": 0.4, "b": 0.65}, "a") == "b"
