"""Echo cancellation measured on a real echo path: Parley on its real (Qt) devices, in a
PulseAudio "room" where what its speaker plays reaches its microphone 40 ms later (a
loopback), in a call with a far end that talks and records what Parley sends
(``echo_path_check.py``). Each run has three phases, all timed from one moment:

====== ============= ============================================
phase  far end       the person at Parley
====== ============= ============================================
A      talks         silent: what is sent is echo
B      talks         talks: double talk
C      silent        talks: their voice alone
D      talks         muted and silent: only the echo reaches the mic
E      silent        muted and talking
====== ============= ============================================

The same call runs with the processing off (the baseline, in the same test) and on.
Echo return loss enhancement: phase A's energy off minus on (at least 25 dB, after 2 s
of convergence). Double talk: phase B's energy with processing against phase C's
without (the unprocessed near end): within 6 dB — over the same words: the near end's
speech starts afresh at C, and both windows cover the same seconds of it (whole windows,
pauses included, of different words differed by up to 3 dB on their own). "You are muted": with processing, the
echo in D never shows the hint (without, it does: the baseline) and the voice in E does."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from desktop_app.media.audio_processing import AudioProcessingSettings
from tests.support import pulseaudio, speech
from tests.support.coordinator import unique
from tests.support.speech import RATE, energy_db, fit
from tests.ui.conftest import UiCoordinator

pytestmark = [
    pytest.mark.skipif(not pulseaudio.available(), reason="needs PulseAudio (tests/run_all.sh)"),
    pytest.mark.skipif(not speech.available(), reason="needs espeak-ng (tests/run_all.sh)"),
    pytest.mark.timeout(300),
]

ROOT = Path(__file__).resolve().parents[2]
PHASE = 8.0  # seconds of phases A and B
LAST = 6.0  # seconds of phase C
MUTED_FAR, MUTED_NEAR = 6.0, 4.0  # seconds of phases D and E
MUTE_AT = 2 * PHASE + LAST
SECONDS = MUTE_AT + MUTED_FAR + MUTED_NEAR
#: Measured stretches (s from T0): after 2 s of convergence, clear of the phase changes
#: by more than the network's and the devices' delays. The near end's two stretches
#: cover the same words (its speech starts afresh at each phase).
ECHO_ALONE = (2.0, PHASE - 0.5)
DOUBLE_TALK = (PHASE + 1.0, PHASE + LAST - 0.5)
NEAR_ALONE = (2 * PHASE + 1.0, 2 * PHASE + LAST - 0.5)
#: The echo's window opens 2.5 s after the mute: the near talker's last words of phase C
#: may still be on their way through the devices then (a loaded machine: up to ~1 s),
#: and once they are heard the detector holds "speaking" for its 1.5 s hangover.
HINT_WINDOWS = {
    "echo": (MUTE_AT + 2.5, MUTE_AT + MUTED_FAR),
    "voice": (MUTE_AT + MUTED_FAR + 0.5, SECONDS),
}
ROOM = [
    "module-null-sink sink_name=parley_speaker",
    "module-null-sink sink_name=room",
    # The air between the laptop's speaker and its microphone: 40 ms. (Without the
    # dont_move flags PulseAudio moves the loopback's streams off these devices: silence.)
    "module-loopback source=parley_speaker.monitor sink=room latency_msec=40"
    " source_dont_move=true sink_dont_move=true",
    "module-remap-source master=room.monitor source_name=parley_mic",
]


def _phases(work: Path) -> tuple[Path, Path]:
    far_voice = speech.speech(speech.FAR_TEXT, "en-us+m3")
    near_voice = (speech.speech(speech.NEAR_TEXT, "en-gb+f3") * 0.7).astype(np.int16)

    def silence(seconds: float) -> np.ndarray:
        return np.zeros(int(seconds * RATE), dtype=np.int16)

    far = [fit(far_voice, 2 * PHASE), silence(LAST), fit(far_voice, MUTED_FAR), silence(MUTED_NEAR)]
    near = [silence(PHASE), fit(near_voice, PHASE), fit(near_voice, LAST), silence(MUTED_FAR)]
    near.append(fit(near_voice, MUTED_NEAR))
    far_raw, near_raw = work / "far.raw", work / "near.raw"
    np.concatenate(far).tofile(far_raw)
    np.concatenate(near).tofile(near_raw)
    return far_raw, near_raw


def _sent(
    coordinator: UiCoordinator, env: dict[str, str], work: Path, processing: bool
) -> tuple[np.ndarray, dict[str, bool]]:
    """What Parley sent in one call, from T0 on, as the far end received it, and whether
    the muted hint showed in each of its windows."""
    far_raw, near_raw = _phases(work)
    out = work / f"sent-{processing}.raw"
    config = {
        "server": coordinator.base_url,
        "near_token": coordinator.user_token("near"),
        "far_token": coordinator.user_token("far"),
        "call_id": unique(),
        "processing": asdict(AudioProcessingSettings()) if processing else None,
        "far_raw": str(far_raw),
        "near_raw": str(near_raw),
        "seconds": SECONDS,
        "mute_at": MUTE_AT,
        "hint_windows": HINT_WINDOWS,
        "out": str(out),
    }
    path = work / f"config-{processing}.json"
    path.write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/ui/echo_path_check.py"), str(path)],
        env={**env, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.strip().splitlines()[-1])
    assert said["near_speaker_playing"] and said["far_microphone_on"], said
    return np.fromfile(out, dtype=np.int16), said["hints"]


def _energy(samples: np.ndarray, stretch: tuple[float, float]) -> float:
    start, end = (int(t * RATE) for t in stretch)
    assert len(samples) >= end, f"recorded {len(samples) / RATE:.1f} s"
    return energy_db(samples[start:end])


def test_the_far_end_hears_no_echo_and_the_near_end_through_double_talk(
    coordinator: UiCoordinator, tmp_path: Path
) -> None:
    with pulseaudio.pulseaudio(tmp_path, ROOM) as env:
        off, hints_off = _sent(coordinator, env, tmp_path, processing=False)
        on, hints_on = _sent(coordinator, env, tmp_path, processing=True)
    echo_off, echo_on = _energy(off, ECHO_ALONE), _energy(on, ECHO_ALONE)
    near_unprocessed = _energy(off, NEAR_ALONE)
    double_talk = _energy(on, DOUBLE_TALK)
    print(
        f"echo sent: {echo_off:.1f} dB without processing, {echo_on:.1f} dB with "
        f"(ERLE {echo_off - echo_on:.1f} dB); near end in double talk {double_talk:.1f} dB "
        f"vs {near_unprocessed:.1f} dB unprocessed alone"
    )
    assert echo_off > near_unprocessed - 10, "the room does carry the echo (baseline)"
    assert echo_off - echo_on >= 25, (echo_off, echo_on)
    assert abs(double_talk - near_unprocessed) <= 6, (double_talk, near_unprocessed)
    print(f"muted hint: unprocessed {hints_off}, processed {hints_on}")
    assert hints_off["echo"], "unprocessed, the echo alone shows the hint (the baseline)"
    assert not hints_on["echo"], "processed, the far end's echo is not taken for speech"
    assert hints_on["voice"], "the voice into the muted microphone is"
