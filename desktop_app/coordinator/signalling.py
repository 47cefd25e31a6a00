"""Peer-to-peer media support: WebRTC signalling relayed to the one participant session it
is for, and each participant's publish state (mute) shared with everyone in the call.

Both arrive as WebSocket messages from clients. A session may only speak for itself: the
sending connection must be the one its participant session is bound to, and a signal's
target must be in the same call session.
"""

from __future__ import annotations

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.calls import CallResponse
from desktop_app.protocol.events import (
    CallParticipantUpdatedEvent,
    CallSignalEvent,
    WsPublishMessage,
    WsSignalMessage,
)

from .context import Outbox
from .hub import Connection
from .problems import ApiError
from .services import Services
from .store import Repository
from .store.rows import ParticipantRow
from .views import call_response, find_participant, user_response

SIGNAL_MAX_BYTES = 48 * 1024


class SignalRelay:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _own_participant(
        self, repo: Repository, connection: Connection, call_cid: str, session_id: str
    ) -> ParticipantRow:
        participant = await repo.get_participant(session_id)
        if (
            participant is None
            or participant.call_cid != call_cid
            or participant.connection_id != connection.id
        ):
            raise ApiError(
                ErrorCode.NOT_ALLOWED,
                f"Participant session {session_id!r} is not yours in {call_cid}; join the call first.",
            )
        return participant

    async def signal(self, connection: Connection, message: WsSignalMessage) -> None:
        if len(str(message.signal)) > SIGNAL_MAX_BYTES:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, "A signal may be at most 48 KiB.")
        async with self.services.store.transaction() as repo:
            sender = await self._own_participant(
                repo, connection, message.call_cid, message.from_session_id
            )
            target = await repo.get_participant(message.to_session_id)
            if target is None or target.call_session_id != sender.call_session_id:
                raise ApiError(
                    ErrorCode.NOT_FOUND,
                    f"Participant session {message.to_session_id!r} is not in this call.",
                )
            call = await repo.get_call(message.call_cid)
            user = await repo.get_user(sender.user_id)
            if call is None or user is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"There is no call {message.call_cid}.")
            parsed = await self.services.call_types.get(repo, call.type)
            snapshot: CallResponse = await call_response(repo, call, parsed.settings)
        event = CallSignalEvent(
            call_cid=message.call_cid,
            created_at=self.services.clock(),
            call=snapshot,
            from_session_id=sender.session_id,
            to_session_id=target.session_id,
            user=user_response(user),
            signal=message.signal,
        )
        self.services.hub.deliver(event.model_dump_json(), [target.connection_id])

    async def publish(self, connection: Connection, message: WsPublishMessage) -> None:
        outbox = Outbox()
        async with self.services.write(outbox) as repo:
            participant = await self._own_participant(
                repo, connection, message.call_cid, message.session_id
            )
            published: dict[str, bool] = dict(participant.published or {})
            published.update({str(kind): on for kind, on in message.published.items()})
            await repo.update_participant(participant.session_id, {"published": published})
            call = await repo.get_call(message.call_cid)
            if call is None:
                raise ApiError(ErrorCode.NOT_FOUND, f"There is no call {message.call_cid}.")
            parsed = await self.services.call_types.get(repo, call.type)
            snapshot = await call_response(repo, call, parsed.settings)
            shown = find_participant(snapshot, participant.session_id)
            if shown is not None:
                outbox.add(
                    CallParticipantUpdatedEvent(
                        call_cid=call.cid,
                        created_at=self.services.clock(),
                        call=snapshot,
                        session_id=participant.call_session_id,
                        participant=shown,
                        published=published,
                    ),
                    [],
                )
        self.services.publish(outbox)
