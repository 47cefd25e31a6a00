"""Once a second: how the connection with each participant is, and whether ours is gone.

Each remote participant's counters (``statistics``, from whatever carries the call's
media now) go through a :class:`~.quality.QualityMeter` into ``participant.quality``; the
receiver reports about our own packets into the local participant's (our uplink). When
everyone has been silent ("lost") for :data:`SILENCE_SECONDS` and the coordinator does not
answer either, our own network is gone and the media is reported failed — aiortc would
find out by itself only when ICE consent fails, half a minute or more later, and not at
all while sending fails locally ("network unreachable").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from .call_state import CallState
from .quality import QualityLevel, QualityMeter, StatsSample, UplinkMeter

log = logging.getLogger(__name__)

#: How often each participant's statistics are read.
QUALITY_SECONDS = 1.0
#: How long everyone may be silent ("lost") before we ask whether our network is gone.
SILENCE_SECONDS = 6.0

Statistics = Callable[[str, float], Awaitable[StatsSample | None]]


class QualityWatch:
    def __init__(
        self,
        state: CallState,
        statistics: Statistics,
        on_changed: Callable[[], None],
        on_network_gone: Callable[[], None],
        reachable: Callable[[], Awaitable[bool]] | None,
        uplink_shared: Callable[[], bool] = lambda: False,
    ) -> None:
        self.state = state
        #: Whether every participant's sample shows the same uplink (one connection to an
        #: SFU) rather than a connection each (a mesh: what we send is their sum).
        self._uplink_shared = uplink_shared
        self._statistics = statistics
        self._on_changed = on_changed
        self._on_network_gone = on_network_gone
        self._reachable = reachable
        self._meters: dict[str, QualityMeter] = {}
        #: Whose last figure stands while the path they moved to has none yet.
        self._carried: set[str] = set()
        self._uplink = UplinkMeter()
        #: Since when nothing has arrived from anyone who sends (None: something has).
        self._silent_since: float | None = None
        self._task: asyncio.Future[None] | None = None

    def start(self) -> None:
        self.stop()
        self._meters.clear()
        self._uplink = UplinkMeter()
        self._silent_since = None
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def forget(self) -> None:
        """The media moved to another path: measure it afresh — each person's last figure
        standing until the new path has one (the bars do not blink at every switch)."""
        self._meters.clear()
        self._carried = {p.session_id for p in self.state.participants if p.quality is not None}

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(QUALITY_SECONDS)
            try:
                await self.measure()
            except Exception:  # a connection closing under our feet: next second, again
                log.debug("reading statistics failed", exc_info=True)

    async def measure(self) -> None:
        now = time.monotonic()
        samples: list[StatsSample] = []
        sent_kbps = 0.0
        changed = False
        for participant in list(self.state.participants):
            if participant.is_local:
                continue
            quality = None
            sample = None
            if participant.connection_state == "connected":
                sample = await self._statistics(participant.session_id, now)
            if sample is not None:
                samples.append(sample)
                meter = self._meters.setdefault(participant.session_id, QualityMeter())
                quality = meter.add(sample)
                if quality is None and participant.session_id in self._carried:
                    quality = participant.quality  # the new path's first sample
                else:
                    self._carried.discard(participant.session_id)
                if quality is not None and self._uplink_shared():
                    # One upload to the server for everyone: ours, said on our own tile
                    # only (on each of theirs it read as what we send *them*).
                    sent_kbps = max(sent_kbps, quality.send_kbps)
                    quality = replace(quality, send_kbps=0.0)
                elif quality is not None:
                    sent_kbps += quality.send_kbps
            changed |= participant.quality != quality
            participant.quality = quality
            if quality is not None and quality.level is QualityLevel.LOST:
                # Their last loud frame is not them speaking now.
                participant.audio_level = 0.0
        local = self.state.local_participant
        everyone_lost = self.everyone_lost()
        if local is not None:
            # With nothing arriving, the last receiver reports say nothing about now: our
            # own bars go rather than stay green while everyone else reconnects.
            quality = None if everyone_lost else self._uplink.add(samples, sent_kbps)
            changed |= local.quality != quality
            local.quality = quality
        if changed:
            self._on_changed()
        await self._judge_silence(now, everyone_lost)

    def everyone_lost(self) -> bool:
        remote = [p for p in self.state.participants if not p.is_local]
        return bool(remote) and all(
            p.quality is not None and p.quality.level is QualityLevel.LOST for p in remote
        )

    async def _judge_silence(self, now: float, silent: bool) -> None:
        """Nothing from anyone for a while: our network, or theirs? (module docstring)"""
        if not silent:
            self._silent_since = None
            return
        if self._silent_since is None:
            self._silent_since = now
        if now - self._silent_since < SILENCE_SECONDS or self._reachable is None:
            return
        self._silent_since = now  # asked again after another stretch
        if not await self._reachable():
            log.info("nothing arrives and the server does not answer: the network is gone")
            self._on_network_gone()
