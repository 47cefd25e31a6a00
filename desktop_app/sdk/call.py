"""``Call``: the verbs of the call model, and how a call reacts to its events.

Join/leave and accept/reject of one call are serialized by a per-call lock, so they cannot
interleave; several calls may be joined at once. Ringing rules on this side:

* the caller joins by itself on the first accept, and leaves with ``cancel`` once the
  ring is over with nobody accepting (everyone rejected or missed it);
* a callee stops ringing when the caller cancels, when the call ends, or when the same
  user answered or rejected on another device;
* with ``reject_call_when_busy``, a ring while another call is joined is rejected ``busy``;
* local timeouts reject with ``timeout`` (never ``decline``); the coordinator enforces the
  same deadlines on its own.

Media: on join the call takes over the lobby's devices (``client.camera`` …), applies the
call type's defaults where the user has not chosen, and connects a peer mesh. A peer
connection that fails makes the call *rejoin* — a new participant session, so every peer
starts over (aiortc has no ICE restart) — in state ``reconnecting``, with the delays of
``ClientOptions.media_reconnect_policy``; when those run out the state is
``reconnecting-failed`` and the devices are released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError

from desktop_app.protocol.calls import CallResponse, MediaInfo, MemberResponse, QueryMembersResponse
from desktop_app.protocol.events import CALL_EVENT_TYPES

from .call_state import CallingState, CallState, Participant
from .device_managers import InputDeviceManager, SpeakerManager
from .errors import (
    CallEnded,
    CallStateError,
    Conflict,
    DeviceError,
    NotAllowed,
    NotFound,
    ParleyError,
)
from .levels import audio_level, loudest, smooth
from .rtc import PeerMesh

if TYPE_CHECKING:
    from .client import VideoClient

log = logging.getLogger(__name__)

_UNSET: Any = object()


class Call:
    def __init__(self, client: VideoClient, call_type: str, call_id: str) -> None:
        self.client = client
        self.type = call_type
        self.id = call_id
        self.cid = f"{call_type}:{call_id}"
        self.state = CallState(client.user_id)
        self.media: MediaInfo | None = None
        self._lock = asyncio.Lock()
        self._outgoing_ring = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.camera = InputDeviceManager(client.devices, "camera")
        self.microphone = InputDeviceManager(client.devices, "microphone")
        self.speaker = SpeakerManager(client.devices)
        self.mesh: PeerMesh | None = None
        #: Rejoins since a peer connection last came up (bounded by the media policy).
        self._media_attempts = 0
        self._rejoining = False
        #: Which lobby devices were running when this call took them over.
        self._lobby_was_on: set[str] = set()
        self._relay = MediaRelay()
        #: Signals that arrived before our mesh existed (a peer may offer the moment our
        #: join is committed, before its answer has reached us).
        self._early_signals: list[dict[str, Any]] = []
        #: Remote tracks that arrived before their participant was known, by session.
        self._unclaimed: dict[str, list[Any]] = {}
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def is_outgoing_ring(self) -> bool:
        """Whether this device is ringing others (vs. being rung) in this call."""
        return self._outgoing_ring

    @property
    def is_ringing_me(self) -> bool:
        """An incoming ring is waiting for an answer on this device."""
        return self.state.calling_state is CallingState.RINGING and not self._outgoing_ring

    def __repr__(self) -> str:
        return f"<Call {self.cid} {self.state.calling_state.value}>"

    # --- talking to the coordinator --------------------------------------------------------

    async def _request(
        self, method: str, suffix: str = "", body: Any = None, *, watch: bool = False, **params: Any
    ) -> Any:
        if watch and self.client.connection.connection_id:
            params["connection_id"] = self.client.connection.connection_id
        return await self.client.connection.request(
            method, f"/v1/calls/{self.type}/{self.id}{suffix}", json_body=body, params=params
        )

    def _apply(self, answer: dict[str, Any]) -> None:
        if "call" in answer:
            self.state.apply_call(CallResponse.model_validate(answer["call"]))
        if "members" in answer and isinstance(answer["members"], list):
            members = answer["members"]
            if all(isinstance(m, dict) for m in members):
                self.state.apply_members([MemberResponse.model_validate(m) for m in members])
        if "own_capabilities" in answer:
            self.state.apply_capabilities(answer["own_capabilities"])
        if self.state.calling_state is CallingState.UNKNOWN:
            self.state.set_calling_state(CallingState.IDLE)
        self.client._remember(self)

    # --- the verbs ---------------------------------------------------------------------------

    async def get(
        self, *, ring: bool = False, notify: bool = False, members_limit: int = 25
    ) -> None:
        answer = await self._request(
            "GET", watch=True, ring=ring or None, notify=notify or None, members_limit=members_limit
        )
        self._apply(answer)
        if ring:
            self._start_outgoing_ring()

    async def get_or_create(
        self,
        data: dict[str, Any] | None = None,
        *,
        ring: bool = False,
        notify: bool = False,
        video: bool | None = None,
        members_limit: int = 25,
    ) -> bool:
        """Load the call, creating it if needed; says whether this request created it."""
        body: dict[str, Any] = {"ring": ring, "notify": notify, "members_limit": members_limit}
        if data is not None:
            body["data"] = data
        if video is not None:
            body["video"] = video
        answer = await self._request("POST", "", body, watch=True)
        self._apply(answer)
        if ring:
            self._start_outgoing_ring()
        return bool(answer.get("created"))

    async def join(
        self,
        *,
        create: bool = False,
        data: dict[str, Any] | None = None,
        ring: bool = False,
        notify: bool = False,
        video: bool | None = None,
    ) -> None:
        """Join (accepting too when this call is ringing us: the two requests are
        independent on the server, so they travel together)."""
        async with self._lock:
            if self.state.calling_state in (CallingState.JOINED, CallingState.RECONNECTING):
                raise CallStateError("You are already in this call.")
            accepting = self.state.calling_state is CallingState.RINGING and not self._outgoing_ring
            previous = self.state.calling_state
            self._stop_timer()
            self.state.set_calling_state(CallingState.JOINING)
            body: dict[str, Any] = {"create": create, "ring": ring, "notify": notify}
            if data is not None:
                body["data"] = data
            if video is not None:
                body["video"] = video
            # What the call type says about devices is known already for a call we have
            # loaded (a ring): open them while the request travels.
            early_devices = self.state.settings is not None and data is None and video is None
            results = await asyncio.gather(
                self._request("POST", "/join", body, watch=True),
                self._accept_quietly() if accepting else asyncio.sleep(0),
                self._open_devices() if early_devices else asyncio.sleep(0),
                return_exceptions=True,
            )
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                if early_devices:
                    self._return_devices()
                self.state.set_calling_state(previous)
                raise failure
            self._lobby_was_on.clear()
            self._joined(cast(dict[str, Any], results[0]))
            self._media_attempts = 0
            await self._start_media()

    def _joined(self, answer: dict[str, Any]) -> None:
        self.media = MediaInfo.model_validate(answer["media"])
        self.state.local_session_id = self.media.session_id
        self._apply(answer)
        self.state.set_calling_state(CallingState.JOINED)

    async def leave(self, *, reject: bool = False, reason: str = "decline") -> None:
        """Leave the call; with ``reject``, also reject (or, as caller, cancel) its ring."""
        async with self._lock:
            self._stop_timer()
            if reject and self.state.ringing:
                if self._outgoing_ring and reason not in ("cancel", "timeout"):
                    reason = "cancel"
                with contextlib.suppress(Conflict):
                    await self._answer(reason)
            if self.state.calling_state is CallingState.JOINED and self.state.local_session_id:
                with contextlib.suppress(Conflict):
                    answer = await self._request(
                        "POST", "/leave", {"session_id": self.state.local_session_id}
                    )
                    self._apply(answer)
            elif self.state.calling_state is CallingState.RECONNECTING:
                await self._leave_session_quietly()
            await self._stop_media()
            self.state.local_session_id = None
            self.media = None
            self._outgoing_ring = False
            self.state.set_calling_state(CallingState.LEFT)

    async def end_call(self) -> None:
        answer = await self._request("POST", "/end")
        self._apply(answer)
        self._finished()

    async def update(
        self,
        *,
        custom: dict[str, Any] | None = None,
        settings_override: dict[str, Any] | None = None,
        starts_at: datetime | None = _UNSET,
    ) -> None:
        body: dict[str, Any] = {}
        if custom is not None:
            body["custom"] = custom
        if settings_override is not None:
            body["settings_override"] = settings_override
        if starts_at is not _UNSET:
            body["starts_at"] = starts_at.isoformat() if starts_at else None
        self._apply(await self._request("PATCH", "", body, watch=True))

    async def update_call_members(
        self,
        *,
        update_members: list[dict[str, Any]] | None = None,
        remove_members: list[str] | None = None,
    ) -> None:
        answer = await self._request(
            "POST",
            "/members",
            {"update_members": update_members or [], "remove_members": remove_members or []},
        )
        self.state.apply_call(CallResponse.model_validate(answer["call"]))
        self.state.merge_members([MemberResponse.model_validate(m) for m in answer["members"]])
        self.state.remove_members(answer["removed"])

    async def query_members(
        self,
        *,
        filter: dict[str, Any] | None = None,
        sort: list[dict[str, Any]] | None = None,
        limit: int = 25,
        next: str | None = None,
        prev: str | None = None,
    ) -> QueryMembersResponse:
        body: dict[str, Any] = {"filter": filter or {}, "sort": sort or [], "limit": limit}
        if next is not None:
            body["next"] = next
        if prev is not None:
            body["prev"] = prev
        return QueryMembersResponse.model_validate(
            await self._request("POST", "/members/query", body)
        )

    async def go_live(self, *, notify: bool = False) -> None:
        self._apply(await self._request("POST", "/go-live", {"notify": notify}))

    async def stop_live(self) -> None:
        self._apply(await self._request("POST", "/stop-live"))

    async def ring(self, member_ids: list[str] | None = None, *, video: bool | None = None) -> None:
        body: dict[str, Any] = {}
        if member_ids is not None:
            body["member_ids"] = member_ids
        if video is not None:
            body["video"] = video
        self._apply(await self._request("POST", "/ring", body, watch=True))
        self._start_outgoing_ring()

    async def accept(self) -> None:
        async with self._lock:
            await self._answer(None)

    async def reject(self, reason: str = "decline") -> None:
        async with self._lock:
            await self._answer(reason)
            self._stop_timer()
            if self.state.calling_state is CallingState.RINGING:
                self.state.set_calling_state(CallingState.IDLE)
            self._outgoing_ring = False

    async def send_event(self, custom: dict[str, Any]) -> None:
        await self._request("POST", "/events", {"custom": custom})

    async def _accept_quietly(self) -> None:
        """Accept while joining; the ring may have just ended, and joining goes on anyway."""
        with contextlib.suppress(Conflict):
            await self._answer(None)

    async def _answer(self, reason: str | None) -> None:
        if reason is None:
            answer = await self._request("POST", "/accept", {})
        else:
            answer = await self._request("POST", "/reject", {"reason": reason})
        self._apply(answer)

    # --- media ----------------------------------------------------------------------------------

    @property
    def _video(self) -> bool:
        settings = self.state.settings
        return bool(
            self.state.call and self.state.call.video and settings and settings.video.enabled
        )

    async def _open_devices(self) -> None:
        """The lobby's devices and choices, then the call type's defaults where the user has
        not chosen (again after the join answer: it may change the call's video)."""
        settings = self.state.settings
        for lobby in (self.client.camera, self.client.microphone):
            if lobby.enabled:
                self._lobby_was_on.add(lobby.kind)
        self.camera.take_over(self.client.camera)
        self.microphone.take_over(self.client.microphone)
        self.speaker.take_over(self.client.speaker)
        for manager, default in (
            (self.microphone, bool(settings and settings.audio.mic_default_on)),
            (self.camera, self._video and bool(settings and settings.video.camera_default_on)),
        ):
            try:
                await manager.apply_default(default)
            except DeviceError as error:
                log.info("%s: %s", self.cid, error.message)

    def _return_devices(self) -> None:
        """Joining failed: a running lobby preview gets its device back; the rest closes."""
        for lobby, mine in (
            (self.client.camera, self.camera),
            (self.client.microphone, self.microphone),
        ):
            if lobby.kind in self._lobby_was_on:
                lobby.take_over(mine)
            else:
                mine.release()
        self._lobby_was_on.clear()

    async def _start_media(self) -> None:
        """Devices, the speaker, then the peers."""
        await self._open_devices()
        try:
            await self.speaker.start()
        except DeviceError as error:
            log.info("%s: %s", self.cid, error.message)
        for manager in (self.camera, self.microphone):
            self._unsubscribe.append(
                manager.status.subscribe(lambda _: self._spawn(self._publish_state()))
            )
        await self._connect_peers()

    async def _connect_peers(self) -> None:
        assert self.media is not None and self.state.local_session_id is not None
        sources = [self.microphone.subscribe] + ([self.camera.subscribe] if self._video else [])
        self._unsubscribe.append(self.state.participants_.subscribe(self._claim_tracks))
        self.mesh = PeerMesh(
            self.state.local_session_id,
            self.media.ice_servers,
            sources,
            self._send_signal,
            self._remote_track,
            on_state=self._peer_state,
            prefer_h264=self.client.options.prefer_h264,
        )
        await self._publish_state()
        early, self._early_signals = self._early_signals, []
        for event in early:
            self._on_signal(event)
        for participant in self.state.participants:
            await self.mesh.seen(participant.session_id)

    async def _stop_media(self) -> None:
        self._early_signals.clear()
        self._unclaimed.clear()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        await self._close_mesh()
        self.camera.release()
        self.microphone.release()
        self.speaker.stop()

    async def _close_mesh(self) -> None:
        if self.mesh is not None:
            mesh, self.mesh = self.mesh, None
            await mesh.close()
        for participant in self.state.participants:
            if not participant.is_local:
                participant.video_track = participant.audio_track = None
                participant.audio_level = 0.0
                participant.connection_state = "new"

    # --- rejoining after a media failure -------------------------------------------------------

    def _peer_state(self, remote: str, state: str) -> None:
        participant = next((p for p in self.state.participants if p.session_id == remote), None)
        if participant is not None:
            participant.connection_state = state
            self.state.participants_.notify()
        if state == "connected":
            self._media_attempts = 0
        elif (
            state in ("failed", "closed")
            and participant is not None
            and self.state.calling_state is CallingState.JOINED
            and not self._rejoining
        ):
            log.info("%s: media to %s %s; rejoining", self.cid, remote, state)
            self._rejoining = True
            self._spawn(self._rejoin())

    async def _leave_session_quietly(self) -> None:
        session = self.state.local_session_id
        if session is None:
            return
        try:
            await self._request("POST", "/leave", {"session_id": session})
        except Conflict:
            pass  # gone already
        except ParleyError as error:
            log.info("%s: could not leave session %s: %s", self.cid, session, error.message)
            return
        self.state.local_session_id = None

    def _reconnecting(self) -> bool:
        return self.state.calling_state is CallingState.RECONNECTING

    async def _rejoin(self) -> None:
        """Join again as a new participant session (every peer starts over), retrying with
        the media policy's delays; give up with ``reconnecting-failed``."""
        policy = self.client.options.media_reconnect_policy
        try:
            async with self._lock:
                if self.state.calling_state is not CallingState.JOINED:
                    return
                self.state.set_calling_state(CallingState.RECONNECTING)
                await self._close_mesh()
            while (delay := policy.delay(self._media_attempts)) is not None:
                self._media_attempts += 1
                await asyncio.sleep(delay)
                async with self._lock:
                    if not self._reconnecting():
                        return  # left (or ended) meanwhile
                    try:
                        await self._leave_session_quietly()
                        answer = await self._request("POST", "/join", {}, watch=True)
                    except (CallEnded, NotAllowed, NotFound) as error:
                        log.info("%s: cannot rejoin: %s", self.cid, error.message)
                        break
                    except ParleyError as error:
                        log.info("%s: rejoin attempt failed: %s", self.cid, error.message)
                        continue
                    self._joined(answer)
                    await self._connect_peers()
                    return
            async with self._lock:
                if self._reconnecting():
                    self.state.set_calling_state(CallingState.RECONNECTING_FAILED)
                    await self._stop_media()
        finally:
            self._rejoining = False

    async def _publish_state(self) -> None:
        if self.state.local_session_id is None:
            return
        await self.client.connection.send(
            {
                "type": "participant.update",
                "call_cid": self.cid,
                "session_id": self.state.local_session_id,
                "published": {"audio": self.microphone.enabled, "video": self.camera.enabled},
            }
        )

    async def _send_signal(self, remote: str, signal: dict[str, Any]) -> None:
        await self.client.connection.send(
            {
                "type": "call.signal",
                "call_cid": self.cid,
                "from_session_id": self.state.local_session_id,
                "to_session_id": remote,
                "signal": signal,
            }
        )

    def _remote_track(self, remote: str, track: Any) -> None:
        """A remote track arrived: the app gets a branch that always holds the latest frame;
        the SDK drains the track itself (measuring audio levels on the way)."""
        participant = next((p for p in self.state.participants if p.session_id == remote), None)
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

    async def _drain(self, participant: Participant, track: Any, audio: bool) -> None:
        try:
            while True:
                frame = await track.recv()
                if audio:
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
        speaker = next((p for p in self.state.participants if p.session_id == chosen), None)
        if speaker is not current:
            self.state.dominant_speaker_.set(speaker)

    # --- ringing on this side ----------------------------------------------------------------

    def _start_outgoing_ring(self) -> None:
        if not self.state.ringing:
            return
        self._outgoing_ring = True
        if self.state.calling_state is not CallingState.JOINED:
            self.state.set_calling_state(CallingState.RINGING)
        settings = self.state.settings
        if settings is not None:
            self._set_timer(settings.ring.auto_cancel_timeout_ms, self._outgoing_timed_out)

    def _start_incoming_ring(self) -> None:
        if self.state.calling_state is CallingState.JOINED:
            return
        self.state.set_calling_state(CallingState.RINGING)
        if self.client.options.reject_call_when_busy and self.client.in_another_call(self):
            self._spawn(self.reject("busy"))
            return
        settings = self.state.settings
        if settings is not None:
            self._set_timer(settings.ring.incoming_call_timeout_ms, self._incoming_timed_out)

    def _set_timer(self, milliseconds: int, action: Callable[[], None]) -> None:
        self._stop_timer()
        self._timer = asyncio.get_running_loop().call_later(milliseconds / 1000, action)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _incoming_timed_out(self) -> None:
        if self.state.calling_state is CallingState.RINGING:
            self._spawn(self.reject("timeout"))

    def _outgoing_timed_out(self) -> None:
        if self.state.calling_state is CallingState.RINGING:
            self._spawn(self.leave(reject=True, reason="timeout"))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: background step failed: %s", self.cid, task.exception())

    def _finished(self) -> None:
        """The call is over for us (ended, deleted, or we were removed): close the peers
        and release the devices too."""
        self._stop_timer()
        self._outgoing_ring = False
        self.state.local_session_id = None
        self.state.set_calling_state(CallingState.LEFT)
        if (
            self.mesh is not None
            or self.camera.enabled
            or self.microphone.enabled
            or self.speaker.playing
        ):
            self._spawn(self._stop_media())

    # --- events ---------------------------------------------------------------------------------

    def handle_event(self, event: dict[str, Any]) -> None:
        """Rebuild state from the event's ``call``, then apply the event's own meaning."""
        event_type = str(event.get("type"))
        handler = EVENT_HANDLERS.get(event_type)
        if handler is None:
            log.debug("%s: no handler for %s", self.cid, event_type)
            return
        if isinstance(event.get("call"), dict):
            self.state.apply_call(CallResponse.model_validate(event["call"]))
            if self.state.calling_state is CallingState.UNKNOWN:
                self.state.set_calling_state(CallingState.IDLE)
        handler(self, event)

    def _user_of(self, event: dict[str, Any]) -> str | None:
        user = event.get("user")
        return str(user.get("id")) if isinstance(user, dict) else None

    def _ring_over_unanswered(self) -> bool:
        session = self.state.session
        return session is not None and not session.ringing and not session.accepted_by

    def _on_ring(self, event: dict[str, Any]) -> None:
        if self._user_of(event) != self.client.user_id:
            self._start_incoming_ring()

    def _on_accepted(self, event: dict[str, Any]) -> None:
        who = self._user_of(event)
        ringing_here = self.state.calling_state is CallingState.RINGING
        if self._outgoing_ring and who != self.client.user_id and ringing_here:
            self._outgoing_ring = False
            self._stop_timer()
            self._spawn(self.join())
        elif who == self.client.user_id and ringing_here and not self._lock.locked():
            self._stop_timer()  # answered on another device
            self.state.set_calling_state(CallingState.IDLE)

    def _on_rejected_or_missed(self, event: dict[str, Any]) -> None:
        who = self._user_of(event)
        ringing_here = self.state.calling_state is CallingState.RINGING
        if not ringing_here:
            return
        if self._outgoing_ring:
            if self._ring_over_unanswered():
                self._spawn(self.leave(reject=True, reason="cancel"))
            return
        if who == self.client.user_id or not self.state.ringing:
            self._stop_timer()  # answered elsewhere, cancelled by the caller, or missed
            self.state.set_calling_state(CallingState.IDLE)

    def _on_members_added(self, event: dict[str, Any]) -> None:
        self.state.merge_members(
            [MemberResponse.model_validate(m) for m in event.get("members", [])]
        )

    def _on_members_removed(self, event: dict[str, Any]) -> None:
        self.state.remove_members([str(u) for u in event.get("members", [])])

    def _on_ended(self, event: dict[str, Any]) -> None:
        self._finished()

    def _on_participant_joined(self, event: dict[str, Any]) -> None:
        participant = event.get("participant") or {}
        if self.mesh is not None and isinstance(participant.get("session_id"), str):
            self._spawn(self.mesh.seen(participant["session_id"]))

    def _on_signal(self, event: dict[str, Any]) -> None:
        if not isinstance(event.get("signal"), dict):
            return
        if self.mesh is None:
            if self.state.calling_state in (CallingState.JOINING, CallingState.JOINED):
                self._early_signals.append(event)
            return
        if event.get("to_session_id") == self.state.local_session_id:
            self._spawn(self.mesh.signal(str(event.get("from_session_id")), event["signal"]))

    def _on_participant_left(self, event: dict[str, Any]) -> None:
        participant = event.get("participant") or {}
        if self.mesh is not None and isinstance(participant.get("session_id"), str):
            self._spawn(self.mesh.drop(participant["session_id"]))
            self.speaker.forget(participant["session_id"])
        if (
            participant.get("session_id") == self.state.local_session_id
            and self.state.calling_state is CallingState.JOINED
        ):
            self._finished()  # removed by the server (disconnected too long)

    def _on_notification(self, event: dict[str, Any]) -> None:
        if self._user_of(event) != self.client.user_id:
            self.client.state.notified_call.set(None)  # the same call may be announced again
            self.client.state.notified_call.set(self)

    def _ignore(self, event: dict[str, Any]) -> None:
        """The event's ``call`` (applied already) is all this event means to the SDK."""


#: Every event type of the protocol and what a call does with it (a test keeps it whole).
EVENT_HANDLERS: dict[str, Callable[[Call, dict[str, Any]], None]] = {
    "call.created": Call._on_members_added,
    "call.updated": Call._ignore,
    "call.deleted": Call._on_ended,
    "call.ended": Call._on_ended,
    "call.member_added": Call._on_members_added,
    "call.member_updated": Call._on_members_added,
    "call.member_removed": Call._on_members_removed,
    "call.ring": Call._on_ring,
    "call.notification": Call._on_notification,
    "call.accepted": Call._on_accepted,
    "call.rejected": Call._on_rejected_or_missed,
    "call.missed": Call._on_rejected_or_missed,
    "call.live_started": Call._ignore,
    "call.live_stopped": Call._ignore,
    "call.session_started": Call._ignore,
    "call.session_ended": Call._ignore,
    "call.participant_joined": Call._on_participant_joined,
    "call.participant_left": Call._on_participant_left,
    "call.participant_updated": Call._ignore,
    "call.custom": Call._ignore,
    "call.signal": Call._on_signal,
}
assert set(EVENT_HANDLERS) == set(CALL_EVENT_TYPES)
