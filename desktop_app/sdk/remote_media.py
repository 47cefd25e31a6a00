"""What arrives from the others, whichever leg carries it (see :mod:`.media_session`).

Every remote track a leg receives is read by a drain as it arrives: on the active leg
its sound is measured (audio levels, the dominant speaker) and played, and the app gets
a branch that always holds the newest frame (``participant.video_track`` …); on a leg
being built the frames only count as *arrived* (``Leg.flowing``), so the switch knows when
the new leg carries everyone. :meth:`RemoteMedia.hand_over` gives the participants a leg's
tracks in one synchronous step. Tracks that outrun the event announcing their participant
wait until it comes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import av
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .call_state import CallState, Participant
from .device_managers import SpeakerManager
from .legs import Leg
from .levels import audio_level, loudest, smooth

log = logging.getLogger(__name__)


class RemoteMedia:
    def __init__(
        self,
        state: CallState,
        speaker: SpeakerManager,
        active: Callable[[Leg], bool],
        connected: Callable[[], None],
        spawn: Callable[[Awaitable[Any]], None],
    ) -> None:
        self.state = state
        self.speaker = speaker
        #: Whether a leg is the one shown and played now.
        self._active = active
        #: Told when media arrives through the SFU (its "connected" per person).
        self._connected = connected
        self._spawn = spawn
        self._relay = MediaRelay()
        #: Remote tracks that arrived before their participant was known, by session.
        self._unclaimed: dict[str, list[tuple[Leg, MediaStreamTrack]]] = {}
        #: The leg whose sound of each participant is played now. At a switch the old
        #: leg's goes on until the new leg's first sound after it: a new leg whose next
        #: packet is late must not leave a hole in anyone's voice.
        self._sound_from: dict[str, Leg] = {}

    def forget(self) -> None:
        self._unclaimed.clear()
        self._sound_from.clear()

    def hand_over(self, leg: Leg) -> None:
        """Every participant's tracks from ``leg`` (synchronously: no frame is lost)."""
        for participant in self.state.participants:
            if participant.is_local:
                continue
            tracks = leg.tracks.get(participant.session_id, {})
            video, audio = tracks.get("video"), tracks.get("audio")
            participant.video_track = (
                self._relay.subscribe(video, buffered=False) if video else None
            )
            participant.audio_track = (
                self._relay.subscribe(audio, buffered=False) if audio else None
            )
            if tracks:
                participant.connection_state = "connected"
            participant.connection_path = path_of(leg, participant.session_id)
        self.state.participants_.notify()

    def participant(self, session_id: str) -> Participant | None:
        return next((p for p in self.state.participants if p.session_id == session_id), None)

    def arrived(self, leg: Leg, remote: str, track: MediaStreamTrack) -> None:
        participant = self.participant(remote)
        if participant is None:
            # Media can outrun the event that announces its participant: keep the track
            # until the participant appears (see claim).
            self._unclaimed.setdefault(remote, []).append((leg, track))
            return
        leg.tracks.setdefault(remote, {})[track.kind] = track
        if self._active(leg):
            branch = self._relay.subscribe(track, buffered=False)
            if track.kind == "video":
                participant.video_track = branch
            else:
                participant.audio_track = branch
            if leg.mode == "sfu":
                participant.connection_state = "connected"
                participant.connection_path = path_of(leg, remote)
                self._connected()
        self._spawn(self._drain(leg, participant, track, self._relay.subscribe(track)))
        self.state.participants_.notify()

    def claim(self, participants: list[Participant]) -> None:
        for participant in participants:
            for leg, track in self._unclaimed.pop(participant.session_id, []):
                self.arrived(leg, participant.session_id, track)

    async def _drain(
        self, leg: Leg, participant: Participant, source: MediaStreamTrack, track: MediaStreamTrack
    ) -> None:
        """Read a remote track as it arrives: on the active leg its sound is measured and
        played (after a switch, the old leg's until the new one's first sound); on a leg
        being built, it only counts as arrived."""
        key = (participant.session_id, source.kind)
        audio = source.kind == "audio"
        try:
            while True:
                frame = await track.recv()
                if key not in leg.flowing:
                    leg.flowing.add(key)
                    leg.arrived.set()
                if audio and self._active(leg):
                    self._sound_from[participant.session_id] = leg
                elif not audio or self._sound_from.get(participant.session_id) is not leg:
                    continue
                if audio and isinstance(frame, av.AudioFrame):
                    muted = participant.published.get("audio") is False  # frames in flight
                    level = 0.0 if muted else smooth(participant.audio_level, audio_level(frame))
                    participant.audio_level = level
                    self.update_speaker()
                    self.speaker.play(participant.session_id, frame)
        except MediaStreamError:
            pass
        if (
            self._active(leg)
            and leg.tracks.get(participant.session_id, {}).get(source.kind) is source
        ):
            # Ended on the active leg (its video left the screen, or they left).
            del leg.tracks[participant.session_id][source.kind]
            leg.flowing.discard(key)
            if audio:
                participant.audio_level = 0.0
            elif source.kind == "video":
                participant.video_track = None
                self.state.participants_.notify()

    def update_speaker(self) -> None:
        levels = {p.session_id: p.audio_level for p in self.state.participants if not p.is_local}
        current = self.state.dominant_speaker
        chosen = loudest(levels, current.session_id if current else None)
        speaker = self.participant(chosen) if chosen is not None else None
        if speaker is not current:
            self.state.dominant_speaker_.set(speaker)


def path_of(leg: Leg, remote: str) -> Any:
    return leg.transport.path(remote) if leg.transport is not None else None
