"""A joined call's media: what connects us to the others, and the switch between paths.

:class:`CallMedia` carries a call's media over one of two **legs**: the peer-to-peer mesh
(one aiortc connection per other participant, :mod:`.rtc`) or a Janus room
(:mod:`.sfu`: one publisher and one subscriber connection). The active leg sends what the
call's devices capture (each connection takes its own branch) and reports whether its
connections came up or failed (``on_report``; the call's state machine decides what
follows: a rejoin). What arrives through the legs — tracks, levels, the dominant
speaker, the sound played — is :mod:`.remote_media`'s.

**Switching legs, make before break.** The coordinator says in the call's session how its
media travels (``media.mode``, ``media.room``). When that changes — a third person came,
the call is back at two, the room moved to another server — the new leg is built *beside*
the active one: it connects and receives, but its frames are not shown or played. When
sound arrives through it from everyone who sends sound (and pictures from everyone who
sends them), or after :data:`SWITCH_SECONDS`, it becomes the active leg in one step —
tracks handed over, the speaker fed from it — and the old leg goes on sending for
:data:`LINGER_SECONDS` before it closes (the others switch when *they* receive everyone).
No word is lost at the switch; a new leg that fails is dropped, the old one stays, and
the switch is tried again. What a leg is and when it carries the call is :mod:`.legs`'s;
when to switch and how often to try, :mod:`.leg_switch`'s; this module builds, promotes and
retires the legs.

Signals and tracks that outrun the join answer or the participant's event are kept until
they can be placed (:mod:`.early_signals`, :mod:`.remote_media`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Literal, Protocol

from aiortc.mediastreams import MediaStreamTrack

from desktop_app.media.grid_layer import GridLayerTrack
from desktop_app.media.silence_suppression import SilenceSuppressedTrack
from desktop_app.protocol.calls import MediaInfo, SessionMediaResponse
from desktop_app.protocol.events import CallSignalEvent, WsSignalMessage

from . import layer_demand
from .call_state import CallState
from .device_managers import InputDeviceManager, SpeakerManager
from .early_signals import EarlySignals
from .ice import usable_ice_servers
from .leg_switch import LegSwitch
from .legs import Leg, Target
from .media_quality import QualityWatch
from .quality import StatsSample
from .remote_media import RemoteMedia, path_of
from .rtc import PeerMesh
from .sfu import SfuConnection
from .sfu_plan import sharp_of

log = logging.getLogger(__name__)

MediaReport = Literal["connected", "failed"]
#: How long a new leg may take to carry everyone before the switch happens anyway.
SWITCH_SECONDS = 6.0
#: How long the old leg goes on sending after a switch.
LINGER_SECONDS = 3.0
SendMessage = Callable[[dict[str, Any]], Awaitable[None]]
#: Asks the coordinator for this participant session's media credentials, now.
FetchMedia = Callable[[], Awaitable[MediaInfo]]


class MediaSession(Protocol):
    """What a call needs from its media (the interface :class:`CallMedia` implements)."""

    def expect(self) -> None: ...
    async def connect(self, media: MediaInfo, video: bool) -> None: ...
    async def sync(self) -> None: ...
    def signal(self, event: CallSignalEvent) -> None: ...
    def participant_joined(self, session_id: str) -> None: ...
    def participant_left(self, session_id: str) -> None: ...
    async def close(self) -> None: ...


class CallMedia:
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
        fetch_media: FetchMedia | None = None,
    ) -> None:
        self.state = state
        self.camera = camera
        self.microphone = microphone
        self.speaker = speaker
        self._send = send
        self._on_report = on_report
        self.prefer_h264 = prefer_h264
        self._fetch_media = fetch_media
        self.media: MediaInfo | None = None
        self.video = False
        #: The leg whose media is shown and played, and one being built beside it.
        self.leg: Leg | None = None
        self.next_leg: Leg | None = None
        #: Video wanted only of these participant sessions (None: everyone's).
        self.visible: set[str] | None = None
        #: Of those, whose tile is large enough for the full picture (None: everyone).
        self.sharp: set[str] | None = None
        self._expecting = False
        #: Counts closes: a connect that awaited (the ICE probe) sees whether the media
        #: was closed meanwhile.
        self._generation = 0
        #: Signals for a mesh that does not exist yet (see :mod:`.early_signals`).
        self._early_signals = EarlySignals()
        self.remote = RemoteMedia(
            state,
            speaker,
            active=lambda leg: leg is self.leg,
            connected=lambda: self._on_report("connected"),
            spawn=self._spawn,
        )
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._switch = LegSwitch(
            self._desired,
            lambda: self.leg.target() if self.leg is not None else None,
            self._switch_to,
            lambda: self._on_report("failed"),
        )
        #: Legs being closed (see ``close``).
        self._closing: list[Leg] = []
        self.quality = QualityWatch(
            state,
            self._statistics,
            self._quality_changed,
            lambda: self._on_report("failed"),
            reachable,
            uplink_shared=lambda: self.leg is not None and self.leg.mode == "sfu",
        )

    @property
    def mesh(self) -> PeerMesh | None:
        """The active leg's peer connections, when it is the mesh."""
        transport = self.leg.transport if self.leg is not None else None
        return transport if isinstance(transport, PeerMesh) else None

    @property
    def sfu(self) -> SfuConnection | None:
        transport = self.leg.transport if self.leg is not None else None
        return transport if isinstance(transport, SfuConnection) else None

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
        self.video = video
        media = media.model_copy(
            update={"ice_servers": await usable_ice_servers(media.ice_servers)}
        )
        if generation != self._generation:
            return  # closed while the probe ran: the call is over
        self.media = media
        self._unsubscribe = [
            self.state.participants_.subscribe(self.remote.claim),
            self.state.participants_.subscribe(lambda _: self._fit_layers()),
            self.state.call_.subscribe(lambda _: self._follow()),
        ]
        leg = self._new_leg(media)
        log.info("media: connecting %s as %s", leg.target(), media.session_id)
        self.leg = leg
        self.quality.start()
        self._expecting = False
        try:
            await self._open(leg, media)
        except Exception as error:
            if generation == self._generation:  # (not closed meanwhile)
                log.info("the call's media could not connect: %s", error)
                self._on_report("failed")
            return
        self._follow()

    async def sync(self) -> None:
        for leg in (self.leg, self.next_leg):
            if leg is not None and isinstance(leg.transport, SfuConnection):
                leg.transport.retell()  # what we said while offline may be lost…
                leg.transport.requery()  # … and what was said to us
            if leg is not None and self._reaches_out(leg):
                assert isinstance(leg.transport, PeerMesh)
                for participant in self.state.participants:
                    await leg.transport.seen(participant.session_id)

    def _reaches_out(self, leg: Leg) -> bool:
        """Whether ``leg`` connects to participants as they come: a mesh does, unless the
        call is going through the SFU (a newcomer there has no mesh to answer us)."""
        desired = self._desired()
        return isinstance(leg.transport, PeerMesh) and (desired is None or desired[0] == "p2p")

    def signal(self, event: CallSignalEvent) -> None:
        media = self.media
        if media is not None and event.to_session_id != media.session_id:
            return
        if event.signal.get("type") == layer_demand.SIGNAL_TYPE:
            self._heard_takes(event.from_session_id, event.signal)
            return
        mesh = next(
            (
                leg.transport
                for leg in (self.next_leg, self.leg)
                if leg is not None and isinstance(leg.transport, PeerMesh)
            ),
            None,
        )
        if mesh is None:
            if self._expecting or self.leg is not None:
                self._early_signals.keep(event)
            return
        self._spawn(mesh.signal(event.from_session_id, event.signal))

    def participant_joined(self, session_id: str) -> None:
        for leg in (self.leg, self.next_leg):
            if leg is not None and self._reaches_out(leg):
                assert isinstance(leg.transport, PeerMesh)
                self._spawn(leg.transport.seen(session_id))

    def participant_left(self, session_id: str) -> None:
        for leg in (self.leg, self.next_leg):
            if leg is not None and leg.transport is not None:
                leg.tracks.pop(session_id, None)
                self._spawn(leg.transport.drop(session_id))
        self.speaker.forget(session_id)

    def show(
        self, visible: Collection[str] | None, heights: Mapping[str, int] | None = None
    ) -> None:
        """Receive video only of these participant sessions (None: of everyone) where the
        media server lets us choose — the grid layer of those whose tile is small
        (``heights``: session → tile height in pixels; None: full pictures); audio always."""
        self.visible = None if visible is None else set(visible)
        self.sharp = sharp_of(heights, self.sharp)
        for leg in (self.leg, self.next_leg):
            if leg is not None and isinstance(leg.transport, SfuConnection):
                leg.transport.show(self.visible, self.sharp)

    async def close(self, *, keep_signals: bool = False) -> None:
        """Close the media (``keep_signals``: a new connect follows, and the signals that
        came early, or come meanwhile, are for it)."""
        self._generation += 1
        self.quality.stop()
        self._switch.cancel()
        if not keep_signals:
            self._expecting = False
            self._early_signals.clear()
        self.remote.forget()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        for leg in (self.next_leg, self.leg):
            if leg is not None:
                self._closing.append(leg)
        self.leg = self.next_leg = None
        # A second close (the client going away while a leave closes) returns only when
        # every connection is closed: one left half-closed keeps aiortc's decoder threads.
        for leg in list(self._closing):
            await self._close_leg(leg)
        for participant in self.state.participants:
            if not participant.is_local:
                participant.video_track = participant.audio_track = None
                participant.audio_level = 0.0
                participant.connection_state = "new"
                participant.connection_path = None
            participant.quality = None

    # --- legs ------------------------------------------------------------------------

    def _new_leg(self, media: MediaInfo) -> Leg:
        if media.mode == "sfu" and media.media_server is not None:
            return Leg("sfu", media.media_server.room)
        return Leg("p2p", None)

    async def _open(self, leg: Leg, media: MediaInfo) -> None:
        sources = [self._sound] + ([self.camera.subscribe] if self.video else [])
        if leg.mode == "sfu":
            assert media.media_server is not None
            user = self.state.local_participant
            sfu = SfuConnection(
                media.media_server,
                media.ice_servers,
                sources,
                lambda remote, track: self.remote.arrived(leg, remote, track),
                lambda: self._leg_failed(leg),
                commitments=self._commitments,
                tell=self._tell_peer,
                present=self._others,
                display=user.user.id if user is not None else "",
                prefer_h264=self.prefer_h264,
                grid=(lambda: GridLayerTrack(self.camera.subscribe())) if self.video else None,
            )
            sfu.show(self.visible, self.sharp)
            leg.transport = sfu
            await sfu.start()
            return
        mesh = PeerMesh(
            media.session_id,
            media.ice_servers,
            sources,
            self._send_signal,
            lambda remote, track: self.remote.arrived(leg, remote, track),
            on_state=lambda remote, state: self._peer_state(leg, remote, state),
            prefer_h264=self.prefer_h264,
        )
        leg.transport = mesh
        for event in self._early_signals.take():
            self.signal(event)
        if self._reaches_out(leg):
            for participant in self.state.participants:
                await mesh.seen(participant.session_id)

    def _sound(self) -> MediaStreamTrack:
        """What a leg sends of our microphone: its silences left out (see
        :mod:`desktop_app.media.silence_suppression`)."""
        return SilenceSuppressedTrack(self.microphone.subscribe())

    async def _close_leg(self, leg: Leg) -> None:
        await leg.close()
        if leg in self._closing:
            self._closing.remove(leg)

    def _desired(self) -> Target | None:
        session = self.state.session
        if session is None or session.ended_at is not None:
            return None
        media: SessionMediaResponse = session.media
        return (media.mode, media.room if media.mode == "sfu" else None)

    def _commitments(self, room: str) -> dict[str, str] | None:
        """The commitments of ``room``'s participants' publisher ids; None when the call
        is not (or no longer) in that room."""
        session = self.state.session
        if session is None or session.media.room != room:
            return None
        return session.media.feeds

    def _follow(self) -> None:
        """The call changed: subscribe to whom its feeds name; when the session's media
        changed, switch legs (:mod:`.leg_switch`: one switch at a time)."""
        for leg in (self.leg, self.next_leg):
            if leg is not None and isinstance(leg.transport, SfuConnection):
                leg.transport.vouched()
        log.debug(
            "media: the call wants %s; we are on %s%s",
            self._desired(),
            self.leg.target() if self.leg is not None else None,
            " (switching)" if self._switch.busy else "",
        )
        if self.media is not None:
            self._switch.follow()

    async def _switch_to(self, mode: str) -> bool:
        """One attempt at moving to ``mode``: build the new leg beside the active one,
        make it the active one when it carries everyone (or after :data:`SWITCH_SECONDS`),
        and retire the old one. Whether it did."""
        assert self.media is not None
        generation = self._generation
        media = self.media
        if mode == "sfu":
            if self._fetch_media is None:
                return False
            fetched = await self._fetch_media()
            if generation != self._generation:
                return False
            media = fetched.model_copy(update={"ice_servers": self.media.ice_servers})
            if media.mode != "sfu":
                return False  # the coordinator keeps us peer to peer (no server answers)
        else:
            media = media.model_copy(update={"mode": "p2p", "media_server": None})
        leg = self._new_leg(media)
        log.info("media: from %s to %s", self.leg.target() if self.leg else None, leg.target())
        self.next_leg = leg
        try:
            await self._open(leg, media)

            def carried() -> bool:
                return leg.carries(self.state.participants, self.visible)

            if not await leg.until_carries(carried, SWITCH_SECONDS) and not leg.failed:
                log.info("media: switching although not everyone arrived yet")
        except Exception as error:
            log.info("the new media path did not come up: %s", error)
            leg.failed = True
        if self.next_leg is not leg or generation != self._generation:
            return False
        self.next_leg = None
        if leg.failed:
            await self._close_leg(leg)
            return False
        old = self.leg
        self.media = media
        self._promote(leg)
        if old is not None:
            self._retire(old)
        return True

    def _retire(self, old: Leg) -> None:
        """Close the old leg after :data:`LINGER_SECONDS`: the others may not hear us on
        the new one yet (each side switches when *it* receives everyone)."""
        self._closing.append(old)

        async def later() -> None:
            await asyncio.sleep(LINGER_SECONDS)
            await self._close_leg(old)  # unless the call's close closed it before

        self._spawn(later())

    def _promote(self, leg: Leg) -> None:
        """``leg`` becomes the one shown and played (synchronously: no frame is lost)."""
        self.leg = leg
        self.quality.forget()
        self.remote.hand_over(leg)
        self._on_report("connected")

    def _leg_failed(self, leg: Leg) -> None:
        """A leg's connections broke. The active one's failure makes the call rejoin —
        unless the call has moved on and its next leg is being built: the coordinator
        retires the room of a leg the call left (after a grace that a slow switch can
        outlast), and the switch under way is the way out."""
        leg.failed = True
        leg.arrived.set()
        moving_on = self.next_leg is not None and self._desired() not in (None, leg.target())
        if leg is self.leg and not moving_on:
            self._on_report("failed")

    # --- what the others take of our picture (layer_demand) ----------------------------

    def _others(self) -> list[str]:
        return [p.session_id for p in self.state.participants if not p.is_local]

    def _tell_peer(self, remote: str, signal: dict[str, Any]) -> None:
        self._spawn(self._send_signal(remote, signal))

    def _heard_takes(self, remote: str, signal: dict[str, Any]) -> None:
        said = layer_demand.parse_takes(signal)
        if said is None:
            log.info("ignoring a malformed layers signal from %s", remote)
            return
        room, layers = said
        for leg in (self.leg, self.next_leg):
            if leg is not None and isinstance(leg.transport, SfuConnection) and leg.room == room:
                if layers is None:
                    leg.transport.retell(remote)  # asked what we take of theirs
                else:
                    leg.transport.heard(remote, layers)

    def _fit_layers(self) -> None:
        for leg in (self.leg, self.next_leg):
            if leg is not None and isinstance(leg.transport, SfuConnection):
                leg.transport.fit_layers()

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

    def _peer_state(self, leg: Leg, remote: str, state: str) -> None:
        if leg is not self.leg or self._desired() not in (None, leg.target()):
            # A leg on its way in or out: the others close theirs as they switch.
            log.debug("media to %s %s on a leg that is not the call's", remote, state)
            return
        participant = self.remote.participant(remote)
        if participant is not None:
            participant.connection_state = state
            participant.connection_path = path_of(leg, remote) if state == "connected" else None
            self.state.participants_.notify()
        if state == "connected":
            self._on_report("connected")
        elif state in ("failed", "closed") and participant is not None:
            log.info("media to %s %s", remote, state)
            self._on_report("failed")

    async def _statistics(self, remote: str, at: float) -> StatsSample | None:
        transport = self.leg.transport if self.leg is not None else None
        return await transport.statistics(remote, at) if transport is not None else None

    def _quality_changed(self) -> None:
        self.remote.update_speaker()
        self.state.participants_.notify()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("media step failed: %s", task.exception())
