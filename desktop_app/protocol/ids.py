"""Identifiers on the wire: users, calls, call types, and the ``cid`` that joins them."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ID_DESCRIPTION = "1–64 characters from A–Z, a–z, 0–9, '_' and '-'."

Identifier = Annotated[
    str, Field(pattern=ID_PATTERN, min_length=1, max_length=64, description=ID_DESCRIPTION)
]


def make_cid(call_type: str, call_id: str) -> str:
    """A call's ``cid`` is its type and id joined by a colon, e.g. ``default:standup``."""
    return f"{call_type}:{call_id}"


def split_cid(cid: str) -> tuple[str, str]:
    """Split a ``cid`` into ``(type, id)``; raises ``ValueError`` for anything else."""
    call_type, sep, call_id = cid.partition(":")
    if not sep or not call_type or not call_id:
        raise ValueError(f"not a call cid: {cid!r}")
    return call_type, call_id
