"""``VideoClient``: one signed-in user on one coordinator, and the calls it knows of."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from desktop_app.protocol.calls import QueryCallsResponse
from desktop_app.protocol.users import UserResponse, UsersResponse

from .call import Call
from .call_state import CallingState
from .connection import ConnectionState, CoordinatorConnection, ReconnectPolicy, TokenProvider
from .device_managers import InputDeviceManager, SpeakerManager
from .devices import DeviceBackend, NoDevices
from .observable import Observable
from .realtime import quiet_garbage_collector


@dataclass
class ClientOptions:
    #: Reject an incoming ring with ``busy`` while another call is joined.
    reject_call_when_busy: bool = False
    #: How the event connection retries after it drops.
    reconnect_policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    #: How a call rejoins after its media failed (a peer connection broke): a few quick
    #: tries, then ``reconnecting-failed``.
    media_reconnect_policy: ReconnectPolicy = field(
        default_factory=lambda: ReconnectPolicy(delays=(0.0, 0.5, 1.5, 3.0), max_attempts=4)
    )
    #: Send H.264 video to peers that prefer it too (VP8 otherwise).
    prefer_h264: bool = False


class ClientState:
    def __init__(self, connection: CoordinatorConnection) -> None:
        #: The calls this client knows of, oldest first (the app's call list).
        self.calls: Observable[list[Call]] = Observable([])
        self.connected_user: Observable[UserResponse | None] = connection.user
        self.connection_state: Observable[ConnectionState] = connection.state
        #: The newest call someone announced to us with ``notify`` (a "Join" prompt).
        self.notified_call: Observable[Call | None] = Observable(None)


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
    ) -> None:
        self.user = dict(user)
        self.devices: DeviceBackend = devices or NoDevices()
        self.options = options or ClientOptions()
        self.connection = CoordinatorConnection(
            base_url, self.user, token, token_provider, self.options.reconnect_policy
        )
        self.connection.listeners.append(self._on_event)
        self.connection.reconnect_listeners.append(self._on_reconnected)
        self.state = ClientState(self.connection)
        #: The lobby's devices, before any call; a call takes over their choices on join.
        self.camera = InputDeviceManager(self.devices, "camera")
        self.microphone = InputDeviceManager(self.devices, "microphone")
        self.speaker = SpeakerManager(self.devices)
        #: One Call object per cid, made on first mention (by the app or by an event), so
        #: that answers and events always reach the same object.
        self._objects: dict[str, Call] = {}
        #: The calls known to exist (the app's call list).
        self._calls: dict[str, Call] = {}

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    async def connect(self) -> UserResponse:
        answer = await self.connection.open()
        quiet_garbage_collector()
        return answer

    async def disconnect(self) -> None:
        for call in list(self._calls.values()):
            if call.state.calling_state in (CallingState.JOINED, CallingState.RECONNECTING):
                await call.leave()
        for manager in (self.camera, self.microphone, self.speaker):
            manager.close()
        for call in self._objects.values():
            for manager in (call.camera, call.microphone, call.speaker):
                manager.close()
        await self.connection.close()

    def call(self, call_type: str, call_id: str = "") -> Call:
        """The call of this type and id (the same object every time); ``""`` makes an id."""
        call_id = call_id or uuid.uuid4().hex[:16]
        cid = f"{call_type}:{call_id}"
        call = self._objects.get(cid)
        if call is None:
            call = self._objects[cid] = Call(self, call_type, call_id)
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
            call._apply(entry.model_dump(mode="json"))
            found.append(call)
        return found, answer.next

    async def query_users(
        self, *, ids: list[str] | None = None, limit: int = 100, next: str | None = None
    ) -> tuple[list[UserResponse], str | None]:
        """People on this coordinator (who have signed in), for picking whom to ring."""
        answer = UsersResponse.model_validate(
            await self.connection.request(
                "GET", "/v1/users", params={"id": ids or None, "limit": limit, "next": next}
            )
        )
        return answer.users, answer.next

    def _remember(self, call: Call) -> None:
        if call.cid not in self._calls:
            self._calls[call.cid] = call
            self.state.calls.set(list(self._calls.values()))

    def in_another_call(self, call: Call) -> bool:
        busy = (CallingState.JOINED, CallingState.RECONNECTING)
        return any(
            other is not call and other.state.calling_state in busy
            for other in self._calls.values()
        )

    def _on_event(self, event: dict[str, Any]) -> None:
        cid = event.get("call_cid")
        if not isinstance(cid, str) or ":" not in cid:
            return
        call_type, _, call_id = cid.partition(":")
        call = self.call(call_type, call_id)
        self._remember(call)
        call.handle_event(event)

    async def _on_reconnected(self, resumed: bool) -> None:
        """Resync every known call (and watch it again when the connection is new)."""
        for call in list(self._calls.values()):
            if call.state.calling_state in (CallingState.LEFT, CallingState.UNKNOWN):
                continue
            try:
                await call.get()
            except Exception:  # a call may have been deleted meanwhile
                call.state.set_calling_state(CallingState.LEFT)
