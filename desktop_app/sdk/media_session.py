"""A joined call's media: what connects us to the others and what arrives from them.

:class:`MediaSession` is the interface a call's media sits behind; :class:`MeshSession`
is the peer-to-peer kind (one aiortc connection per other participant, see
:mod:`desktop_app.sdk.rtc`). A second kind — an SFU session — implements the same
interface. A session

* sends what the call's devices capture (each peer connection takes its own branch);
* hands every remote track to its participant (``participant.video_track`` …), reading it
  itself so nothing queues up, measuring audio levels on the way and keeping the dominant
  speaker; the app gets a branch that always holds the newest frame;
* keeps signals and tracks that outrun the join answer or the participant's event, until
  they can be placed;
* reports whether its connections came up or failed (``on_report``); the call's state
  machine decides what follows (a rejoin).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import av
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.protocol.calls import MediaInfo
from desktop_app.protocol.events import CallSignalEvent, WsSignalMessage

from .call_state import CallState, Participant
from .device_managers import InputDeviceManager, SpeakerManager
from .ice import usable_ice_servers
from .levels import audio_level, loudest, smooth
from .quality import QualityLevel, QualityMeter, StatsSample, UplinkMeter
from .rtc import PeerMesh

log = logging.getLogger(__name__)

MediaReport = Literal["connected", "failed"]
#: How long closing waits for a close already under way (aiortc closes in milliseconds).
CLOSE_SECONDS = 5.0
SendMessage = Callable[[dict[str, Any]], Awaitable[None]]
#: How often each peer connection's statistics are read for its quality.
QUALITY_SECONDS = 1.0
#: How long everyone may be silent ("lost") before we ask whether our network is gone.
SILENCE_SECONDS = 6.0


class MediaSession(Protocol):
    """What a call needs from its media, whatever carries it."""

    def expect(self) -> None:
        """A join is on its way: keep early signals for it."""

    async def connect(self, media: MediaInfo, video: bool) -> None:
        """Connect as the participant session of ``media`` (the join answer's)."""

    async def sync(self) -> None:
        """Connect to every participant we are not connected to yet."""

    def signal(self, event: CallSignalEvent) -> None: ...

    def participant_joined(self, session_id: str) -> None: ...

    def participant_left(self, session_id: str) -> None: ...

    async def close(self) -> None:
        """Close every connection (the devices stay as they are)."""


class MeshSession:
    def __init__(
        self,
        state: CallState,
        camera: InputDeviceManager,
        microphone: InputDeviceManager,
        speaker: SpeakerManager,
        send: SendMessage,
        on_report: Callable[[MediaReport], None],
        *,
        prefer_h264: bool = False,
        reachable: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.state = state
        self.camera = camera
        self.microphone = microphone
        self.speaker = speaker
        self._send = send
        self._on_report = on_report
        self.prefer_h264 = prefer_h264
        #: Whether the coordinator answers (see ``_judge_silence``).
        self._reachable = reachable
        #: Since when nothing has arrived from anyone who sends (None: something has).
        self._silent_since: float | None = None
        self.mesh: PeerMesh | None = None
        self.media: MediaInfo | None = None
        self._relay = MediaRelay()
        self._expecting = False
        #: Counts closes: a connect that awaited (the ICE probe) sees whether the media
        #: was closed meanwhile.
        self._generation = 0
        #: Signals that arrived before our mesh existed (a peer may offer the moment our
        #: join is committed, before its answer has reached us).
        self._early_signals: list[CallSignalEvent] = []
        #: Remote tracks that arrived before their participant was known, by session.
        self._unclaimed: dict[str, list[MediaStreamTrack]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Meshes being closed (see ``close``).
        self._closing: list[PeerMesh] = []
        #: Connection quality per remote participant session, fed once a second.
        self._meters: dict[str, QualityMeter] = {}
        self._uplink = UplinkMeter()
        self._quality_task: asyncio.Future[None] | None = None

    def expect(self) -> None:
        self._expecting = True

    async def connect(self, media: MediaInfo, video: bool) -> None:
        # Signals that came before (or come during) the set-up wait for the new mesh: the
        # previous one's close and the ICE probe (a second where UDP is blocked) take
        # time, and a peer that offers meanwhile does not offer again.
        self._expecting = True
        await self.close(keep_signals=True)
        generation = self._generation
        self.media = media
        ice_servers = await usable_ice_servers(media.ice_servers)
        if generation != self._generation:
            return  # closed while the probe ran: the call is over
        sources = [self.microphone.subscribe] + ([self.camera.subscribe] if video else [])
        self._unsubscribe = self.state.participants_.subscribe(self._claim_tracks)
        self.mesh = PeerMesh(
            media.session_id,
            ice_servers,
            sources,
            self._send_signal,
            self._remote_track,
            on_state=self._peer_state,
            prefer_h264=self.prefer_h264,
        )
        self._meters.clear()
        self._uplink = UplinkMeter()
        self._silent_since = None
        self._quality_task = asyncio.ensure_future(self._watch_quality())
        early, self._early_signals = self._early_signals, []
        self._expecting = False
        for event in early:
            self.signal(event)
        await self.sync()

    async def sync(self) -> None:
        if self.mesh is None:
            return
        for participant in self.state.participants:
            await self.mesh.seen(participant.session_id)

    def signal(self, event: CallSignalEvent) -> None:
        if self.mesh is None:
            if self._expecting:
                self._early_signals.append(event)
            return
        if event.to_session_id == self.mesh.local_session_id:
            self._spawn(self.mesh.signal(event.from_session_id, event.signal))

    def participant_joined(self, session_id: str) -> None:
        if self.mesh is not None:
            self._spawn(self.mesh.seen(session_id))

    def participant_left(self, session_id: str) -> None:
        if self.mesh is not None:
            self._spawn(self.mesh.drop(session_id))
        self.speaker.forget(session_id)

    async def close(self, *, keep_signals: bool = False) -> None:
        """Close the media (``keep_signals``: a new connect follows, and the signals that
        came early, or come meanwhile, are for it)."""
        self._generation += 1
        if self._quality_task is not None:
            self._quality_task.cancel()
            self._quality_task = None
        if not keep_signals:
            self._expecting = False
            self._early_signals.clear()
        self._unclaimed.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.mesh is not None:
            mesh, self.mesh = self.mesh, None
            self._closing.append(mesh)
        # A second close (the client going away while a leave closes) returns only when
        # every peer is closed: a peer left half-closed keeps aiortc's decoder threads.
        for mesh in list(self._closing):
            try:
                await asyncio.wait_for(mesh.close(), CLOSE_SECONDS)
            except TimeoutError:
                log.warning("peer connections still closing after %s s", CLOSE_SECONDS)
            if mesh in self._closing:
                self._closing.remove(mesh)
        for participant in self.state.participants:
            if not participant.is_local:
                participant.video_track = participant.audio_track = None
                participant.audio_level = 0.0
                participant.connection_state = "new"
                participant.connection_path = None
            participant.quality = None

    # --- inside ------------------------------------------------------------------------

    async def _send_signal(self, remote: str, signal: dict[str, Any]) -> None:
        assert self.media is not None
        message = WsSignalMessage(
            type="call.signal",
            call_cid=self.state.call.cid if self.state.call else "",
            from_session_id=self.media.session_id,
            to_session_id=remote,
            signal=signal,
        )
        await self._send(message.model_dump(mode="json"))

    def _peer_state(self, remote: str, state: str) -> None:
        participant = self._participant(remote)
        if participant is not None:
            participant.connection_state = state
            participant.connection_path = (
                self.mesh.path(remote) if state == "connected" and self.mesh else None
            )
            self.state.participants_.notify()
        if state == "connected":
            self._on_report("connected")
        elif state in ("failed", "closed") and participant is not None:
            log.info("media to %s %s", remote, state)
            self._on_report("failed")

    async def _watch_quality(self) -> None:
        """Once a second: each connected peer's statistics into its participant's quality,
        and ours (the uplink) into the local participant's; the participants are
        announced when any of it changed (the tiles' bars and tooltips follow)."""
        while True:
            await asyncio.sleep(QUALITY_SECONDS)
            try:
                await self._measure_quality()
            except Exception:  # a peer closing under our feet: next second, again
                log.debug("reading statistics failed", exc_info=True)

    async def _measure_quality(self) -> None:
        mesh = self.mesh
        if mesh is None:
            return
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
                sample = await mesh.statistics(participant.session_id, now)
            if sample is not None:
                samples.append(sample)
                meter = self._meters.setdefault(participant.session_id, QualityMeter())
                quality = meter.add(sample)
                sent_kbps += quality.send_kbps if quality is not None else 0.0
            changed |= participant.quality != quality
            participant.quality = quality
            if quality is not None and quality.level is QualityLevel.LOST:
                # Their last loud frame is not them speaking now.
                participant.audio_level = 0.0
        if changed:
            self._update_speaker()
        local = self.state.local_participant
        everyone_lost = self._everyone_lost()
        if local is not None:
            # With nothing arriving, the last receiver reports say nothing about now: our
            # own bars go rather than stay green while everyone else reconnects.
            quality = None if everyone_lost else self._uplink.add(samples, sent_kbps)
            changed |= local.quality != quality
            local.quality = quality
        if changed:
            self.state.participants_.notify()
        await self._judge_silence(now, everyone_lost)

    def _everyone_lost(self) -> bool:
        remote = [p for p in self.state.participants if not p.is_local]
        return bool(remote) and all(
            p.quality is not None and p.quality.level is QualityLevel.LOST for p in remote
        )

    async def _judge_silence(self, now: float, silent: bool) -> None:
        """Nothing arriving from anyone for :data:`SILENCE_SECONDS`: if the coordinator
        does not answer either, our own network is gone — the media has failed (the call
        rejoins, and ends in ``reconnecting-failed`` when that cannot work). If it answers,
        the others' networks are gone: their tiles say so, and we wait for them.

        aiortc would find out by itself only when ICE consent fails, half a minute or more
        later, and not at all while sending fails locally ("network unreachable")."""
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
            self._on_report("failed")

    def _participant(self, session_id: str) -> Participant | None:
        return next((p for p in self.state.participants if p.session_id == session_id), None)

    def _remote_track(self, remote: str, track: MediaStreamTrack) -> None:
        participant = self._participant(remote)
        if participant is None:
            # Media can outrun the event that announces its participant: keep the track
            # until the participant appears (see _claim_tracks).
            self._unclaimed.setdefault(remote, []).append(track)
            return
        branch = self._relay.subscribe(track, buffered=False)
        if track.kind == "video":
            participant.video_track = branch
        else:
            participant.audio_track = branch
        self._spawn(self._drain(participant, self._relay.subscribe(track), track.kind == "audio"))
        self.state.participants_.notify()

    def _claim_tracks(self, participants: list[Participant]) -> None:
        for participant in participants:
            for track in self._unclaimed.pop(participant.session_id, []):
                self._remote_track(participant.session_id, track)

    async def _drain(self, participant: Participant, track: MediaStreamTrack, audio: bool) -> None:
        try:
            while True:
                frame = await track.recv()
                if audio and isinstance(frame, av.AudioFrame):
                    muted = participant.published.get("audio") is False  # frames still in flight
                    level = 0.0 if muted else smooth(participant.audio_level, audio_level(frame))
                    participant.audio_level = level
                    self._update_speaker()
                    self.speaker.play(participant.session_id, frame)
        except MediaStreamError:
            participant.audio_level = 0.0

    def _update_speaker(self) -> None:
        levels = {p.session_id: p.audio_level for p in self.state.participants if not p.is_local}
        current = self.state.dominant_speaker
        chosen = loudest(levels, current.session_id if current else None)
        speaker = self._participant(chosen) if chosen is not None else None
        if speaker is not current:
            self.state.dominant_speaker_.set(speaker)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("media step failed: %s", task.exception())
