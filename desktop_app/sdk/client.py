"""``VideoClient``: one signed-in user on one coordinator, and the calls it knows of."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
import pydantic

from desktop_app.media.audio_processing import AudioProcessor
from desktop_app.protocol.calls import QueryCallsResponse
from desktop_app.protocol.events import UserPresenceChangedEvent
from desktop_app.protocol.users import UserPresenceResponse, UserResponse, UsersResponse

from .call import Call
from .call_context import CallContext
from .call_state import CallingState
from .connection import ConnectionState, CoordinatorConnection, TokenProvider
from .device_managers import InputDeviceManager, SpeakerManager
from .devices import DeviceBackend, NoDevices
from .microphone import MicrophoneManager
from .observable import Observable
from .options import ClientOptions
from .realtime import quiet_garbage_collector

__all__ = ["ClientOptions", "ClientState", "VideoClient"]

log = logging.getLogger(__name__)


class ClientState:
    def __init__(self, connection: CoordinatorConnection) -> None:
        #: The calls this client knows of, oldest first (the app's call list).
        self.calls: Observable[list[Call]] = Observable([])
        self.connected_user: Observable[UserResponse | None] = connection.user
        self.connection_state: Observable[ConnectionState] = connection.state
        #: The newest call someone announced to us with ``notify`` (a "Join" prompt).
        self.notified_call: Observable[Call | None] = Observable(None)
        #: The call ringing this device now (the incoming popup), if any: who rang and
        #: with audio or video are in its ``ring``.
        self.incoming_call: Observable[Call | None] = Observable(None)
        #: People on the server by id, with whether each is online: filled by
        #: ``query_users`` and kept current by presence events (the people list binds here).
        self.people: Observable[dict[str, UserPresenceResponse]] = Observable({})
        #: The newest call whose ring we missed (it stopped ringing with no answer of ours).
        self.missed_call: Observable[Call | None] = Observable(None)


class VideoClient:
    def __init__(
        self,
        user: dict[str, Any],
        token: str | None = None,
        base_url: str = "http://127.0.0.1:3000",
        *,
        token_provider: TokenProvider | None = None,
        options: ClientOptions | None = None,
        devices: DeviceBackend | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.user = dict(user)
        self.devices: DeviceBackend = devices or NoDevices()
        self.options = options or ClientOptions()
        self.connection = CoordinatorConnection(
            base_url,
            self.user,
            token,
            token_provider,
            self.options.reconnect_policy,
            transport=transport,
        )
        self.connection.listeners.append(self._on_event)
        self.connection.reconnect_listeners.append(self._on_reconnected)
        self.state = ClientState(self.connection)
        #: The devices, in the lobby and in every call (``call.camera is client.camera``).
        self.camera = InputDeviceManager(self.devices, "camera")
        #: Echo cancellation, noise suppression and gain for the microphone, with what
        #: the speaker plays as the echo's reference.
        self.audio_processing = AudioProcessor(self.options.audio_processing)
        self.microphone = MicrophoneManager(self.devices, self.audio_processing)
        self.speaker = SpeakerManager(self.devices)
        self.speaker.mixer.on_mix = self.audio_processing.render
        self.audio_processing.render_latency = self.speaker.output_latency_ms
        #: One Call object per cid, made on first mention (by the app or by an event), so
        #: that answers and events always reach the same object.
        self._objects: dict[str, Call] = {}
        #: The calls known to exist (the app's call list).
        self._calls: dict[str, Call] = {}
        self._people_reload: asyncio.Future[None] | None = None

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    async def connect(self) -> UserResponse:
        answer = await self.connection.open()
        quiet_garbage_collector()
        return answer

    async def disconnect(self) -> None:
        if self._people_reload is not None:
            self._people_reload.cancel()
        for call in list(self._calls.values()):
            if call.state.calling_state in (CallingState.JOINED, CallingState.RECONNECTING):
                await call.leave()
        for call in list(self._objects.values()):
            await call.close()
        for manager in (self.camera, self.microphone, self.speaker):
            manager.close()
        await self.connection.close()

    def call(self, call_type: str, call_id: str = "") -> Call:
        """The call of this type and id (the same object every time); ``""`` makes an id."""
        call_id = call_id or uuid.uuid4().hex[:16]
        cid = f"{call_type}:{call_id}"
        call = self._objects.get(cid)
        if call is None:
            context = CallContext(
                self.connection,
                self.user_id,
                self.options,
                self.camera,
                self.microphone,
                self.speaker,
                self,
            )
            call = self._objects[cid] = Call(context, call_type, call_id)
        return call

    async def query_calls(
        self,
        *,
        filter: dict[str, Any] | None = None,
        sort: list[dict[str, Any]] | None = None,
        limit: int = 25,
        next: str | None = None,
        watch: bool = False,
    ) -> tuple[list[Call], str | None]:
        """Calls we created or are a member of (newest first unless ``sort`` says), as the
        same Call objects the rest of the client uses; and the cursor of the next page."""
        body: dict[str, Any] = {
            "filter": filter or {},
            "sort": sort or [{"field": "created_at", "direction": -1}],
            "limit": limit,
            "watch": watch,
        }
        if next is not None:
            body["next"] = next
        params = {"connection_id": self.connection.connection_id} if watch else None
        answer = QueryCallsResponse.model_validate(
            await self.connection.request("POST", "/v1/calls/query", json_body=body, params=params)
        )
        found = []
        for entry in answer.calls:
            call = self.call(entry.call.type, entry.call.id)
            call._apply(entry.model_dump(mode="json"))  # the same answer a get would give
            found.append(call)
        return found, answer.next

    async def query_users(
        self, *, ids: list[str] | None = None, limit: int = 100, next: str | None = None
    ) -> tuple[list[UserPresenceResponse], str | None]:
        """People on this coordinator (who have signed in) and whether each is online, for
        picking whom to ring (they also update ``state.people``)."""
        answer = UsersResponse.model_validate(
            await self.connection.request(
                "GET", "/v1/users", params={"id": ids or None, "limit": limit, "next": next}
            )
        )
        self._know_people(answer.users)
        return answer.users, answer.next

    def _know_people(self, users: list[UserPresenceResponse]) -> None:
        people = dict(self.state.people.value)
        people.update((u.id, u) for u in users if u.id != self.user_id)
        self.state.people.set(people)

    # --- what calls tell the client (``CallListener``) -----------------------------------

    def call_known(self, call: Call) -> None:
        if call.cid not in self._calls:
            self._calls[call.cid] = call
            self.state.calls.set(list(self._calls.values()))

    def ring_changed(self, call: Call) -> None:
        current = self.state.incoming_call.value
        if call.is_ringing_me:
            if current is not call:
                self.state.incoming_call.set(call)
        elif current is call:
            others = [c for c in self._calls.values() if c.is_ringing_me]
            self.state.incoming_call.set(others[-1] if others else None)

    def ring_missed(self, call: Call) -> None:
        self.state.missed_call.set(None)  # the same call may be missed twice
        self.state.missed_call.set(call)

    def notified(self, call: Call) -> None:
        self.state.notified_call.set(None)  # the same call may be announced again
        self.state.notified_call.set(call)

    def in_another_call(self, call: Call) -> bool:
        busy = (CallingState.JOINED, CallingState.RECONNECTING)
        return any(
            other is not call and other.state.calling_state in busy
            for other in self._calls.values()
        )

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "user.presence_changed":
            try:
                changed = UserPresenceChangedEvent.model_validate(event)
            except pydantic.ValidationError:
                log.warning("ignoring a malformed presence event")
                return
            self._know_people([changed.user])
            return
        cid = event.get("call_cid")
        if not isinstance(cid, str) or ":" not in cid:
            return
        call_type, _, call_id = cid.partition(":")
        call = self.call(call_type, call_id)
        self.call_known(call)
        call.handle_event(event)

    async def _on_reconnected(self, resumed: bool) -> None:
        """Resync every call we are in or being rung by: rebuild its state from the server
        (and watch it again when the connection is new); the machine rejoins a call whose
        participant session the server forgot. Presence changed unseen meanwhile: the
        people we know are loaded again, after the calls and beside them."""
        for call in list(self._calls.values()):
            if call.state.calling_state in (CallingState.LEFT, CallingState.UNKNOWN):
                continue
            try:
                await call.resync()
            except Exception:
                log.exception("%s: resync failed", call.cid)
        if self.state.people.value:
            self._people_reload = asyncio.ensure_future(self._reload_people())

    async def _reload_people(self) -> None:
        try:
            await self.query_users()
        except Exception:
            log.exception("reloading people failed")
