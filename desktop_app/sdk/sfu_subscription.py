"""Our subscriber in a Janus VideoRoom: one multistream connection that takes what we show.

* **What is taken.** Every feed's audio and the video of the feeds whose tiles are
  visible — the grid layer for small tiles (:mod:`.sfu_plan` decides). Janus answers
  ``subscribe`` / ``unsubscribe`` — and a feed that goes away — with a new offer; we
  answer with ``start``. A tile that grows or shrinks ``switch``es its m-line to the
  other layer: no renegotiation. Operations run one at a time (:attr:`SfuSubscription.lock`).
* **SSRCs.** A recycled m-line comes with new SSRCs, which aiortc would drop
  (:func:`learn_ssrcs`).
* **Whose feed.** The others' publisher ids are known only by their commitments in the
  call's ``media.feeds`` for our room; a feed that matches none is nobody in the call and
  is not subscribed.
* **Stable tracks per person.** Janus recycles m-lines, so a receiver's track can carry
  another feed after an update. Each receiver is read by a forwarder that pushes its
  frames into the track of the feed the m-line belongs to *now*; the call sees one track
  per (person, kind) for as long as that person publishes it.

The connection (:mod:`.sfu`) owns the Janus link and our publisher; it tells this side
when the room's feeds change and when it may subscribe (after the publisher's
``webrtcup``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpTransceiver, RTCSessionDescription, sdp
from aiortc.mediastreams import MediaStreamError

from desktop_app.media.queued_track import QueuedTrack

from . import jitter
from .janus_link import JanusError, JanusHandle, JanusLink
from .rtc import TrackListener
from .sfu_plan import (
    Feeds,
    FeedStream,
    Plan,
    as_request,
    as_switch,
    layers_taken,
    people_of,
    plan,
    streams_of,
    wanted,
)

log = logging.getLogger(__name__)

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


@dataclass
class Room:
    """What the subscriber needs of the connection it belongs to."""

    link: JanusLink
    room: str
    token: str
    #: Our publisher's private id: the room ties our subscriptions to it.
    private_id: object
    #: A new peer connection, configured and watched for failure.
    new_peer: Callable[[], RTCPeerConnection]


class SfuSubscription:
    def __init__(
        self,
        feeds: Feeds,
        commitments: Mapping[str, str],
        on_track: TrackListener,
        on_failed: Callable[[], None],
        on_takes: Callable[[str, frozenset[str]], None] = lambda person, layers: None,
    ) -> None:
        self.feeds = feeds
        #: The commitments of our room's participants, as last known, and whose each
        #: feed is by them: feed → participant session id (sfu_plan.people_of).
        self.commitments: dict[str, str] = dict(commitments)
        self.people: dict[str, str] = {}
        #: Participant sessions whose video is wanted (None: all).
        self.visible: set[str] | None = None
        #: Of those, the ones shown large enough for the full picture (None: all).
        self.sharp: set[str] | None = None
        self.on_track = on_track
        self.on_failed = on_failed
        #: Told what we now take of a person's picture (:mod:`.layer_demand`).
        self.on_takes = on_takes
        self._told: dict[str, frozenset[str]] = {}
        #: Set once our publisher is up: subscribing earlier is a known Janus pitfall.
        self.room: Room | None = None
        self.peer: RTCPeerConnection | None = None
        self.lock = asyncio.Lock()
        self._handle: JanusHandle | None = None
        #: Our active streams by our mid (sfu_plan.streams_of).
        self._subscribed: dict[str, FeedStream] = {}
        #: The per-person tracks the call reads: (feed, kind) → track.
        self._tracks: dict[tuple[str, str], QueuedTrack] = {}
        self._forwarders: dict[str, asyncio.Task[None]] = {}
        #: Each receiving m-line's SSRCs as of Janus's last offer.
        self._ssrcs: dict[str, set[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def whose(self, commitments: Mapping[str, str] | None) -> dict[str, str]:
        """Whose each feed is, by ``commitments`` (None: the last ones known stand — the
        call moved to another room, and we are the old leg, playing until the new one
        carries everyone)."""
        if commitments is not None:
            self.commitments = dict(commitments)
        return people_of(self.feeds.streams, self.commitments)

    async def update(self, commitments: Callable[[], Mapping[str, str] | None]) -> None:
        """Bring the subscriptions in line with the feeds, whose they are (``commitments``:
        the call's for our room, read at each try), and what is visible. A feed that left between Janus's word of it and our request ("no such
        feed") is forgotten and the rest asked for again; Janus's own event about it
        follows."""
        async with self.lock:
            for _ in range(FEED_RETRIES):
                if self._closed or self.room is None:
                    return
                self.people = self.whose(commitments())  # as of now, under the lock
                want = wanted(self.feeds, self.people, self.visible, self.sharp)
                change = plan(want, self._subscribed)
                if change.empty:
                    return
                try:
                    await self._change(self.room, change)
                    return
                except JanusError as error:
                    gone = {s.feed for s in change.targets if s.feed in error.reason}
                    if error.code != NO_SUCH_FEED or not gone:
                        raise
                    log.info("a feed left before we subscribed: %s", error.reason)
                    for feed in gone:
                        self.feeds.streams.pop(feed, None)

    def drop(self, remote: str) -> None:
        """``remote`` left: its tracks end."""
        self._told.pop(remote, None)
        for feed in [feed for feed, person in self.people.items() if person == remote]:
            for kind in ("audio", "video"):
                track = self._tracks.pop((feed, kind), None)
                if track is not None:
                    track.end()

    def video_of(self) -> set[str]:
        """The participant sessions whose video we take."""
        return {
            self.people[s.feed]
            for s in self._subscribed.values()
            if s.kind == "video" and s.feed in self.people
        }

    def receivers_of(self, remote: str) -> tuple[list[RTCRtpReceiver], set[int]]:
        """The receivers carrying ``remote``'s streams now, and those streams' SSRCs (a
        receiver keeps the counters of the streams its m-line carried before)."""
        if self.peer is None:
            return [], set()
        mids = {mid for mid, s in self._subscribed.items() if self.people.get(s.feed) == remote}
        receivers = [t.receiver for t in self.peer.getTransceivers() if t.mid in mids]
        return receivers, set().union(*(self._ssrcs.get(mid, set()) for mid in mids))

    def retell(self, person: str | None = None) -> None:
        """Say again what we take of ``person``'s picture (None: everyone's): words may
        have been lost."""
        if person is None:
            self._told.clear()
        else:
            self._told.pop(person, None)
        self._tell()

    def _tell(self) -> None:
        """Tell each person what we take of their picture, where it changed."""
        for person, layers in layers_taken(self._subscribed, self.feeds, self.people).items():
            if self._told.get(person) != layers:
                self._told[person] = layers
                self.on_takes(person, layers)

    def stop(self) -> None:
        """No more requests; the forwarders stop (the connection closes the peer)."""
        self._closed = True
        for task in [*self._tasks, *self._forwarders.values()]:
            task.cancel()

    def end_tracks(self) -> None:
        for track in self._tracks.values():
            track.end()

    # --- Janus -----------------------------------------------------------------------

    async def _change(self, room: Room, change: Plan) -> None:
        if self._handle is None:
            if not change.subscribe:
                return
            self._handle = await room.link.attach(self._event)
            reply = await self._handle.request(
                {
                    "request": "join",
                    "ptype": "subscriber",
                    "room": room.room,
                    "streams": as_request(change.subscribe),
                    "token": room.token,
                    "private_id": room.private_id,
                    "use_msid": False,
                }
            )
        else:
            handle = self._handle
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

    def _event(
        self, message: dict[str, Any], data: dict[str, Any], jsep: dict[str, Any] | None
    ) -> None:
        """Janus renegotiates by itself when a feed we take goes away."""
        if message.get("janus") == "hangup" and not self._closed:
            log.info("the media server hung up our subscriber: %s", message.get("reason"))
            self.on_failed()
        elif data.get("videoroom") == "updated" or jsep is not None:
            task = asyncio.ensure_future(self._settle_locked(data, jsep))
            self._tasks.add(task)
            task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closed:
            log.warning("media server step failed: %s", task.exception())
            self.on_failed()

    async def _settle_locked(self, data: dict[str, Any], jsep: dict[str, Any] | None) -> None:
        async with self.lock:
            if not self._closed:
                await self._settle(data, jsep)

    async def _settle(self, data: dict[str, Any], jsep: dict[str, Any] | None) -> None:
        """Take Janus's new description of our streams (and its offer, answered)."""
        streams = data.get("streams")
        if isinstance(streams, list):
            self._subscribed = streams_of(streams)
        if jsep is None or jsep.get("type") != "offer" or self._handle is None:
            self._route()
            return
        if self.peer is None:
            assert self.room is not None
            self.peer = self.room.new_peer()
        peer = self.peer
        await peer.setRemoteDescription(RTCSessionDescription(jsep["sdp"], "offer"))
        for transceiver in peer.getTransceivers():
            jitter.install(transceiver.receiver)
        await peer.setLocalDescription(await peer.createAnswer())
        self._ssrcs = learn_ssrcs(peer, jsep["sdp"])
        self._route()
        await self._handle.request(
            {"request": "start"},
            {"type": "answer", "sdp": peer.localDescription.sdp, "trickle": False},
        )

    # --- frames ----------------------------------------------------------------------

    def _route(self) -> None:
        """A forwarder per receiving m-line; a track per person for what now arrives."""
        if self.peer is None:
            return
        live: set[tuple[str, str]] = set()
        for transceiver in self.peer.getTransceivers():
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
        self._tell()

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
