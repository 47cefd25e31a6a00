"""Roles and permissions: the vocabulary of a call type's grant table."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    HOST = "host"
    ADMIN = "admin"
    CALL_MEMBER = "call_member"


class Permission(StrEnum):
    """What a role may do in a call; ``own_capabilities`` lists these for the caller."""

    CREATE_CALL = "create-call"
    READ_CALL = "read-call"
    JOIN_CALL = "join-call"
    JOIN_BACKSTAGE = "join-backstage"
    JOIN_ENDED_CALL = "join-ended-call"
    UPDATE_CALL = "update-call"
    UPDATE_CALL_SETTINGS = "update-call-settings"
    END_CALL = "end-call"
    DELETE_CALL = "delete-call"
    UPDATE_CALL_MEMBER = "update-call-member"
    REMOVE_CALL_MEMBER = "remove-call-member"
    SEND_EVENT = "send-event"
    RING_CALL = "ring-call"
