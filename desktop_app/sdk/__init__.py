"""The Parley SDK: a headless client of the coordinator (no Qt here, ever).

client = VideoClient(user={"id": "alice"}, token=token, base_url="http://127.0.0.1:3000")
await client.connect()
call = client.call("default", "standup")
await call.get_or_create(data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True)
"""

from desktop_app.media.audio_processing import AudioProcessingSettings

from .call import Call
from .call_state import CallingState, CallState, Participant
from .client import ClientOptions, VideoClient
from .connection import ConnectionState, ReconnectPolicy
from .errors import (
    ApiError,
    Backstage,
    CallEnded,
    CallFull,
    CallStateError,
    Conflict,
    ConnectionFailed,
    InvalidInput,
    NotAllowed,
    NotFound,
    ParleyError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    TokenExpired,
    Unauthenticated,
)
from .observable import Observable

__all__ = [
    "ApiError",
    "AudioProcessingSettings",
    "Backstage",
    "Call",
    "CallEnded",
    "CallFull",
    "CallState",
    "CallStateError",
    "CallingState",
    "ClientOptions",
    "Conflict",
    "ConnectionFailed",
    "ConnectionState",
    "InvalidInput",
    "NotAllowed",
    "NotFound",
    "Observable",
    "ParleyError",
    "Participant",
    "PayloadTooLarge",
    "RateLimited",
    "ReconnectPolicy",
    "ServerError",
    "TokenExpired",
    "Unauthenticated",
    "VideoClient",
]
