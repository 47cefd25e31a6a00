"""Device managers on the synthetic backend: what a lobby does before any call, hot-plug
with fallback to the default device, and the speaker."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest

from desktop_app.media.synthetic import dominant_frequency, read_frame_counter
from desktop_app.sdk.device_managers import DeviceStatus, InputDeviceManager, SpeakerManager
from desktop_app.sdk.devices import Device, NoDevices, SyntheticDevices
from desktop_app.sdk.errors import DeviceError
from tests.sdk.support import eventually


async def _frame_numbers(track, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [read_frame_counter(await asyncio.wait_for(track.recv(), 3)) for _ in range(count)]


async def test_a_lobby_preview_shows_the_camera_and_turning_it_off_stops_frames() -> None:
    devices = SyntheticDevices()
    camera = InputDeviceManager(devices, "camera")
    assert [d.id for d in camera.list_devices()] == ["synthetic-camera"]
    preview = camera.subscribe()
    await camera.enable()
    assert camera.status.value is DeviceStatus.ENABLED and camera.chosen is True
    assert camera.selected.value is not None and camera.selected.value.id == "synthetic-camera"
    numbers = await _frame_numbers(preview, 3)
    assert numbers[-1] > numbers[0]
    await camera.disable()
    with contextlib.suppress(TimeoutError):  # at most the one frame in flight
        await asyncio.wait_for(preview.recv(), 0.1)
    waiting = asyncio.ensure_future(preview.recv())
    await asyncio.sleep(0.3)
    assert not waiting.done(), "no frames while off"
    waiting.cancel()
    camera.close()


async def test_the_call_type_default_applies_only_until_the_user_chooses() -> None:
    microphone = InputDeviceManager(SyntheticDevices(), "microphone")
    await microphone.apply_default(True)
    assert microphone.enabled and microphone.chosen is None
    await microphone.disable()
    await microphone.apply_default(True)
    assert not microphone.enabled, "the user said off"
    microphone.release()
    assert microphone.chosen is False, "releasing forgets the device, not the choice"
    microphone.close()


async def test_selecting_and_errors_are_sentences() -> None:
    devices = SyntheticDevices()
    devices.plug(Device("usb-mic", "USB headset", "microphone"), tone_hz=700)
    microphone = InputDeviceManager(devices, "microphone")
    with pytest.raises(DeviceError, match="There is no microphone 'nope'"):
        await microphone.select("nope")
    await microphone.select("usb-mic")
    await microphone.enable()
    branch = microphone.subscribe()
    frames = [await asyncio.wait_for(branch.recv(), 2) for _ in range(25)]
    samples = np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(float)
    assert abs(dominant_frequency(samples, 48000) - 700) < 10, "the selected device is heard"
    microphone.close()

    nothing = InputDeviceManager(NoDevices(), "camera")
    with pytest.raises(DeviceError, match="There is no camera to use"):
        await nothing.enable()
    assert not nothing.enabled


async def test_unplugging_falls_back_to_the_default_and_a_returning_device_is_used() -> None:
    devices = SyntheticDevices()
    devices.plug(Device("usb-cam", "USB camera", "camera"))
    camera = InputDeviceManager(devices, "camera")
    preview = camera.subscribe()
    await camera.select("usb-cam")
    await camera.enable()
    await _frame_numbers(preview, 2)

    devices.unplug("usb-cam")
    await eventually(
        lambda: (
            camera.selected.value is not None and camera.selected.value.id == "synthetic-camera"
        ),
        what="fallback to the default camera",
    )
    assert camera.enabled
    assert [d.id for d in camera.devices.value] == ["synthetic-camera"]
    assert len(await _frame_numbers(preview, 2)) == 2, "frames go on from the fallback"

    devices.unplug("synthetic-camera")  # nothing left
    await eventually(lambda: not camera.enabled, what="off with no camera")
    assert camera.chosen is True, "still wanted"
    devices.plug(Device("usb-cam", "USB camera", "camera"))
    await eventually(lambda: camera.enabled, what="back on when a camera returns")
    assert len(await _frame_numbers(preview, 2)) == 2
    camera.close()


async def test_the_speaker_plays_a_test_sound_and_mute_silences_it() -> None:
    devices = SyntheticDevices()
    speaker = SpeakerManager(devices)
    await speaker.play_test_sound(seconds=0.6, frequency=523.25)
    output = devices.speakers[-1]
    await eventually(lambda: output.frames_played >= 20, what="sound played")
    assert abs(dominant_frequency(output.heard(0.3), output.rate) - 523.25) < 10
    await eventually(lambda: output.closed, timeout=3, what="the test sound stops its output")
    assert not speaker.playing

    await speaker.start()
    await speaker.disable()
    await speaker.play_test_sound(seconds=0.4)
    output = devices.speakers[-1]
    await eventually(lambda: output.frames_played >= 15, what="frames")
    assert not output.heard(0.2).any(), "muted: silence"
    await speaker.set_volume(2.0)
    assert speaker.volume.value == 1.0
    speaker.close()


async def test_the_speaker_follows_its_device_out_and_back() -> None:
    devices = SyntheticDevices()
    devices.plug(Device("headset", "Headset", "speaker"))
    speaker = SpeakerManager(devices)
    await speaker.select("headset")
    await speaker.start()
    assert devices.speakers[-1].device_id == "headset"
    devices.unplug("headset")
    await eventually(
        lambda: speaker.playing and devices.speakers[-1].device_id == "synthetic-speaker",
        what="the default speaker takes over",
    )
    speaker.close()
