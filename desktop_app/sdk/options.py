"""How a client behaves: the options a ``VideoClient`` and its calls share."""

from __future__ import annotations

from dataclasses import dataclass, field

from desktop_app.media.audio_processing import AudioProcessingSettings

from .connection import ReconnectPolicy


@dataclass
class ClientOptions:
    #: Reject an incoming ring with ``busy`` while another call is joined.
    reject_call_when_busy: bool = False
    #: Do not disturb: refuse every incoming ring at once with ``busy`` (each counts as a
    #: missed call here). May be switched at any time.
    do_not_disturb: bool = False
    #: How the event connection retries after it drops.
    reconnect_policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    #: How a call rejoins after its media failed (a peer connection broke): a few quick
    #: tries, then ``reconnecting-failed``.
    media_reconnect_policy: ReconnectPolicy = field(
        default_factory=lambda: ReconnectPolicy(delays=(0.0, 0.5, 1.5, 3.0), max_attempts=4)
    )
    #: Send H.264 video to peers that prefer it too (VP8 otherwise).
    prefer_h264: bool = False
    #: Which parts of the microphone's processing run at first (all of them);
    #: ``client.audio_processing.configure`` switches them later.
    audio_processing: AudioProcessingSettings = field(default_factory=AudioProcessingSettings)
