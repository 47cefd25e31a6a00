"""``Call``: the verbs of the call model, as a thin facade over the call's state machine.

Every verb and every event goes through :class:`~desktop_app.sdk.call_machine.CallMachine`,
which decides the new state and what must be done; the call carries that out — requests,
timers, devices, media — here. Verbs run under a per-call lock, so join/leave and
accept/reject cannot interleave; what an event makes necessary runs under the same lock,
after the machine has already moved (so a second event sees the new state).

Devices are the client's (``call.camera is client.camera``): a call opens them when it
joins (the call type's defaults where the user has not chosen) and releases them when it
is over. Media sits behind :class:`~desktop_app.sdk.media_session.MediaSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

import pydantic

from desktop_app.protocol.calls import (
    AcceptCallRequest,
    CallResponse,
    GetOrCreateCallRequest,
    GoLiveRequest,
    JoinCallRequest,
    LeaveCallRequest,
    MediaInfo,
    MediaRequest,
    MemberResponse,
    QueryMembersRequest,
    QueryMembersResponse,
    RejectCallRequest,
    RingCallRequest,
    SendEventRequest,
    UpdateCallMembersRequest,
    UpdateCallRequest,
)
from desktop_app.protocol.events import (
    CALL_EVENT_ADAPTER,
    CallEvent,
    WsPublishMessage,
)

from . import call_machine as m
from .call_context import UNSET, CallContext, request_body
from .call_devices import CallDevices
from .call_events import EVENT_HANDLERS
from .call_machine import CallMachine
from .call_state import CallingState, CallState
from .call_timers import CallTimers
from .errors import (
    CallEnded,
    Conflict,
    ConnectionFailed,
    NotAllowed,
    NotFound,
    ParleyError,
)
from .media_session import CallMedia, MediaReport
from .rtc import PeerMesh

log = logging.getLogger(__name__)


class Call:
    def __init__(self, context: CallContext, call_type: str, call_id: str) -> None:
        self.context = context
        self.type = call_type
        self.id = call_id
        self.cid = f"{call_type}:{call_id}"
        self.state = CallState(context.user_id)
        self.machine = CallMachine(
            context.user_id,
            reject_when_busy=context.options.reject_call_when_busy,
            media_policy=context.options.media_reconnect_policy,
        )
        self.media: MediaInfo | None = None
        #: The client's devices (the same objects in every call and in the lobby).
        self.camera = context.camera
        self.microphone = context.microphone
        self.speaker = context.speaker
        self.media_session = CallMedia(
            self.state,
            self.camera,
            self.microphone,
            self.speaker,
            self._send,
            self._media_report,
            prefer_h264=context.options.prefer_h264,
            reachable=context.connection.reachable,
            fetch_media=self._fetch_media,
        )
        self._devices = CallDevices(self.camera, self.microphone, self.speaker, self.cid)
        self._lock = asyncio.Lock()
        self._timers = CallTimers(lambda timer: self._dispatch(self._feed(m.TimerFired(timer))))
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return f"<Call {self.cid} {self.state.calling_state.value}>"

    # --- what the machine says ----------------------------------------------------------

    @property
    def is_ringing_me(self) -> bool:
        """An incoming ring is waiting for an answer on this device."""
        return self.machine.ringing_me

    @property
    def mesh(self) -> PeerMesh | None:
        """The peer connections, while connected."""
        return self.media_session.mesh

    def show_video_of(
        self, session_ids: Collection[str] | None, heights: Mapping[str, int] | None = None
    ) -> None:
        """Receive video only of these participant sessions — the tiles on screen (None:
        everyone's) — and, where ``heights`` says how tall each one's tile is (pixels),
        the smaller grid layer for the small ones. Sound always comes from everyone.
        Through the SFU this is what we subscribe to; a peer-to-peer call receives
        everything anyway."""
        self.media_session.show(session_ids, heights)

    def _feed(self, given: m.Input) -> list[m.Command]:
        before = self.machine.calling_state
        missed_before = self.machine.missed_rings
        commands = self.machine.handle(given)
        if log.isEnabledFor(logging.DEBUG):
            what = type(given).__name__
            if isinstance(given, m.EventReceived):
                what = given.event.type
            log.debug(
                "%s %s: %s → %s %s",
                self.context.user_id,
                what,
                before.value,
                self.machine.calling_state.value,
                commands,
            )
        self.state.set_local_session(self.machine.session_id)
        self.state.ring_.set(self.machine.ring)
        self.state.set_calling_state(self.machine.calling_state)
        self.context.listener.ring_changed(self)
        if self.machine.missed_rings != missed_before:
            self.context.listener.ring_missed(self)
        return commands

    def _dispatch(self, commands: list[m.Command]) -> None:
        """Carry out commands from outside a verb: timers now, the rest under the lock."""
        later = [c for c in commands if not self._timers.carry_out(c)]
        if later:
            self._spawn(self._run_locked(later))

    async def _run_locked(self, commands: list[m.Command]) -> None:
        async with self._lock:
            await self._run(commands)

    async def _run(
        self, commands: list[m.Command], join_body: dict[str, Any] | None = None
    ) -> None:
        accepting = any(isinstance(c, m.SendAccept) for c in commands) and any(
            isinstance(c, m.SendJoin) for c in commands
        )
        for done, command in enumerate(commands):
            try:
                await self._run_one(command, accepting, join_body)
            except BaseException:
                # A request that failed (offline, refused) must not leave peers or
                # devices open behind a state that says they are closed.
                for rest in commands[done + 1 :]:
                    if isinstance(rest, m.StopMedia | m.CloseMedia | m.DisarmTimer):
                        await self._run_one(rest, accepting, join_body)
                raise

    async def _run_one(
        self, command: m.Command, accepting: bool, join_body: dict[str, Any] | None
    ) -> None:
        if not self._timers.carry_out(command):
            match command:
                case m.SendAccept():
                    if not accepting:  # else it travels with the join
                        await self._send_answer(None)
                case m.SendReject(reason):
                    with contextlib.suppress(Conflict):
                        await self._send_answer(reason)
                case m.SendJoin():
                    await self._send_join(join_body or {}, accepting)
                case m.SendLeave(session_id):
                    await self._leave_session(session_id)
                case m.StartMedia():
                    await self._start_media()
                case m.CloseMedia():
                    await self.media_session.close()
                case m.StopMedia():
                    await self._stop_media()
                case m.SendRejoin(old_session_id):
                    await self._send_rejoin(old_session_id)
                case m.PublishState():
                    await self._publish_state()
                case m.SyncPeers():
                    await self.media_session.sync()

    async def close(self) -> None:
        """The client is going away: no timer, peer connection or task of this call stays."""
        self._timers.disarm_all()
        await self.media_session.close()
        for task in list(self._tasks):
            task.cancel()

    # --- talking to the coordinator --------------------------------------------------------

    async def _request(
        self, method: str, suffix: str = "", body: Any = None, *, watch: bool = False, **params: Any
    ) -> Any:
        connection = self.context.connection
        if watch and connection.connection_id:
            params["connection_id"] = connection.connection_id
        return await connection.request(
            method, f"/v1/calls/{self.type}/{self.id}{suffix}", json_body=body, params=params
        )

    async def _fetch_media(self) -> MediaInfo:
        """This participant session's media credentials, now (the session's media moved)."""
        session = self.machine.session_id
        if session is None:
            raise ConnectionFailed("not in the call")
        answer = await self._request(
            "POST", "/media", request_body(MediaRequest, session_id=session)
        )
        return MediaInfo.model_validate(answer)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.context.connection.send(message)

    def _apply(self, answer: dict[str, Any]) -> CallResponse | None:
        """Take what an answer says about the call; answers the call it carried."""
        call = None
        fresh = False
        if isinstance(answer.get("call"), dict):
            call = CallResponse.model_validate(answer["call"])
            fresh = self.state.apply_call(call)
        members = answer.get("members")
        if isinstance(members, list) and all(isinstance(x, dict) for x in members):
            self.state.apply_members([MemberResponse.model_validate(x) for x in members])
        if "own_capabilities" in answer:
            self.state.apply_capabilities(answer["own_capabilities"])
        self.context.listener.call_known(self)
        if call is not None and fresh:
            self._dispatch(self._feed(m.CallSeen(call)))
        return call

    def _rang(self, call: CallResponse | None, callees: list[str] | None) -> None:
        """We rang: the machine rings out (if the server says the ring is on)."""
        if call is None:
            return
        if callees is None:
            callees = [x.user_id for x in self.state.members]
        self._dispatch(
            self._feed(m.RingSent(call, tuple(callees), self.context.connection.user.value))
        )

    # --- the verbs ---------------------------------------------------------------------------

    async def get(
        self, *, ring: bool = False, notify: bool = False, members_limit: int = 25
    ) -> None:
        answer = await self._request(
            "GET", watch=True, ring=ring or None, notify=notify or None, members_limit=members_limit
        )
        call = self._apply(answer)
        if ring:
            self._rang(call, None)

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
        body = request_body(
            GetOrCreateCallRequest,
            data=UNSET if data is None else data,
            ring=ring,
            notify=notify,
            video=UNSET if video is None else video,
            members_limit=members_limit,
        )
        answer = await self._request("POST", "", body, watch=True)
        call = self._apply(answer)
        if ring:
            named = [str(x.get("user_id")) for x in (data or {}).get("members", []) or []]
            self._rang(call, named or None)
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
        body = request_body(
            JoinCallRequest,
            create=create,
            data=UNSET if data is None else data,
            ring=ring,
            notify=notify,
            video=UNSET if video is None else video,
        )
        async with self._lock:
            await self._run(self._feed(m.JoinRequested()), join_body=body)

    async def leave(self, *, reject: bool = False, reason: str = "decline") -> None:
        """Leave the call; with ``reject``, also reject (or, as caller, cancel) its ring."""
        async with self._lock:
            await self._run(self._feed(m.LeaveRequested(reject, reason)))

    async def end_call(self) -> None:
        self._apply(await self._request("POST", "/end"))
        async with self._lock:
            await self._run(self._feed(m.CallFinished()))

    async def update(
        self,
        *,
        custom: dict[str, Any] | None = None,
        settings_override: dict[str, Any] | None = None,
        starts_at: datetime | None = UNSET,
    ) -> None:
        body = request_body(
            UpdateCallRequest,
            custom=UNSET if custom is None else custom,
            settings_override=UNSET if settings_override is None else settings_override,
            starts_at=starts_at,
        )
        self._apply(await self._request("PATCH", "", body, watch=True))

    async def update_call_members(
        self,
        *,
        update_members: list[dict[str, Any]] | None = None,
        remove_members: list[str] | None = None,
    ) -> None:
        body = request_body(
            UpdateCallMembersRequest,
            update_members=update_members or [],
            remove_members=remove_members or [],
        )
        answer = await self._request("POST", "/members", body)
        self.state.apply_call(CallResponse.model_validate(answer["call"]))
        self.state.merge_members([MemberResponse.model_validate(x) for x in answer["members"]])
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
        body = request_body(
            QueryMembersRequest,
            filter=filter or {},
            sort=sort or [],
            limit=limit,
            next=UNSET if next is None else next,
            prev=UNSET if prev is None else prev,
        )
        return QueryMembersResponse.model_validate(
            await self._request("POST", "/members/query", body)
        )

    async def go_live(self, *, notify: bool = False) -> None:
        self._apply(
            await self._request("POST", "/go-live", request_body(GoLiveRequest, notify=notify))
        )

    async def stop_live(self) -> None:
        self._apply(await self._request("POST", "/stop-live"))

    async def ring(self, member_ids: list[str] | None = None, *, video: bool | None = None) -> None:
        body = request_body(
            RingCallRequest,
            member_ids=UNSET if member_ids is None else member_ids,
            video=UNSET if video is None else video,
        )
        call = self._apply(await self._request("POST", "/ring", body, watch=True))
        self._rang(call, member_ids)

    async def accept(self) -> None:
        async with self._lock:
            await self._run(self._feed(m.AcceptRequested()))

    async def reject(self, reason: str = "decline") -> None:
        async with self._lock:
            await self._run(self._feed(m.RejectRequested(reason)))

    async def send_event(self, custom: dict[str, Any]) -> None:
        await self._request("POST", "/events", request_body(SendEventRequest, custom=custom))

    async def resync(self) -> None:
        """Load the call again after the event connection came back, and let the machine
        compare it with what we think (a session the server forgot makes us rejoin)."""
        try:
            answer = await self._request("GET", watch=True)
        except (NotFound, NotAllowed, CallEnded):
            async with self._lock:
                await self._run(self._feed(m.ResyncFailed()))
            return
        except ConnectionFailed as error:
            log.info("%s: could not resync: %s", self.cid, error.message)
            return
        call = self._apply(answer)
        if call is not None:
            async with self._lock:
                await self._run(self._feed(m.Resynced(call)))

    # --- carrying out the machine's commands ------------------------------------------------

    async def _send_answer(self, reason: str | None) -> None:
        if reason is None:
            answer = await self._request("POST", "/accept", request_body(AcceptCallRequest))
        else:
            body = request_body(RejectCallRequest, reason=reason)
            answer = await self._request("POST", "/reject", body)
        self._apply(answer)

    async def _accept_quietly(self) -> None:
        """Accept while joining; the ring may have just ended, and joining goes on anyway."""
        with contextlib.suppress(Conflict):
            await self._send_answer(None)

    async def _send_join(self, body: dict[str, Any], accepting: bool) -> None:
        self.media_session.expect()
        # What the call type says about devices is known already for a call we have
        # loaded (a ring): open them while the request travels.
        early_devices = (
            self.state.settings is not None and "data" not in body and ("video" not in body)
        )
        results = await asyncio.gather(
            self._request("POST", "/join", body, watch=True),
            self._accept_quietly() if accepting else asyncio.sleep(0),
            self._devices.open_defaults(self.state.settings, self._video)
            if early_devices
            else asyncio.sleep(0),
            return_exceptions=True,
        )
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            self._devices.return_opened()
            await self.media_session.close()
            self._feed(m.JoinFailed())
            raise failure
        answer = cast(dict[str, Any], results[0])
        self.media = MediaInfo.model_validate(answer["media"])
        self._devices.joined()
        commands = self._feed(m.JoinSucceeded(self.media.session_id))
        self._apply(answer)
        await self._run(commands)

    async def _send_rejoin(self, old_session_id: str | None) -> None:
        """A new participant session: every peer starts over (aiortc has no ICE restart)."""
        if old_session_id is not None:
            await self._leave_session(old_session_id)
        try:
            answer = await self._request("POST", "/join", {}, watch=True)
        except (CallEnded, NotAllowed, NotFound) as error:
            log.info("%s: cannot rejoin: %s", self.cid, error.message)
            await self._run(self._feed(m.RejoinFailed(final=True)))
            return
        except ParleyError as error:
            log.info("%s: rejoin attempt failed: %s", self.cid, error.message)
            await self._run(self._feed(m.RejoinFailed()))
            return
        self.media = MediaInfo.model_validate(answer["media"])
        self.media_session.expect()
        commands = self._feed(m.RejoinSucceeded(self.media.session_id))
        self._apply(answer)
        await self._run(commands)

    async def _leave_session(self, session_id: str) -> None:
        try:
            answer = await self._request(
                "POST", "/leave", request_body(LeaveCallRequest, session_id=session_id)
            )
        except Conflict:
            return  # gone already
        except ParleyError as error:
            log.info("%s: could not leave session %s: %s", self.cid, session_id, error.message)
            return
        self._apply(answer)

    @property
    def _video(self) -> bool:
        settings = self.state.settings
        return bool(
            self.state.call and self.state.call.video and settings and settings.video.enabled
        )

    async def _start_media(self) -> None:
        """Devices, the speaker, then the peers."""
        assert self.media is not None
        await self._devices.hold(
            self.state.settings, self._video, lambda: self._spawn(self._publish_state())
        )
        await self._publish_state()
        await self.media_session.connect(self.media, self._video)

    async def _stop_media(self) -> None:
        await self.media_session.close()
        self.media = None
        self._devices.release()

    async def _publish_state(self) -> None:
        session = self.machine.session_id
        if session is None or self.machine.calling_state is not CallingState.JOINED:
            return
        message = WsPublishMessage(
            type="participant.update",
            call_cid=self.cid,
            session_id=session,
            published=self._devices.published(),
        )
        # Offline, it is not sent: the resync after the reconnect publishes it again.
        with contextlib.suppress(ConnectionFailed):
            await self._send(message.model_dump(mode="json"))

    def _media_report(self, report: MediaReport) -> None:
        given = m.MediaConnected() if report == "connected" else m.MediaFailed()
        self._dispatch(self._feed(given))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("%s: background step failed: %s", self.cid, task.exception())

    # --- events ---------------------------------------------------------------------------------

    def handle_event(self, raw: dict[str, Any]) -> None:
        """Parse an event with the protocol's models, rebuild state from its ``call``, apply
        its own meaning, then let the machine decide what follows."""
        try:
            event = CALL_EVENT_ADAPTER.validate_python(raw)
        except pydantic.ValidationError as error:
            log.info("%s: ignoring a malformed %s event: %s", self.cid, raw.get("type"), error)
            return
        self.handle(event)

    def handle(self, event: CallEvent) -> None:
        fresh = self.state.apply_call(event.call)
        EVENT_HANDLERS[event.type](self, event)
        busy = self.context.listener.in_another_call(self)
        quiet = self.context.options.do_not_disturb
        self._dispatch(self._feed(m.EventReceived(event, busy, fresh, quiet)))
