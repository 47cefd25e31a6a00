"""The Qt Multimedia device backend against a real sound server: PulseAudio with a null
sink as the speaker and that sink's monitor (remapped, since Qt hides monitors) as the
microphone. A tone played through the Qt speaker is heard through the Qt microphone. (No
camera can be faked on these machines.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import pulseaudio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sound_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not pulseaudio.available():
        pytest.skip("PulseAudio is not installed (tests/run_all.sh installs it)")
    modules = [
        "module-null-sink sink_name=parley_speaker",
        "module-null-sink sink_name=parley_mic_sink",
        "module-remap-source master=parley_mic_sink.monitor source_name=parley_mic",
    ]
    with pulseaudio.pulseaudio(tmp_path, modules) as env:
        yield env


def test_qt_speaker_and_microphone_carry_a_tone(sound_server: dict[str, str]) -> None:
    env = {**sound_server, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/ui/qt_audio_check.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["devices"]["microphone"] == [["parley_mic", True]]
    assert ["parley_speaker", True] in result["devices"]["speaker"]
    assert result["frames"] == 50 and result["rate"] == 48000
    assert result["peak"] > 1000, "sound arrived"
    assert abs(result["frequency"] - 660) < 10, "the tone's own pitch (no doubling)"
