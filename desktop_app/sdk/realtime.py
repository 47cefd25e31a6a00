"""Keeping the garbage collector out of the media path.

A full (generation 2) collection walks every object in the process; with the SDK's
libraries loaded (pydantic models, aiortc, PyAV, numpy) that took 75–85 ms on these
machines, measured in ``tests/perf/bench_media.py`` — a frozen picture, a gap in the sound,
and a call whose setup waits for it. Objects made before the first connection are
libraries and settings that live as long as the process; :func:`gc.freeze` moves them out
of the collector's sight (CPython's documented use), so later collections walk only what
calls create. Called once per process, by ``VideoClient.connect``.
"""

from __future__ import annotations

import gc

_done = False


def quiet_garbage_collector() -> None:
    global _done
    if _done:
        return
    gc.collect()  # whatever is garbage now should not be frozen
    gc.freeze()
    _done = True
