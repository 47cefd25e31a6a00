"""A call's hold on the client's devices.

The camera, microphone and speaker belong to the client (the lobby and every call use
the same managers). A call that joins turns them on as its call type says, where the user
has not chosen, holds them while it is in progress, and releases them when it is over. A
join that fails turns off only what it turned on: a lobby preview that was running goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from desktop_app.protocol.settings import CallSettings

from .device_managers import InputDeviceManager, SpeakerManager
from .errors import DeviceError
from .microphone import MicrophoneManager

log = logging.getLogger(__name__)


class CallDevices:
    def __init__(
        self,
        camera: InputDeviceManager,
        microphone: MicrophoneManager,
        speaker: SpeakerManager,
        label: str,
    ) -> None:
        self.camera = camera
        self.microphone = microphone
        self.speaker = speaker
        self._label = label
        #: From the join until the call is over.
        self._held = False
        #: Turned on by the join under way (off again if it fails).
        self._opened_by_join: list[InputDeviceManager] = []
        self._unwatch: list[Callable[[], None]] = []

    def published(self) -> dict[str, bool]:
        """What the others are told we send."""
        return {"audio": self.microphone.enabled, "video": self.camera.enabled}

    async def open_defaults(self, settings: CallSettings | None, video: bool) -> None:
        """The call type's defaults, where the user has not chosen (again after the join
        answer: it may change the call's video)."""
        for manager, default in (
            (self.microphone, bool(settings and settings.audio.mic_default_on)),
            (self.camera, video and bool(settings and settings.video.camera_default_on)),
        ):
            was_on = manager.enabled
            try:
                await manager.apply_default(default)
            except DeviceError as error:
                log.info("%s: %s", self._label, error.message)
            if manager.enabled and not was_on and manager not in self._opened_by_join:
                self._opened_by_join.append(manager)

    def joined(self) -> None:
        """The join answered: the call holds the devices from now on (its leave releases
        them, even if the call ends before its media starts)."""
        self._held = True
        self._opened_by_join.clear()

    def return_opened(self) -> None:
        """The join failed: what it turned on goes off again."""
        for manager in self._opened_by_join:
            manager.release()
        self._opened_by_join.clear()

    async def hold(
        self, settings: CallSettings | None, video: bool, on_toggle: Callable[[], None]
    ) -> None:
        """The call is in progress: devices on, the speaker playing, a muted microphone
        heard for speech (``speaking_while_muted``; never sent) in calls whose type turns
        the microphone on, and every toggle of the camera or microphone reported through
        ``on_toggle``."""
        self._held = True
        await self.open_defaults(settings, video)
        self._opened_by_join.clear()
        try:
            await self.speaker.start()
        except DeviceError as error:
            log.info("%s: %s", self._label, error.message)
        # "You are muted" where people talk (the microphone starts on): not for a
        # livestream's or an audio room's listeners, who join muted and may never speak.
        if settings is None or settings.audio.mic_default_on:
            await self.microphone.listen_while_muted(True)
        if not self._unwatch:
            for manager in (self.camera, self.microphone):
                self._unwatch.append(manager.status.subscribe(lambda _: on_toggle()))

    def release(self) -> None:
        """The call is over: devices off and the speaker quiet (if this call held them)."""
        for unwatch in self._unwatch:
            unwatch()
        self._unwatch.clear()
        if self._held:
            self._held = False
            self.camera.release()
            self.microphone.release()
            self.speaker.stop()
