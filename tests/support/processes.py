"""Ending the child processes tests start."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(process: subprocess.Popen[Any], seconds: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``seconds``; reaped either way."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
