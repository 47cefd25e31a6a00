"""Media through a Janus VideoRoom: one publisher connection, one multistream subscriber.

* **Publish once.** One aiortc connection sends our microphone and camera to the room
  (``bundlePolicy`` max-bundle: aiortc sends nothing on a second bundled video track
  otherwise), as the publisher whose id and token the coordinator issued for our
  participant session. Janus answers the complete SDP (``"trickle": false``).
* **A grid layer.** Beside the camera we publish its grid layer (``grid``: the same
  picture at 320×240, 15 frames/s, :mod:`desktop_app.media.grid_layer`), described so in
  Janus's ``descriptions``: aiortc cannot send simulcast, and a client of eight pays
  for seven full pictures it shows small.
* **Subscribe to what is shown.** Once our publisher is up (``webrtcup``: subscribing
  earlier is a known Janus pitfall), one subscriber connection takes every feed's audio
  and the video of the feeds whose tiles are visible — the grid layer for small tiles
  (:mod:`.sfu_plan` decides; :meth:`SfuConnection.show` changes what is shown and how
  large). Janus answers ``subscribe`` / ``unsubscribe`` — and a feed that goes away —
  with a new offer; we answer with ``start``. A tile that grows or shrinks ``switch``es
  its m-line to the other layer: no renegotiation. Operations on the subscriber run one
  at a time.
* **SSRCs.** A recycled m-line comes with new SSRCs, which aiortc would drop
  (:func:`learn_ssrcs`).
* **Whose feed.** The others' publisher ids are known only by their commitments in the
  call's ``media.feeds`` for our room (``commitments``); a feed that matches none is
  nobody in the call and is not subscribed. Tracks and statistics are by participant session id.
* **Stable tracks per person.** Janus recycles m-lines, so a receiver's track can carry
  another feed after an update. Each receiver is read by a forwarder that pushes its
  frames into the track of the feed the m-line belongs to *now*; the call sees one track
  per (person, kind) for as long as that person publishes it.
* **Failure.** The WebSocket closing (Janus gone, our network gone) or either connection
  failing is reported through ``on_failed``; the call rejoins and the coordinator moves
  the call to a server that answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
    sdp,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.grid_layer import GRID_BITRATE
from desktop_app.media.queued_track import QueuedTrack
from desktop_app.protocol.calls import IceServer, MediaServerInfo

from . import jitter
from .call_state import ConnectionPath
from .congestion import allow_low_bitrates, cap_bitrate, tune_sender
from .ice import path_of
from .janus_link import JanusError, JanusHandle, JanusLink
from .quality import StatsSample, sample_of
from .rtc import (
    TrackListener,
    TrackSource,
    inbound_counts,
    rtc_configuration,
    video_codec_preferences,
)
from .sfu_plan import (
    CAMERA,
    GRID,
    Feeds,
    FeedStream,
    Plan,
    as_request,
    as_switch,
    people_of,
    plan,
    streams_of,
    wanted,
)

log = logging.getLogger(__name__)

#: How long our publisher may take to be up (Janus's ``webrtcup``) before the
#: connection counts as failed.
WEBRTCUP_SECONDS = 5.0
#: Janus's VideoRoom error for a feed that is not (or no longer) there.
NO_SUCH_FEED = 428
#: Tries of one subscription change when feeds leave under it.
FEED_RETRIES = 3
#: Frames a per-person track keeps for a reader that is late (see QueuedTrack).
KEEP = {"audio": 25, "video": 2}


def learn_ssrcs(peer: RTCPeerConnection, offer: str) -> dict[str, set[int]]:
    """Tell aiortc the SSRCs a renegotiation gave each receiving m-line.

    Janus gives an m-line it recycles for another stream new SSRCs; aiortc learns a
    receiver's SSRCs only when the receiver first starts, and drops packets from SSRCs it
    does not know (with several receivers of one payload type it cannot guess). So after
    each offer, every receiver is registered (again) with the SSRCs — media and
    retransmission — its m-line now has. Returns each mid's media SSRCs now (a receiver
    keeps the counters of the streams it carried before, too)."""
    now: dict[str, set[int]] = {}
    description = sdp.SessionDescription.parse(offer)
    by_mid = {media.rtp.muxId: media for media in description.media}
    for transceiver in peer.getTransceivers():
        media = by_mid.get(transceiver.mid or "")
        receiver = transceiver.receiver
        router = getattr(receiver.transport, "_rtp_router", None)
        rtx: dict[int, int] | None = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", None)
        if media is None or router is None or rtx is None:
            continue
        ssrcs = [s.ssrc for s in media.ssrc]
        router.register_receiver(receiver, ssrcs=ssrcs, payload_types=[])
        now[transceiver.mid or ""] = set(ssrcs)
        for group in media.ssrc_group:
            if group.semantic == "FID" and len(group.items) == 2:
                original, retransmission = (int(item) for item in group.items)
                rtx[retransmission] = original
    return now


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
        self.on_track = on_track
        self.on_failed = on_failed
        self.commitments = commitments
        self.display = display
        self.prefer_h264 = prefer_h264
        self.feeds = Feeds(server.feed)
        #: The commitments of our room's participants, as last known, and whose each
        #: feed is by them: feed → participant session id (sfu_plan.people_of).
        self._commitments: dict[str, str] = dict(server.feeds)
        self.people: dict[str, str] = {}
        #: Participant sessions whose video is wanted (None: all).
        self.visible: set[str] | None = None
        #: Of those, the ones shown large enough for the full picture (None: all).
        self.sharp: set[str] | None = None
        self.link: JanusLink | None = None
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self._publisher_handle: JanusHandle | None = None
        self._subscriber_handle: JanusHandle | None = None
        self._branches: list[MediaStreamTrack] = []
        self._published = asyncio.Event()
        #: Our subscriber's active streams by our mid (sfu_plan.streams_of).
        self._subscribed: dict[str, FeedStream] = {}
        #: The per-person tracks the call reads: (feed, kind) → track.
        self._tracks: dict[tuple[str, str], QueuedTrack] = {}
        self._forwarders: dict[str, asyncio.Task[None]] = {}
        #: Each receiving m-line's SSRCs as of Janus's last offer.
        self._ssrcs: dict[str, set[int]] = {}
        self._lock = asyncio.Lock()
        #: Our publisher's private id: the room ties our subscriptions to it.
        self._private_id: object = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

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
        if (chosen, large) != (self.visible, self.sharp):
            self.visible, self.sharp = chosen, large
            self._spawn(self.update())

    def vouched(self) -> None:
        """The call's commitments may have changed: subscribe to whom they now name."""
        if self._people() != self.people:
            self._spawn(self.update())

    def _people(self) -> dict[str, str]:
        """Whose each feed is, by the commitments the call gives for our room. Once the
        call has moved to another room (we are the old leg, still playing until the new
        one carries everyone), the last ones known stand."""
        commitments = self.commitments(self.server.room)
        if commitments is not None:
            self._commitments = dict(commitments)
        return people_of(self.feeds.streams, self._commitments)

    async def update(self) -> None:
        """Bring the subscriber in line with the feeds, whose they are, and what is
        visible. A feed that
        left between Janus's word of it and our request ("no such feed") is forgotten and
        the rest asked for again; Janus's own event about it follows."""
        async with self._lock:
            for _ in range(FEED_RETRIES):
                if self._closed or self.link is None or not self._published.is_set():
                    return
                self.people = self._people()
                want = wanted(self.feeds, self.people, self.visible, self.sharp)
                change = plan(want, self._subscribed)
                if change.empty:
                    return
                try:
                    await self._change_subscriptions(change)
                    return
                except JanusError as error:
                    gone = {s.feed for s in change.targets if s.feed in error.reason}
                    if error.code != NO_SUCH_FEED or not gone:
                        raise
                    log.info("a feed left before we subscribed: %s", error.reason)
                    for feed in gone:
                        self.feeds.streams.pop(feed, None)

    async def seen(self, remote: str) -> None:
        """Participants come through Janus's publisher events, not the coordinator's."""

    async def drop(self, remote: str) -> None:
        for feed in [feed for feed, person in self.people.items() if person == remote]:
            for kind in ("audio", "video"):
                track = self._tracks.pop((feed, kind), None)
                if track is not None:
                    track.end()

    def subscribed_video(self) -> set[str]:
        """The participant sessions whose video we take."""
        return {
            self.people[s.feed]
            for s in self._subscribed.values()
            if s.kind == "video" and s.feed in self.people
        }

    async def statistics(self, remote: str, at: float) -> StatsSample | None:
        """What arrives from ``remote`` (its streams on our subscriber — the ones its
        m-lines carry now, not those they carried before Janus recycled them) with the
        round trip, loss and sending of our own leg to the server. Its bytes are not
        counted apart on the shared connection: the sample has none received (arrival is
        judged by packets)."""
        if self.subscriber is None or self.publisher is None:
            return None
        mids = {mid for mid, s in self._subscribed.items() if self.people.get(s.feed) == remote}
        if not mids:
            return None
        receivers = [t.receiver for t in self.subscriber.getTransceivers() if t.mid in mids]
        report = await self.publisher.getStats()
        current = set().union(*(self._ssrcs.get(mid, set()) for mid in mids))
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
        for task in list(self._tasks) + list(self._forwarders.values()):
            task.cancel()
        if self.link is not None:
            # First: a request waiting for Janus (holding the lock) fails at once.
            self.link.on_close = None
            await self.link.close()
        async with self._lock:
            for branch in self._branches:
                branch.stop()
            for peer in (self.publisher, self.subscriber):
                if peer is not None:
                    await peer.close()
        for track in self._tracks.values():
            track.end()

    # --- publishing ------------------------------------------------------------------

    async def _publish(self) -> None:
        assert self._publisher_handle is not None
        peer = RTCPeerConnection(self._configuration())
        self.publisher = peer
        self._branches = [source() for source in self.sources]
        camera = next((t for t in self._branches if t.kind == "video"), None)
        grid = self.grid() if self.grid is not None and camera is not None else None
        if grid is not None:
            self._branches.append(grid)
        for track in self._branches:
            sender = peer.addTrack(track)
            tune_sender(sender)
            if track is grid:
                cap_bitrate(sender, GRID_BITRATE)
        for transceiver in peer.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(video_codec_preferences(self.prefer_h264))
        self._watch(peer)
        await peer.setLocalDescription(await peer.createOffer())
        described = {camera: CAMERA, grid: GRID}
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
            self._published.set()
            self._spawn(self.update())
        elif kind == "hangup" and not self._closed:
            log.info("the media server hung up our publisher: %s", message.get("reason"))
            self.on_failed()
        elif kind == "event" and self.feeds.update(data):
            self._spawn(self.update())

    # --- subscribing -----------------------------------------------------------------

    async def _change_subscriptions(self, change: Plan) -> None:
        assert self.link is not None
        if self._subscriber_handle is None:
            if not change.subscribe:
                return
            self._subscriber_handle = await self.link.attach(self._subscriber_event)
            reply = await self._subscriber_handle.request(
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": self.server.room,
                    "streams": as_request(change.subscribe),
                    "token": self.server.token,
                    "private_id": self._private_id,
                    "use_msid": False,
                }
            )
        else:
            handle = self._subscriber_handle
            if change.switch:
                reply = await handle.request(
                    {"request": "switch", "streams": as_switch(change.switch)}
                )
                await self._settle(reply.data, reply.jsep)
                change = self._unless_switched(change)
            if change.unsubscribe:
                reply = await handle.request(
                    {"request": "unsubscribe", "streams": as_request(change.unsubscribe)}
                )
                await self._settle(reply.data, reply.jsep)
            if not change.subscribe:
                return
            reply = await handle.request(
                {"request": "subscribe", "streams": as_request(change.subscribe)}
            )
        await self._settle(reply.data, reply.jsep)

    def _unless_switched(self, change: Plan) -> Plan:
        """Janus skips a switch it cannot make (another codec, a publisher not started)
        without an error; those streams are taken the long way, unsubscribe and
        subscribe."""
        skipped = [(mid, s) for mid, s in change.switch if self._subscribed.get(mid) != s]
        if not skipped:
            return change
        log.info("the media server skipped switching %s: subscribing instead", skipped)
        old = [self._subscribed[mid] for mid, _ in skipped if mid in self._subscribed]
        return Plan(
            subscribe=[*change.subscribe, *(s for _, s in skipped)],
            unsubscribe=[*change.unsubscribe, *old],
        )

    def _subscriber_event(
        self, message: dict[str, Any], data: dict[str, Any], jsep: dict[str, Any] | None
    ) -> None:
        """Janus renegotiates by itself when a feed we take goes away."""
        if message.get("janus") == "hangup" and not self._closed:
            log.info("the media server hung up our subscriber: %s", message.get("reason"))
            self.on_failed()
        elif data.get("videoroom") == "updated" or jsep is not None:
            self._spawn(self._settle_locked(data, jsep))

    async def _settle_locked(self, data: dict[str, Any], jsep: dict[str, Any] | None) -> None:
        async with self._lock:
            if not self._closed:
                await self._settle(data, jsep)

    async def _settle(self, data: dict[str, Any], jsep: dict[str, Any] | None) -> None:
        """Take Janus's new description of our streams (and its offer, answered)."""
        streams = data.get("streams")
        if isinstance(streams, list):
            self._subscribed = streams_of(streams)
        if jsep is None or jsep.get("type") != "offer" or self._subscriber_handle is None:
            self._route()
            return
        if self.subscriber is None:
            self.subscriber = RTCPeerConnection(self._configuration())
            self._watch(self.subscriber)
        peer = self.subscriber
        await peer.setRemoteDescription(RTCSessionDescription(jsep["sdp"], "offer"))
        for transceiver in peer.getTransceivers():
            jitter.install(transceiver.receiver)
        await peer.setLocalDescription(await peer.createAnswer())
        self._ssrcs = learn_ssrcs(peer, jsep["sdp"])
        self._route()
        await self._subscriber_handle.request(
            {"request": "start"},
            {"type": "answer", "sdp": peer.localDescription.sdp, "trickle": False},
        )

    def _route(self) -> None:
        """A forwarder per receiving m-line; a track per person for what now arrives."""
        if self.subscriber is None:
            return
        live: set[tuple[str, str]] = set()
        for transceiver in self.subscriber.getTransceivers():
            stream = self._subscribed.get(transceiver.mid or "")
            if stream is None:
                continue
            person = self.people.get(stream.feed)
            if person is None:
                continue  # a feed we no longer know is nobody's: its m-line goes next
            key = (stream.feed, stream.kind)
            live.add(key)
            if key not in self._tracks:
                track = self._tracks[key] = QueuedTrack(stream.kind, KEEP[stream.kind])
                self.on_track(person, track)
            if transceiver.mid not in self._forwarders:
                self._forwarders[transceiver.mid or ""] = asyncio.ensure_future(
                    self._forward(transceiver)
                )
        for key in [k for k in self._tracks if k not in live]:
            self._tracks.pop(key).end()  # unsubscribed (video off screen) or gone

    async def _forward(self, transceiver: RTCRtpTransceiver) -> None:
        track = transceiver.receiver.track
        try:
            while True:
                frame = await track.recv()
                stream = self._subscribed.get(transceiver.mid or "")
                target = self._tracks.get((stream.feed, stream.kind)) if stream else None
                if target is not None:
                    target.push(frame)
        except MediaStreamError:
            pass

    # --- both connections ------------------------------------------------------------

    def _configuration(self) -> Any:
        configuration = rtc_configuration(self.ice_servers)
        configuration.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE
        return configuration

    def _watch(self, peer: RTCPeerConnection) -> None:
        @peer.on("connectionstatechange")
        async def _state() -> None:
            if peer.connectionState == "failed" and not self._closed:
                log.info("a connection to the media server failed")
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
