"""Launch to first window: the installed Parley beside ``python -m desktop_app`` from the
venv, measured in the same run.

    .venv/bin/python tests/perf/bench_startup.py [--runs 5] [--cold]

"First window" is what a person sees: the moment the window manager (openbox, on a
private Xvfb) lists a new client in ``_NET_CLIENT_LIST``, watched with ``xprop -spy``
(events, no polling). Each launch gets a fresh ``HOME`` (a first start: the sign-in
screen) and ends with its process group. ``--cold`` drops the page cache before every
launch (root only), as after a reboot; without it the libraries are in memory, as on any
later start. The installed app is ``/usr/bin/parley``, else the bundle in
``build/dist/parley`` (``bash packaging/build.sh``).

Needs Debian's ``xvfb``, ``openbox`` and ``x11-utils``.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_SECONDS = 60.0


@contextmanager
def desktop() -> Iterator[str]:
    """A private X display with a window manager; yields its ``DISPLAY``."""
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert xvfb.stdout is not None
    display = ":" + xvfb.stdout.readline().decode().strip()
    wm = subprocess.Popen(
        ["openbox"], env={**os.environ, "DISPLAY": display}, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while "window id" not in _root_property(display, "_NET_SUPPORTING_WM_CHECK"):
            if time.monotonic() > deadline:
                raise SystemExit("openbox did not start")
            time.sleep(0.05)
        yield display
    finally:
        for process in (wm, xvfb):
            process.terminate()
            process.wait(10)


def _root_property(display: str, name: str) -> str:
    return subprocess.run(
        ["xprop", "-display", display, "-root", name], capture_output=True, text=True
    ).stdout


class ClientList:
    """Arrival times of the window manager's client list, as ``xprop -spy`` prints it."""

    def __init__(self, display: str) -> None:
        self.changes: queue.Queue[tuple[float, int]] = queue.Queue()
        self.process = subprocess.Popen(
            ["xprop", "-display", display, "-root", "-spy", "_NET_CLIENT_LIST"],
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            arrived = time.monotonic()
            ids = line.partition("#")[2]
            self.changes.put((arrived, len([i for i in ids.split(",") if i.strip()])))

    def first_window_after(self, started: float) -> float:
        """Seconds from ``started`` to the first list that holds a window."""
        deadline = started + LAUNCH_SECONDS
        while True:
            arrived, count = self.changes.get(timeout=max(0.1, deadline - time.monotonic()))
            if arrived >= started and count > 0:
                return arrived - started

    def until_empty(self) -> None:
        while True:
            _, count = self.changes.get(timeout=LAUNCH_SECONDS)
            if count == 0:
                return

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def launch(command: list[str], display: str, clients: ClientList, cold: bool) -> float:
    home = tempfile.mkdtemp(prefix="parley-bench-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "PARLEY_"))}
    env.update(HOME=home, DISPLAY=display, XDG_SESSION_TYPE="x11", QT_QPA_PLATFORM="xcb")
    if cold:
        drop_page_cache()
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return clients.first_window_after(started)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        clients.until_empty()
        shutil.rmtree(home, ignore_errors=True)


def installed() -> list[str]:
    for candidate in (Path("/usr/bin/parley"), ROOT / "build" / "dist" / "parley" / "parley"):
        if candidate.exists():
            return [str(candidate)]
    raise SystemExit("no installed Parley and no bundle: run bash packaging/build.sh first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="drop the page cache first (root)")
    args = parser.parse_args()
    contenders = {
        "installed": installed(),
        "venv": [str(ROOT / ".venv" / "bin" / "python"), "-m", "desktop_app"],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with desktop() as display:
        clients = ClientList(display)
        try:
            for _ in range(args.runs):  # alternated, so that drift hits both alike
                for name, command in contenders.items():
                    times[name].append(launch(command, display, clients, args.cold))
        finally:
            clients.close()
    kind = "cold (page cache dropped)" if args.cold else "warm"
    print(f"launch → first window, {kind}, median of {args.runs} (min–max):")
    for name, command in contenders.items():
        values = times[name]
        print(
            f"  {name:<9} {statistics.median(values):6.2f} s "
            f"({min(values):.2f}–{max(values):.2f})  {' '.join(command)}"
        )
    ratio = statistics.median(times["installed"]) / statistics.median(times["venv"])
    print(f"  installed / venv: {ratio:.2f}")


if __name__ == "__main__":
    main()
