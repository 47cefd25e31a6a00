"""Calls through TURN beside direct ones, in the same run (network namespaces; root).

    .venv/bin/python tests/perf/bench_turn.py [--calls 5] [--seconds 20]

* **accept → first remote frame**: from the callee's bot answering a ring to the first
  frame of the caller's picture it decodes, for calls between two routed sites (direct)
  and between two sites behind symmetric NATs (relayed by coturn); median, min–max, and
  the ratio relayed / direct.
* **CPU of relaying**: coturn's CPU time (``/proc/<pid>/stat``) while one relayed call
  runs for ``--seconds``, as a share of one core, beside a bot's in the same call (a
  client encoding and decoding 640x480 VP8 both ways and Opus).

Uses ``tests/net/scene.py`` (coordinator and coturn in a "public" namespace).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.net.scene import Person, Scene, Side

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


def one_call(relayed: bool) -> tuple[float, Scene, Person, Person]:
    """A call (left running) and the seconds from Bob's answer to Alice's first frame."""
    scene = Scene().__enter__()
    try:
        side = Side(nat="symmetric") if relayed else Side(nat=None)
        alice = scene.person("alice", scene.site("a", side))
        bob = scene.person("bob", scene.site("b", side))
        bob.bot("--answer", "accept")
        alice.bot("--ring", "bob")
        answered = bob.wait_for("answering ")
        seen = bob.wait_for("receiving video from alice")
        path = bob.path_to("alice")
        assert ("relayed" in path) == relayed, path
    except BaseException:
        scene.__exit__()
        raise
    return bob.when(seen) - bob.when(answered), scene, alice, bob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"direct": [], "relayed": []}
    for _ in range(args.calls):  # alternated, so that drift hits both alike
        for kind in ("direct", "relayed"):
            seconds, scene, _, _ = one_call(kind == "relayed")
            scene.__exit__()
            times[kind].append(seconds * 1000)
    print(f"accept → first remote frame, {args.calls} calls each (ms):")
    for kind, values in times.items():
        print(
            f"  {kind:<8} median {statistics.median(values):6.0f} "
            f"({min(values):.0f}–{max(values):.0f})"
        )
    ratio = statistics.median(times["relayed"]) / statistics.median(times["direct"])
    print(f"  relayed / direct: {ratio:.2f}")

    _, scene, alice, _ = one_call(relayed=True)
    try:
        turn_pid = scene.turn.pid
        assert alice.output is not None
        bot_pid = alice.output.process.pid
        turn_before, bot_before = cpu_seconds(turn_pid), cpu_seconds(bot_pid)
        time.sleep(args.seconds)
        turn = (cpu_seconds(turn_pid) - turn_before) / args.seconds
        bot = (cpu_seconds(bot_pid) - bot_before) / args.seconds
    finally:
        scene.__exit__()
    print(f"CPU while one relayed call runs {args.seconds:.0f} s (share of one core):")
    print(f"  coturn relaying both ways {100 * turn:5.1f} %")
    print(f"  one bot (the baseline)    {100 * bot:5.1f} %")
    print(f"  coturn / bot: {turn / bot:.2f}")


if __name__ == "__main__":
    main()
