"""What SFU tests read of a call: whose picture and sound a participant gets."""

from __future__ import annotations

import asyncio

from desktop_app.sdk.call import Call


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
