"""The signed-in user, for the views: signing in (to this computer's own server or to a
served one), the ``VideoClient``, and the rings and notifications that reach it, re-emitted
as Qt signals. Calls themselves are the SDK's; nothing here decides what a call does."""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pydantic
from PySide6.QtCore import QObject, Signal

from desktop_app.protocol.app import HealthResponse
from desktop_app.protocol.ids import ID_PATTERN
from desktop_app.sdk import AudioProcessingSettings, Call, ClientOptions, ParleyError, VideoClient
from desktop_app.sdk.errors import ConnectionFailed, InvalidInput, NotAllowed, Unauthenticated

from .local_server import ECHO_USER, LocalServer, LocalServerError
from .preferences import Preferences, save_preferences

log = logging.getLogger(__name__)


class SignInProblem(ParleyError):
    """Something the person typed (or the server's sign-up) is not right."""


def server_address(text: str) -> str:
    """What a person typed as a server's address, as a base URL. Without a scheme,
    ``http://`` for this computer or an IP address (a server on the LAN, a test),
    ``https://`` for a host name, with or without a port (a server on the internet: a
    token must not travel in the clear)."""
    text = text.strip().rstrip("/")
    if not text or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text):
        return text
    try:
        host = urlsplit(f"//{text}").hostname or ""
    except ValueError:
        host = ""
    try:
        literal = bool(ipaddress.ip_address(host))
    except ValueError:
        literal = False
    plain = host == "localhost" or literal
    return ("http://" if plain else "https://") + text


async def check_server(base_url: str) -> None:
    """That a Parley coordinator answers at ``base_url`` (its health answer says so)."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            response = await http.get("/healthz")
    except (httpx.HTTPError, ValueError):
        raise ConnectionFailed(f"The server at {base_url} can't be reached.") from None
    try:
        answer = response.json()
        parley = (
            response.status_code == 200
            and isinstance(answer, dict)
            and answer.get("service") == "parley"  # said, not a default filled in
            and HealthResponse.model_validate(answer) is not None
        )
    except (ValueError, pydantic.ValidationError):
        parley = False
    if not parley:
        raise SignInProblem(
            f"{base_url} is not a Parley server. Check the address with the server's administrator."
        )


async def sign_up(base_url: str, user_id: str, name: str) -> str:
    """A user token from the server's open sign-up."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            response = await http.post("/v1/auth/sign-up", json={"user_id": user_id, "name": name})
    except httpx.HTTPError:
        raise ConnectionFailed(f"The server at {base_url} can't be reached.") from None
    if response.status_code in (200, 201):
        return str(response.json()["token"])
    try:
        detail = str(response.json().get("detail") or "")
    except (ValueError, AttributeError):
        detail = ""
    raise SignInProblem(detail or "This server does not let people sign up by themselves.")


class Session(QObject):
    signed_in = Signal()
    signed_out = Signal()
    #: A call is ringing us (the incoming popup shows it).
    incoming_ring = Signal(object)
    #: Someone announced a call to us with ``notify`` ("Join" notification).
    notified = Signal(object)
    #: A ring of this call ended here unanswered (the missed-call notice).
    missed = Signal(object)
    #: The people on the server and their presence changed (``{user id: user}``).
    people_changed = Signal(dict)
    connection_changed = Signal(str)
    #: The app's own server: "down" (it died; restarting), "up" (running again).
    local_server_changed = Signal(str)

    def __init__(
        self,
        preferences: Preferences,
        devices: Any,
        *,
        data_dir: Path | None = None,
        persist: bool = True,
        local_server: LocalServer | None = None,
    ) -> None:
        super().__init__()
        self.preferences = preferences
        self.devices = devices
        self.data_dir = data_dir
        self.persist = persist
        self.local: LocalServer | None = local_server
        self.echo_ready = False
        #: Do not disturb (the tray's switch): kept here, so every sign-in's client has it.
        self.do_not_disturb = False
        self.client: VideoClient | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def is_local(self) -> bool:
        return self.preferences.server_mode == "local"

    @property
    def base_url(self) -> str:
        """The address of the server we are signed in to ("" when signed out)."""
        if self.client is None:
            return ""
        if self.is_local and self.local is not None:
            return self.local.base_url
        return self.preferences.server_url

    @property
    def server_label(self) -> str:
        if self.is_local:
            return "This computer"
        return self.preferences.server_url

    def save(self) -> None:
        if self.persist:
            save_preferences(self.preferences)

    def set_do_not_disturb(self, on: bool) -> None:
        self.do_not_disturb = on
        if self.client is not None:
            self.client.options.do_not_disturb = on

    @property
    def audio_processing(self) -> AudioProcessingSettings:
        prefs = self.preferences
        return AudioProcessingSettings(
            echo_cancellation=prefs.echo_cancellation,
            noise_suppression=prefs.noise_suppression,
            high_pass_filter=prefs.high_pass_filter,
            auto_gain_control=prefs.auto_gain_control,
        )

    def set_audio_processing(self, part: str, on: bool) -> None:
        """Switch one part of the microphone's processing (remembered; a call in progress
        hears the change at once)."""
        if part not in AudioProcessingSettings.__dataclass_fields__:
            raise ValueError(f"no audio processing part {part!r}")
        self.preferences = self.preferences.model_copy(update={part: on})
        self.save()
        if self.client is not None:
            self.client.audio_processing.configure(self.audio_processing)

    def use_test_devices(self, on: bool) -> None:
        """Synthetic devices instead of this computer's (remembered), or back again."""
        self.preferences.use_test_devices = on
        self.save()
        switch = getattr(self.devices, "switch", None)
        if switch is not None:
            switch(on)

    # --- signing in and out -------------------------------------------------------------

    async def start_local_server(self) -> LocalServer:
        if self.local is None:
            local = LocalServer(self.data_dir, self.preferences.local_port)
            try:
                try:
                    await local.start()
                except LocalServerError:
                    if local.moved_from is not None:
                        raise
                    local.move_to_free_port()  # the remembered port failed after all
                    await local.start()
            except LocalServerError as error:
                await local.stop()
                raise SignInProblem(
                    f"Parley could not start its server on this computer. {error}"
                ) from None
            self.local = local
            if self.preferences.local_port != local.port:
                self.preferences.local_port = local.port
                self.save()
            local.keep_alive(
                lambda: self.local_server_changed.emit("down"),
                lambda: self.local_server_changed.emit("up"),
            )
            try:
                await local.start_echo_bot()
                self.echo_ready = True
            except (LocalServerError, TimeoutError, OSError) as error:
                log.warning("no echo bot: %s", error)
        return self.local

    async def sign_in(
        self, mode: str, server_url: str, user_id: str, name: str, token: str = ""
    ) -> None:
        user_id, name, server_url, token = (
            user_id.strip(),
            name.strip(),
            server_url.strip().rstrip("/"),
            token.strip(),
        )
        if not re.match(ID_PATTERN, user_id):
            raise SignInProblem("A user id is 1 to 64 letters, digits, '-' or '_' (no spaces).")
        name = name or user_id
        key = self.preferences.account_key(mode, server_address(server_url), user_id)
        remembered = self.preferences.accounts.get(key, "") or self._signed_in_token(
            mode, server_address(server_url), user_id
        )
        typed = bool(token)
        if mode == "local":
            local = await self.start_local_server()
            base_url = local.base_url
            if not remembered and self._last_local_user(user_id):
                # The last person signed in on this computer's own server, whose token
                # an earlier version forgot at sign-out: theirs again. Anyone else's id
                # stays theirs (sign-up answers "taken").
                remembered = await local.token(user_id)
        else:
            server_url = server_address(server_url)
            if not server_url:
                raise SignInProblem("Type the address of the server, like parley.example.org.")
            base_url = server_url
            await check_server(base_url)
        token = token or remembered or await sign_up(base_url, user_id, name)
        try:
            client = await self._connect(user_id, name, base_url, token)
        except Unauthenticated:
            if typed or not remembered:
                raise
            # A remembered token the server no longer takes (its data was reset): forget
            # it and sign up again, once.
            accounts = {k: v for k, v in self.preferences.accounts.items() if k != key}
            self.preferences = self.preferences.model_copy(update={"accounts": accounts})
            self.save()
            token = await sign_up(base_url, user_id, name)
            client = await self._connect(user_id, name, base_url, token)
        self.client = client
        self.preferences = self.preferences.model_copy(
            update={
                "server_mode": mode,
                "server_url": server_url if mode == "remote" else self.preferences.server_url,
                "user_id": user_id,
                "name": name,
                "token": token,
                "accounts": {**self.preferences.accounts, key: token},
            }
        )
        self.save()
        self._bind(client)
        self.signed_in.emit()

    async def _connect(self, user_id: str, name: str, base_url: str, token: str) -> VideoClient:
        client = VideoClient(
            {"id": user_id, "name": name},
            token=token,
            base_url=base_url,
            devices=self.devices,
            options=ClientOptions(
                reject_call_when_busy=False,
                do_not_disturb=self.do_not_disturb,
                audio_processing=self.audio_processing,
            ),
        )
        try:
            await client.connect()
        except ParleyError:
            await client.disconnect()
            raise
        return client

    def _last_local_user(self, user_id: str) -> bool:
        prefs = self.preferences
        return prefs.server_mode == "local" and prefs.user_id == user_id

    def _signed_in_token(self, mode: str, server_url: str, user_id: str) -> str:
        """The token of the current sign-in, if it is this account (settings saved before
        accounts were remembered)."""
        prefs = self.preferences
        same = prefs.server_mode == mode and (mode == "local" or prefs.server_url == server_url)
        return prefs.token if same and prefs.user_id == user_id else ""

    async def sign_out(self) -> None:
        """Stop being reachable here: disconnect, and forget the active sign-in (the
        account's token stays remembered, so signing in again as yourself works)."""
        await self._drop_client()
        self.preferences = self.preferences.model_copy(update={"token": ""})
        self.save()
        self.signed_out.emit()

    async def shutdown(self) -> None:
        await self._drop_client()
        if self.local is not None:
            await self.local.stop()
            self.local = None

    async def _drop_client(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self.client is not None:
            client, self.client = self.client, None
            await client.disconnect()

    # --- what reaches the client ------------------------------------------------------------

    def _bind(self, client: VideoClient) -> None:
        self._unsubscribe.append(client.state.incoming_call.subscribe(self._ringing, now=True))
        self._unsubscribe.append(client.state.notified_call.subscribe(self._notified))
        self._unsubscribe.append(client.state.missed_call.subscribe(self._missed))
        self._unsubscribe.append(
            client.state.people.subscribe(lambda people: self.people_changed.emit(dict(people)))
        )
        self._unsubscribe.append(
            client.state.connection_state.subscribe(
                lambda state: self.connection_changed.emit(str(state.value))
            )
        )

    def _ringing(self, call: Call | None) -> None:
        if call is not None:
            self.incoming_ring.emit(call)

    def _missed(self, call: Call | None) -> None:
        if call is not None:
            self.missed.emit(call)

    def _notified(self, call: Call | None) -> None:
        if call is not None:
            self.notified.emit(call)

    # --- starting calls ---------------------------------------------------------------------

    def new_call(self) -> Call:
        assert self.client is not None
        return self.client.call("default", "")

    async def ring(self, call: Call, user_ids: list[str], video: bool) -> None:
        assert self.client is not None
        me = self.client.user_id
        members = [{"user_id": me}] + [{"user_id": u} for u in user_ids if u != me]
        if len(members) < 2:
            raise InvalidInput("Pick at least one person to ring.", "invalid_input", 400)
        await call.get_or_create(data={"members": members, "video": video}, ring=True, video=video)

    async def ring_echo(self, call: Call) -> None:
        if not (self.is_local and self.echo_ready):
            raise NotAllowed("The echo test needs the server on this computer.", "not_allowed", 403)
        await self.ring(call, [ECHO_USER], video=True)

    def call_by_id(self, text: str) -> Call:
        """``type:id`` or a bare id (of the default type)."""
        assert self.client is not None
        text = text.strip()
        call_type, _, call_id = text.rpartition(":")
        call_type = call_type or "default"
        if not (re.match(ID_PATTERN, call_type) and re.match(ID_PATTERN, call_id)):
            longest = max(len(call_type), len(call_id))
            if longest > 64 and re.match(r"^[A-Za-z0-9_-]+$", call_type + call_id):
                raise SignInProblem(f"A call id is at most 64 characters (this one has {longest}).")
            raise SignInProblem("A call id is letters, digits, '-' or '_' (like standup-42).")
        return self.client.call(call_type, call_id)
