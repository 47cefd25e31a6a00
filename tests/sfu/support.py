"""What SFU tests read of a call — whose picture and sound a participant gets — and of a
Janus server: whether a room is there."""

from __future__ import annotations

import asyncio

from desktop_app.sdk.call import Call
from desktop_app.sdk.janus_link import JanusLink


def receiving(call: Call) -> set[str]:
    """The users whose picture and sound this call's participant receives."""
    return {
        p.user.id
        for p in call.state.participants
        if not p.is_local and p.video_track is not None and p.audio_track is not None
    }


async def frames_from(call: Call, user: str, seconds: float = 10.0) -> None:
    """A frame of ``user``'s picture and one of their sound, each within ``seconds``."""
    participant = next(p for p in call.state.participants if p.user.id == user)
    await asyncio.wait_for(participant.video_track.recv(), seconds)
    await asyncio.wait_for(participant.audio_track.recv(), seconds)


async def room_exists(url: str, room: str) -> bool:
    link = await JanusLink.open(url)
    try:
        handle = await link.attach()
        reply = await handle.request({"request": "exists", "room": room})
        return bool(reply.data["exists"])
    finally:
        await link.close()
