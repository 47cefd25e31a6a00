"""``media/audio_processing.py`` with WebRTC's real audio processing module, on real
(synthesized) speech through a simulated room: how much echo is left, whether the near
end survives double talk, how much noise goes. The same through real devices and a
PulseAudio echo path is in ``tests/ui/test_echo_path.py``."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.media.audio_processing import (
    FRAME,
    AudioProcessingSettings,
    AudioProcessor,
)
from tests.support import speech
from tests.support.speech import (
    FAR_TEXT,
    NEAR_TEXT,
    RATE,
    active,
    energy_db,
    fit,
    frames_of,
    quiet_stretches,
)

pytestmark = pytest.mark.skipif(not speech.available(), reason="needs espeak-ng")

SECONDS = 10.0
CONVERGED = 2 * RATE  # what comes after the first 2 s is measured


def room(far: np.ndarray, delay_ms: float = 40.0) -> np.ndarray:
    """What a laptop's microphone hears of its speaker: the sound ``delay_ms`` later
    (the devices' buffers and the air), quieter, with a few reflections off the walls."""
    echo = np.zeros(len(far), dtype=np.float64)
    for extra_ms, gain in ((0.0, 0.5), (7.0, 0.2), (19.0, 0.1), (33.0, 0.05)):
        shift = int((delay_ms + extra_ms) * RATE / 1000)
        echo[shift:] += gain * far[: len(far) - shift]
    return echo


def through(processor: AudioProcessor, far: np.ndarray, microphone: np.ndarray) -> np.ndarray:
    """Frame by frame as a call runs: the speaker's 20 ms, then the microphone's."""
    processor.microphone_opened()
    out = []
    for start in range(0, len(microphone), FRAME):
        processor.render(far[start : start + FRAME].astype(np.int16))
        out.append(processor.capture(microphone[start : start + FRAME].astype(np.int16)))
    return np.concatenate(out)


def _far() -> np.ndarray:
    return fit(speech.speech(FAR_TEXT, "en-us+m3"), SECONDS).astype(np.float64) * 0.6


def _near() -> np.ndarray:
    return fit(speech.speech(NEAR_TEXT, "en-gb+f3"), SECONDS).astype(np.float64) * 0.5


def test_echo_of_the_far_end_loses_at_least_25_db() -> None:
    far = _far()
    echo = room(far)
    sent = through(AudioProcessor(), far, echo)
    talking = active(far[CONVERGED:])
    before = energy_db(frames_of(echo[CONVERGED:], talking))
    after = energy_db(frames_of(sent[CONVERGED:], talking))
    print(f"echo return loss enhancement: {before - after:.1f} dB")
    assert before - after >= 25, (before, after)


def test_the_near_end_stays_during_double_talk() -> None:
    far, near = _far(), _near()
    sent = through(AudioProcessor(), far, room(far) + near)
    # Where both talk at once, after convergence: the near end's voice is still there.
    both = active(near[CONVERGED:]) & active(far[CONVERGED:])
    assert both.sum() > 100, "the test speaks over itself for a good while"
    near_alone = energy_db(frames_of(near[CONVERGED:], both))
    sent_db = energy_db(frames_of(sent[CONVERGED:], both))
    print(f"near end during double talk: {sent_db - near_alone:+.1f} dB against unprocessed")
    assert abs(sent_db - near_alone) <= 6, (near_alone, sent_db)


def test_steady_noise_loses_15_db_and_speech_stays() -> None:
    """A fan behind someone who talks in sentences: between the sentences, what is sent
    is 15 dB quieter than the fan; while they talk, their voice keeps its level."""
    near = fit(speech.speech(NEAR_TEXT, "en-gb+f3"), SECONDS, pause=1.5).astype(np.float64)
    noise = np.random.default_rng(7).normal(0, 300, len(near))  # about -40 dBFS
    sent = through(AudioProcessor(), np.zeros_like(near), near * 0.5 + noise)
    between = quiet_stretches(near[CONVERGED:])
    talking = active(near[CONVERGED:])
    assert between.sum() > 100, "the sentences have pauses between them"
    noise_gone = energy_db(frames_of(noise[CONVERGED:], between)) - energy_db(
        frames_of(sent[CONVERGED:], between)
    )
    speech_change = energy_db(frames_of(sent[CONVERGED:], talking)) - energy_db(
        frames_of(near[CONVERGED:] * 0.5, talking)
    )
    print(f"noise reduced by {noise_gone:.1f} dB; speech {speech_change:+.1f} dB")
    assert noise_gone >= 15, noise_gone
    assert abs(speech_change) <= 6, speech_change


def test_with_every_part_off_the_sound_passes_untouched() -> None:
    near = _near()[: RATE * 2].astype(np.int16)
    processor = AudioProcessor(AudioProcessingSettings.none())
    assert np.array_equal(through(processor, np.zeros_like(near), near), near)


def test_odd_frame_sizes_come_out_whole_and_in_order() -> None:
    """A device that delivers 7 ms, 13 ms … frames: cut into the module's 10 ms steps,
    nothing lost, repeated or reordered — the same sound as whole steps give (at most one
    partial step waits for the next frame)."""
    talk = fit(speech.speech(NEAR_TEXT, "en-gb+f3"), 3.0)
    settings = AudioProcessingSettings(False, True, True, False)
    whole = AudioProcessor(settings)
    whole.microphone_opened()
    expected = np.concatenate([whole.capture(talk[i : i + 480]) for i in range(0, len(talk), 480)])
    odd = AudioProcessor(settings)
    odd.microphone_opened()
    out, start = [], 0
    for size in [336, 624, 480, 1000, 17, 2903] * 40:
        if start >= len(talk):
            break
        out.append(odd.capture(talk[start : start + size]))
        start += size
    joined = np.concatenate(out)
    assert len(talk) - len(joined) < 480
    assert np.array_equal(joined, expected[: len(joined)])


def test_switching_parts_applies_to_the_sound_from_then_on() -> None:
    near = fit(speech.speech(NEAR_TEXT, "en-gb+f3"), SECONDS, pause=1.5).astype(np.float64)
    noise = np.random.default_rng(3).normal(0, 300, len(near))
    processor = AudioProcessor(AudioProcessingSettings.none())
    untouched = through(processor, np.zeros_like(near), near * 0.5 + noise)
    assert np.array_equal(untouched, (near * 0.5 + noise).astype(np.int16))
    processor.configure(AudioProcessingSettings(echo_cancellation=False))
    quieter = through(processor, np.zeros_like(near), near * 0.5 + noise)
    between = quiet_stretches(near)
    assert energy_db(frames_of(quieter, between)) < energy_db(frames_of(untouched, between)) - 10


def test_switches_changed_with_no_microphone_open_apply_to_the_next_one() -> None:
    """The switches live on the home screen: changed between calls, the next call's
    microphone gets them."""
    near = fit(speech.speech(NEAR_TEXT, "en-gb+f3"), 2.0)
    processor = AudioProcessor()
    processor.microphone_opened()
    processed = processor.capture(near)
    processor.microphone_closed()
    assert not np.array_equal(processed, near), "processed while on"
    processor.configure(AudioProcessingSettings.none())
    processor.microphone_opened()  # the next call
    assert np.array_equal(processor.capture(near), near), "every part off: untouched"


def test_each_call_starts_with_a_fresh_module_unmarked_by_the_last_one() -> None:
    """What the echo canceller and the suppressor learnt in one call (its room, its far
    end) does not carry into the next: the same sound comes out the same way in both.
    (A module kept between calls let a fan through ~8 dB louder from the second call on,
    on real devices with the echo test.)"""
    far, near = _far()[: 4 * RATE], _near()[: 4 * RATE]
    noise = np.random.default_rng(11).normal(0, 300, len(near))
    processor = AudioProcessor()
    first = through(processor, far, room(far) + near + noise)
    processor.microphone_closed()  # the call ends; the next one opens the microphone again
    second = through(processor, far, room(far) + near + noise)
    assert np.array_equal(first, second)
