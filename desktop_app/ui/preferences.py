"""What the app remembers between runs: the server, the user, device choices, settings.

A JSON file in the user's config directory (platformdirs; ``PARLEY_CONFIG_DIR`` moves it),
read and written through a pydantic model, so a damaged file falls back to defaults
instead of stopping the app.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class Preferences(BaseModel):
    server_mode: Literal["local", "remote"] = "local"
    server_url: str = ""
    user_id: str = ""
    name: str = ""
    token: str = ""
    #: Devices: ids chosen in the lobby, and the user's on/off (None: the call type says).
    camera_id: str | None = None
    microphone_id: str | None = None
    speaker_id: str | None = None
    camera_on: bool | None = None
    microphone_on: bool | None = None
    use_test_devices: bool = False
    #: The microphone's processing (see ``media/audio_processing.py`` for the defaults).
    echo_cancellation: bool = True
    noise_suppression: bool = True
    high_pass_filter: bool = True
    auto_gain_control: bool = False
    skip_lobby: bool = False
    theme: Literal["light", "dark", "system"] = "system"
    #: The port of the app's own server, kept across launches (its address stays valid).
    local_port: int | None = None
    #: Tokens of the accounts signed in on this computer, by ``server|user id`` (server:
    #: ``local`` or its address). Signing out keeps them, so signing in again as yourself
    #: works where open sign-up would now say the id is taken.
    accounts: dict[str, str] = {}
    #: Whether the "Parley keeps running in the tray" notice has been shown.
    tray_notice_shown: bool = False

    def account_key(self, mode: str, server_url: str, user_id: str) -> str:
        return f"{'local' if mode == 'local' else server_url}|{user_id}"

    @property
    def signed_in(self) -> bool:
        return bool(self.user_id and self.token)


def config_dir() -> Path:
    return Path(os.environ.get("PARLEY_CONFIG_DIR") or platformdirs.user_config_dir("parley"))


def preferences_path() -> Path:
    return config_dir() / "settings.json"


def load_preferences(path: Path | None = None) -> Preferences:
    path = path or preferences_path()
    try:
        return Preferences.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        return Preferences()
    except (ValueError, ValidationError) as error:
        log.warning("ignoring damaged preferences %s: %s", path, error)
        return Preferences()


def save_preferences(preferences: Preferences, path: Path | None = None) -> None:
    path = path or preferences_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    # Private from its first byte: it holds tokens (the active one and the remembered
    # accounts'), and a token is a password.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file of looser mode keeps its mode otherwise
    with os.fdopen(descriptor, "w") as file:
        file.write(preferences.model_dump_json(indent=2))
    temporary.replace(path)
