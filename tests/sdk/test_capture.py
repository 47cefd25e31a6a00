"""The PyAV capture backend on this machine's real ALSA library (its ``null`` device stands
in for a sound card: no card or camera can be faked here) and its device listing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest

from desktop_app.sdk.capture import CaptureDevices, _linux_alsa, _linux_cameras
from desktop_app.sdk.device_managers import InputDeviceManager, SpeakerManager
from desktop_app.sdk.devices import Device
from desktop_app.sdk.errors import DeviceError

pytestmark = pytest.mark.skipif(
    not Path("/usr/share/alsa/alsa.conf").exists(), reason="needs Debian's ALSA configuration"
)


async def test_an_alsa_microphone_delivers_20_ms_frames_at_48_khz() -> None:
    devices = CaptureDevices()
    microphone = await devices.open_microphone("null")
    try:
        frames = [await asyncio.wait_for(microphone.recv(), 5) for _ in range(3)]
    finally:
        microphone.stop()
    assert all(isinstance(f, av.AudioFrame) for f in frames)
    assert {(f.sample_rate, f.samples, f.format.name) for f in frames} == {(48000, 960, "s16")}
    assert [f.pts for f in frames] == [0, 960, 1920]


async def test_a_speaker_plays_the_mix_on_an_alsa_device() -> None:
    manager = SpeakerManager(CaptureDevices())
    manager.selected.set(Device("null", "ALSA null", "speaker"))
    await manager.start()
    assert manager.playing
    await manager.play_test_sound(0.2)
    await asyncio.sleep(0.3)
    assert manager.mixer.buffered_seconds("test-sound") == 0.0, "the device took the sound"
    manager.close()
    assert not manager.playing


async def test_missing_devices_are_sentences() -> None:
    devices = CaptureDevices()
    with pytest.raises(DeviceError, match="is not connected"):
        await devices.open_camera("/dev/video-none")
    with pytest.raises(DeviceError, match="could not be opened"):
        await devices.open_microphone("hw:9,0")
    manager = InputDeviceManager(devices, "camera")
    if not manager.list_devices():
        with pytest.raises(DeviceError, match="There is no camera to use"):
            await manager.enable()
    manager.close()


def test_devices_are_listed_from_the_system(tmp_path: Path) -> None:
    pcm = tmp_path / "pcm"
    pcm.write_text(
        "00-00: ALC3246 Analog : ALC3246 Analog : playback 1 : capture 1\n"
        "00-03: HDMI 0 : HDMI 0 : playback 1\n"
        "01-00: USB Audio : USB Audio : capture 1\n"
    )
    microphones = _linux_alsa("microphone", pcm)
    speakers = _linux_alsa("speaker", pcm)
    assert [d.id for d in microphones] == ["default", "hw:0,0", "hw:1,0"]
    assert [d.id for d in speakers] == ["default", "hw:0,0", "hw:0,3"]
    assert microphones[0].is_default and not microphones[1].is_default
    assert speakers[2].label == "HDMI 0"

    sysfs = tmp_path / "video4linux"
    for node, name, index in (
        ("video0", "Integrated Camera", "0"),
        ("video1", "Integrated Camera", "1"),
        ("video2", "USB Cam", "0"),
    ):
        (sysfs / node).mkdir(parents=True)
        (sysfs / node / "name").write_text(name + "\n")
        (sysfs / node / "index").write_text(index + "\n")
    cameras = _linux_cameras(sysfs)
    assert [(c.id, c.label, c.is_default) for c in cameras] == [
        ("/dev/video0", "Integrated Camera", True),
        ("/dev/video2", "USB Cam", False),
    ]
