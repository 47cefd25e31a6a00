"""Call settings: what a call type sets, what a call may override, and their merge.

A call type holds complete ``CallSettings``; a call may carry a ``CallSettingsOverride``
in which every field is optional. The effective settings of a call are the type's settings
with the override laid over them, section by section (:func:`merge_settings`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RING_TIMEOUT_MIN_MS = 5_000
RING_TIMEOUT_MAX_MS = 180_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AudioSettings(_Section):
    mic_default_on: bool = True
    speaker_default_on: bool = True
    default_device: Literal["speaker", "earpiece"] = "speaker"


class VideoSettings(_Section):
    enabled: bool = True
    camera_default_on: bool = True
    target_width: int = Field(default=640, ge=16, le=3840)
    target_height: int = Field(default=480, ge=16, le=2160)


class BackstageSettings(_Section):
    enabled: bool = False
    join_ahead_time_seconds: int = Field(default=0, ge=0, le=86_400)


class RingSettings(_Section):
    """Ring timeouts, enforced by the coordinator (milliseconds, 5–180 s)."""

    auto_cancel_timeout_ms: int = Field(
        default=15_000, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )
    incoming_call_timeout_ms: int = Field(
        default=15_000, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )
    missed_call_timeout_ms: int = Field(
        default=15_000, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )


class LimitsSettings(_Section):
    """``None`` means no limit."""

    max_participants: int | None = Field(default=None, ge=1, le=10_000)
    max_duration_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)


class ScreensharingSettings(_Section):
    enabled: bool = True


class CallSettings(_Section):
    audio: AudioSettings = Field(default_factory=AudioSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    backstage: BackstageSettings = Field(default_factory=BackstageSettings)
    ring: RingSettings = Field(default_factory=RingSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    screensharing: ScreensharingSettings = Field(default_factory=ScreensharingSettings)


class AudioSettingsOverride(_Section):
    mic_default_on: bool | None = None
    speaker_default_on: bool | None = None
    default_device: Literal["speaker", "earpiece"] | None = None


class VideoSettingsOverride(_Section):
    enabled: bool | None = None
    camera_default_on: bool | None = None
    target_width: int | None = Field(default=None, ge=16, le=3840)
    target_height: int | None = Field(default=None, ge=16, le=2160)


class BackstageSettingsOverride(_Section):
    enabled: bool | None = None
    join_ahead_time_seconds: int | None = Field(default=None, ge=0, le=86_400)


class RingSettingsOverride(_Section):
    auto_cancel_timeout_ms: int | None = Field(
        default=None, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )
    incoming_call_timeout_ms: int | None = Field(
        default=None, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )
    missed_call_timeout_ms: int | None = Field(
        default=None, ge=RING_TIMEOUT_MIN_MS, le=RING_TIMEOUT_MAX_MS
    )


class LimitsSettingsOverride(_Section):
    max_participants: int | None = Field(default=None, ge=1, le=10_000)
    max_duration_seconds: int | None = Field(default=None, ge=1, le=7 * 86_400)


class ScreensharingSettingsOverride(_Section):
    enabled: bool | None = None


class CallSettingsOverride(_Section):
    """Per-call changes to the call type's settings; omitted fields keep the type's value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"limits": {"max_participants": 4}}]},
    )

    audio: AudioSettingsOverride | None = None
    video: VideoSettingsOverride | None = None
    backstage: BackstageSettingsOverride | None = None
    ring: RingSettingsOverride | None = None
    limits: LimitsSettingsOverride | None = None
    screensharing: ScreensharingSettingsOverride | None = None


def merge_settings(base: CallSettings, override: CallSettingsOverride | None) -> CallSettings:
    """Lay ``override`` over ``base``; a field set in the override wins, ``None`` keeps base.

    Limits are the exception to "``None`` keeps base": there ``None`` is a value (no limit),
    so only fields the override actually sets are applied (``exclude_unset``).
    """
    if override is None:
        return base
    merged = base.model_dump()
    for section, patch in override.model_dump(exclude_unset=True).items():
        if patch is None:
            continue
        for key, value in patch.items():
            if value is None and section != "limits":
                continue
            merged[section][key] = value
    return CallSettings.model_validate(merged)


def combine_overrides(
    old: CallSettingsOverride | None, new: CallSettingsOverride
) -> CallSettingsOverride:
    """An update's override adds to (and wins over) the override a call already has."""
    combined = old.model_dump(exclude_unset=True) if old is not None else {}
    for section, patch in new.model_dump(exclude_unset=True).items():
        if patch is None:
            continue
        combined.setdefault(section, {})
        if combined[section] is None:
            combined[section] = {}
        combined[section].update(patch)
    return CallSettingsOverride.model_validate(combined)
