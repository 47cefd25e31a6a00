"""A private PulseAudio for a test: its own runtime folder (so it never meets a person's
sound server), no configuration file, and the modules the test names — null sinks as
speakers, remapped monitors as microphones, loopbacks as rooms (DESIGN.md §6)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def available() -> bool:
    return shutil.which("pulseaudio") is not None and shutil.which("paplay") is not None


@contextmanager
def pulseaudio(work: Path, modules: list[str]) -> Iterator[dict[str, str]]:
    """Run PulseAudio with ``modules`` (``module-null-sink sink_name=x`` …) until the block
    ends; yields the environment that reaches it."""
    runtime = work / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(work)}
    loads = [f"--load={module}" for module in ["module-native-protocol-unix", *modules]]
    subprocess.run(
        ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", *loads],
        env=env,
        check=True,
        timeout=30,
        capture_output=True,
    )
    try:
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, timeout=30, capture_output=True)
