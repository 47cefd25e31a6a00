"""Creating a call: the one step shared by get-or-create and join-with-create.

The creator must hold ``create-call`` and create in one of their teams; the members named
are stored (the creator becomes ``host`` unless named otherwise) and ``call.created`` goes
to all of them. Two creators racing for one id: the second gets None and loads the call.
"""

from __future__ import annotations

from desktop_app.protocol import ErrorCode, make_cid
from desktop_app.protocol.calls import CallRequest, MemberRequest
from desktop_app.protocol.events import CallCreatedEvent
from desktop_app.protocol.permissions import Permission, Role
from desktop_app.protocol.settings import merge_settings

from . import policy
from .context import Actor, Outbox
from .problems import ApiError, invalid_input
from .services import Loaded, Services, capabilities_of
from .store import Repository
from .store.rows import CallRow, MemberRow, UserRow
from .views import call_response, member_response


async def creator_of(
    services: Services, repo: Repository, actor: Actor, data: CallRequest
) -> UserRow:
    """Whom a new call is created by: the user, or the user a server token names."""
    if actor.is_server:
        if data.created_by_id is None:
            raise invalid_input(
                "A server token must say whom the call is created for in 'data.created_by_id'.",
                "data.created_by_id",
            )
        now = services.clock()
        return (await services.ensure_users(repo, [data.created_by_id], now))[data.created_by_id]
    assert actor.user is not None
    if data.created_by_id is not None and data.created_by_id != actor.user.id:
        raise ApiError(ErrorCode.NOT_ALLOWED, "A user token cannot create calls for someone else.")
    return actor.user


async def create_call(
    services: Services,
    repo: Repository,
    actor: Actor,
    call_type: str,
    call_id: str,
    data: CallRequest,
    video: bool | None,
    outbox: Outbox,
    ring: bool = False,
) -> Loaded | None:
    """Create the call; None when someone else created it first (then load it).
    With ``ring``, a call without members to ring is refused before anything is stored."""
    parsed = await services.call_types.get(repo, call_type)
    creator = await creator_of(services, repo, actor, data)
    creator_role = None if actor.is_server else actor.role
    creator_caps = policy.capabilities(
        parsed.grants, creator_role or Role(creator.role), None, actor.is_server
    )
    policy.require(creator_caps, Permission.CREATE_CALL)
    if not actor.is_server:
        policy.check_team_on_create(list(creator.teams), data.team)
    if data.settings_override is not None and not actor.is_server:
        # the creator's settings are part of creating; validate that they merge
        merge_settings(parsed.settings, data.settings_override)
    now = services.clock()
    cid = make_cid(call_type, call_id)
    wanted = {m.user_id: m for m in data.members or []}
    if len(wanted) != len(data.members or []):
        raise invalid_input("A user appears twice in 'data.members'.", "data.members")
    if ring and not set(wanted) - {creator.id}:
        raise invalid_input(
            "There is nobody to ring: name the people to call in 'data.members'.",
            "data.members",
        )
    # What the creator will hold as host is what they may hand out.
    assigner = policy.capabilities(parsed.grants, creator_role or Role(creator.role), Role.HOST)
    for request in wanted.values():
        if request.role is not None:
            policy.check_role_assignable(assigner, request.role, parsed.grants, actor.is_server)
    if creator.id not in wanted:
        wanted[creator.id] = MemberRequest(user_id=creator.id, role=Role.HOST)
    if video is None:
        video = data.video if data.video is not None else parsed.settings.video.enabled
    row = CallRow(
        cid=cid,
        type=call_type,
        id=call_id,
        created_by_id=creator.id,
        created_at=now,
        updated_at=now,
        custom=dict(data.custom or {}),
        video=video,
        live=False,
        starts_at=data.starts_at,
        settings_override=data.settings_override.model_dump(exclude_unset=True)
        if data.settings_override
        else None,
        team=data.team,
    )
    if not await repo.insert_call(row):
        return None
    users = await services.ensure_users(repo, list(wanted), now)
    member_rows = []
    for user_id, request in wanted.items():
        role = request.role or (Role.HOST if user_id == creator.id else Role.CALL_MEMBER)
        member = MemberRow(cid, user_id, role.value, dict(request.custom or {}), now, now)
        await repo.insert_member(member)
        member_rows.append(member)
    own_member = next((m for m in member_rows if m.user_id == actor.user_id), None)
    loaded = Loaded(row, parsed, own_member, capabilities_of(actor, parsed, own_member))
    call = await call_response(repo, row, parsed.settings)
    outbox.add(
        CallCreatedEvent(
            call_cid=cid,
            created_at=now,
            call=call,
            members=[member_response(m, users) for m in member_rows],
        ),
        await services.audience(repo, row, list(wanted)),
    )
    return loaded
