"""Media through a Janus VideoRoom: one publisher connection, one multistream subscriber.

* **Publish once.** One aiortc connection sends our microphone and camera to the room
  (``bundlePolicy`` max-bundle: aiortc sends nothing on a second bundled video track
  otherwise), as the publisher whose id and token the coordinator issued for our
  participant session. Janus answers the complete SDP (``"trickle": false``).
* **A grid layer.** Beside the camera we publish its grid layer (``grid``: the same
  picture at 320×240, 15 frames/s, :mod:`desktop_app.media.grid_layer`), described so in
  Janus's ``descriptions``: aiortc cannot send simulcast, and a client of eight pays
  for seven full pictures it shows small.
* **Layers nobody takes are paused** (:mod:`.layer_demand`): the others say what they
  take of our picture, and the camera's full picture or its grid layer stops being
  encoded while no one in the call takes it; a keyframe request for it resumes it.
* **Subscribe to what is shown** (:mod:`.sfu_subscription`), once our publisher is up
  (``webrtcup``: subscribing earlier is a known Janus pitfall): everyone's audio, the
  video of visible tiles, the grid layer for small ones. :meth:`SfuConnection.show`
  changes what is shown and how large; the room's feeds come through our publisher's
  handle, whose they are through the call's commitments (``commitments``).
* **Failure.** The WebSocket closing (Janus gone, our network gone) or either connection
  failing is reported through ``on_failed``; the call rejoins and the coordinator moves
  the call to a server that answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiortc import RTCBundlePolicy, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from desktop_app.media.grid_layer import GRID_BITRATE
from desktop_app.media.pausable_track import PausableTrack
from desktop_app.protocol.calls import IceServer, MediaServerInfo

from . import jitter
from .call_state import ConnectionPath
from .congestion import allow_low_bitrates, cap_bitrate, tune_sender
from .ice import path_of
from .janus_link import JanusHandle, JanusLink
from .layer_demand import HOLD_SECONDS, LayerDemand, query_signal, takes_signal
from .quality import StatsSample, sample_of
from .rtc import (
    TrackListener,
    TrackSource,
    inbound_counts,
    rtc_configuration,
    video_codec_preferences,
)
from .sfu_plan import CAMERA, GRID, Feeds
from .sfu_subscription import Room, SfuSubscription

log = logging.getLogger(__name__)

#: How long our publisher may take to be up (Janus's ``webrtcup``) before the
#: connection counts as failed.
WEBRTCUP_SECONDS = 5.0
#: How long after our publisher is up its layers start to follow what the others take.
FIT_AFTER_SECONDS = 2.0


class SfuConnection:
    def __init__(
        self,
        server: MediaServerInfo,
        ice_servers: list[IceServer],
        sources: Sequence[TrackSource],
        on_track: TrackListener,
        on_failed: Callable[[], None],
        *,
        commitments: Callable[[str], Mapping[str, str] | None] = lambda room: None,
        tell: Callable[[str, dict[str, Any]], None] = lambda person, signal: None,
        present: Callable[[], Collection[str]] = lambda: (),
        display: str = "",
        prefer_h264: bool = False,
        grid: TrackSource | None = None,
    ) -> None:
        allow_low_bitrates()
        self.server = server
        self.ice_servers = ice_servers
        self.sources = sources
        #: Our camera's grid layer, if we send video.
        self.grid = grid
        self.on_failed = on_failed
        self.commitments = commitments
        self.display = display
        self.prefer_h264 = prefer_h264
        self.subscription = SfuSubscription(
            Feeds(server.feed),
            server.feeds,
            on_track,
            self._failed,
            lambda person, layers: tell(person, takes_signal(server.room, layers)),
        )
        #: The others in the call (whoever has not said what they take counts).
        self.present = present
        self.tell = tell
        self.demand = LayerDemand()
        #: Our camera's layers as sent (a paused one is not encoded), once published.
        self.layers: dict[str, PausableTrack] = {}
        #: Layers are fitted to the demand from FIT_AFTER_SECONDS after our publisher is
        #: up (until then all are sent: Janus learns every stream's SSRCs from its packets,
        #: and its keyframe requests need them).
        self._fitting = False
        self.link: JanusLink | None = None
        self.publisher: RTCPeerConnection | None = None
        self._publisher_handle: JanusHandle | None = None
        self._branches: list[MediaStreamTrack] = []
        self._published = asyncio.Event()
        self._private_id: object = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def subscriber(self) -> RTCPeerConnection | None:
        return self.subscription.peer

    @property
    def feeds(self) -> Feeds:
        return self.subscription.feeds

    @property
    def people(self) -> dict[str, str]:
        return self.subscription.people

    # --- the call's side -------------------------------------------------------------

    async def start(self) -> None:
        """Connect, join the room, publish, and subscribe to who is there."""
        self.link = await JanusLink.open(self.server.url, on_close=self._link_closed)
        self._publisher_handle = await self.link.attach(self._publisher_event)
        joined = await self._publisher_handle.request(
            {
                "request": "join",
                "ptype": "publisher",
                "room": self.server.room,
                "id": self.server.feed,
                "display": self.display,
                "token": self.server.token,
            }
        )
        self.feeds.update(joined.data)
        self._private_id = joined.data.get("private_id")
        await self._publish()
        try:
            await asyncio.wait_for(self._published.wait(), WEBRTCUP_SECONDS)
        except TimeoutError:
            raise ConnectionError("the media server never received our media") from None
        await self.update()

    def show(self, visible: Collection[str] | None, sharp: Collection[str] | None = None) -> None:
        """Only these people's video (None: everyone's), the full picture of those in
        ``sharp`` (None: everyone) and the grid layer of the rest; everyone's audio."""
        chosen = None if visible is None else set(visible)
        large = None if sharp is None else set(sharp)
        subscription = self.subscription
        if (chosen, large) != (subscription.visible, subscription.sharp):
            subscription.visible, subscription.sharp = chosen, large
            self._spawn(self.update())

    def vouched(self) -> None:
        """The call's commitments may have changed: subscribe to whom they now name."""
        if self.subscription.whose(self.commitments(self.server.room)) != self.people:
            self._spawn(self.update())

    async def update(self) -> None:
        """Bring the subscriber in line with the feeds, whose they are (the call's
        commitments for our room; once the call has moved to another room, the last ones
        known), and what is visible."""
        if not self._closed:
            await self.subscription.update(lambda: self.commitments(self.server.room))

    async def seen(self, remote: str) -> None:
        """Participants come through Janus's publisher events, not the coordinator's."""

    async def drop(self, remote: str) -> None:
        self.subscription.drop(remote)
        self.demand.forget(remote)
        self.fit_layers()

    def heard(self, remote: str, layers: frozenset[str]) -> None:
        """``remote`` says what it takes of our picture now."""
        self.demand.hear(remote, layers)
        self.fit_layers()

    def requery(self) -> None:
        """What the others said to us may be lost (our events were cut): ask everyone
        again, sending every layer meanwhile."""
        self.demand.forget_all()
        self.fit_layers()
        for person in self.present():
            self.tell(person, query_signal(self.server.room))

    def fit_layers(self) -> None:
        """Send the layers someone in the call takes; pause the others."""
        if not self._fitting or self._closed:
            return
        wanted = self.demand.decide(self.present(), time.monotonic())
        for layer, track in self.layers.items():
            if layer in wanted and track.paused:
                log.info("media: sending our %s layer again", layer)
                track.resume()
            elif layer not in wanted and not track.paused:
                log.info("media: nobody takes our %s layer: paused", layer)
                track.pause()

    def retell(self, person: str | None = None) -> None:
        """Say again what we take of ``person``'s picture (None: of everyone's — after our
        events came back), whether or not it changed."""
        self.subscription.retell(person)

    def _asker(self, layer: str) -> Callable[[], None]:
        """What hears a keyframe request for ``layer``: someone takes it, whatever we last
        heard — a paused one is sent again."""

        def asked() -> None:
            track = self.layers.get(layer)
            if track is None or self._closed:
                return
            self.demand.ask(layer, time.monotonic(), paused=track.paused)
            loop = asyncio.get_running_loop()
            loop.call_later(HOLD_SECONDS + 0.1, self.fit_layers)  # when the hold is over
            if track.paused:
                log.info("media: a keyframe was asked of our paused %s layer: sent again", layer)
                track.resume()
                for person in self.present():
                    self.tell(person, query_signal(self.server.room))

        return asked

    def subscribed_video(self) -> set[str]:
        """The participant sessions whose video we take."""
        return self.subscription.video_of()

    async def statistics(self, remote: str, at: float) -> StatsSample | None:
        """What arrives from ``remote`` (its streams on our subscriber — the ones its
        m-lines carry now, not those they carried before Janus recycled them) with the
        round trip, loss and sending of our own leg to the server. Its bytes are not
        counted apart on the shared connection: the sample has none received (arrival is
        judged by packets)."""
        if self.publisher is None:
            return None
        receivers, current = self.subscription.receivers_of(remote)
        if not receivers:
            return None
        report = await self.publisher.getStats()
        sample = replace(
            sample_of(report, inbound_counts(receivers, only=current or None), at),
            bytes_received=0,
        )
        for receiver in receivers:
            jitter.fit_to_round_trip(receiver, sample.round_trip_ms)
        return sample

    def path(self, remote: str) -> ConnectionPath | None:
        """Our path to the server (everyone's media comes that way)."""
        return path_of(self.subscriber) if self.subscriber is not None else None

    async def close(self) -> None:
        self._closed = True
        self.subscription.stop()
        for task in list(self._tasks):
            task.cancel()
        if self.link is not None:
            # First: a request waiting for Janus (holding the lock) fails at once.
            self.link.on_close = None
            await self.link.close()
        async with self.subscription.lock:
            for branch in self._branches:
                branch.stop()
            for peer in (self.publisher, self.subscriber):
                if peer is not None:
                    await peer.close()
        self.subscription.end_tracks()

    # --- publishing ------------------------------------------------------------------

    async def _publish(self) -> None:
        assert self._publisher_handle is not None
        peer = self._new_peer()
        self.publisher = peer
        branches = [source() for source in self.sources]
        camera = next((t for t in branches if t.kind == "video"), None)
        grid = self.grid() if self.grid is not None and camera is not None else None
        if camera is not None:
            self.layers[CAMERA] = PausableTrack(camera)
        if grid is not None:
            self.layers[GRID] = PausableTrack(grid)
        self._branches = [t for t in branches if t is not camera] + list(self.layers.values())
        described: dict[MediaStreamTrack, str] = {t: layer for layer, t in self.layers.items()}
        for track in self._branches:
            sender = peer.addTrack(track)
            layer = described.get(track)
            tune_sender(sender, asked=None if layer is None else self._asker(layer))
            if layer == GRID:
                cap_bitrate(sender, GRID_BITRATE)
        for transceiver in peer.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(video_codec_preferences(self.prefer_h264))
        await peer.setLocalDescription(await peer.createOffer())
        descriptions = [
            {"mid": t.mid, "description": described[t.sender.track]}
            for t in peer.getTransceivers()
            if t.sender.track is not None and t.sender.track in described and t.mid
        ]
        answer = await self._publisher_handle.request(
            {"request": "publish", "display": self.display, "descriptions": descriptions},
            {"type": "offer", "sdp": peer.localDescription.sdp, "trickle": False},
        )
        if answer.jsep is None:
            raise ConnectionError("the media server did not answer our offer")
        await peer.setRemoteDescription(RTCSessionDescription(answer.jsep["sdp"], "answer"))

    def _publisher_event(
        self, message: dict[str, Any], data: dict[str, Any], jsep: dict[str, Any] | None
    ) -> None:
        kind = message.get("janus")
        if kind == "webrtcup":
            assert self.link is not None
            self.subscription.room = Room(
                self.link, self.server.room, self.server.token, self._private_id, self._new_peer
            )
            self._published.set()
            self._spawn(self.update())
            asyncio.get_running_loop().call_later(FIT_AFTER_SECONDS, self._start_fitting)
        elif kind == "hangup" and not self._closed:
            log.info("the media server hung up our publisher: %s", message.get("reason"))
            self.on_failed()
        elif kind == "event" and self.feeds.update(data):
            self._spawn(self.update())

    # --- both connections ------------------------------------------------------------

    def _start_fitting(self) -> None:
        self._fitting = True
        self.fit_layers()

    def _new_peer(self) -> RTCPeerConnection:
        """A connection to the server (max-bundle), watched for failure."""
        configuration = rtc_configuration(self.ice_servers)
        configuration.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
        peer = RTCPeerConnection(configuration)

        @peer.on("connectionstatechange")
        async def _state() -> None:
            if peer.connectionState == "failed" and not self._closed:
                log.info("a connection to the media server failed")
                self.on_failed()

        return peer

    def _failed(self) -> None:
        if not self._closed:
            self.on_failed()

    def _link_closed(self) -> None:
        if not self._closed:
            log.info("the line to the media server closed")
            self.on_failed()

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("media server step failed: %s", task.exception())
            if not self._closed:
                self.on_failed()
