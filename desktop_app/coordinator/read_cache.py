"""Ready-to-send snapshots of calls, so that reading a call needs no database round-trip.

Loading a call is the coordinator's most frequent request (every app that opens a call, and
every get-or-create of an existing one). A snapshot holds the call's serialized JSON, its
first members' JSON and every member's role; it is built from the database on a miss and
dropped whenever anything about the call changes.

Consistency: every write to a call invalidates its snapshot right after its transaction
commits. A reader that was building a snapshot from older data while that happened may not
store it: each call has a generation number, read before the database is, and a snapshot
is stored only if the generation is still the same.

The cache lives in this process; a deployment of several coordinator nodes turns it off
(each node could not see the others' writes).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass

from desktop_app.protocol.permissions import Permission, Role

from .call_type_cache import ParsedCallType
from .store.rows import CallRow

#: Members kept serialized in a snapshot: the most a request may ask for.
SNAPSHOT_MEMBERS = 100


@dataclass(frozen=True)
class CallSnapshot:
    call: CallRow
    call_type: ParsedCallType
    call_json: bytes
    members_json: tuple[bytes, ...]
    member_roles: dict[str, Role]

    def members_array(self, limit: int) -> bytes:
        return b"[" + b",".join(self.members_json[:limit]) + b"]"


class CallCache:
    def __init__(self, capacity: int = 10_000, enabled: bool = True) -> None:
        self.capacity = capacity
        self.enabled = enabled
        self._entries: OrderedDict[str, CallSnapshot] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0

    def get(self, cid: str) -> CallSnapshot | None:
        entry = self._entries.get(cid)
        if entry is not None:
            self._entries.move_to_end(cid)
        return entry

    def generation(self, cid: str) -> tuple[int, int]:
        """The version to hand back to :meth:`put` (taken before reading the database)."""
        return self._epoch, self._generations.get(cid, 0)

    def put(self, cid: str, snapshot: CallSnapshot, generation: tuple[int, int]) -> None:
        if not self.enabled or generation != self.generation(cid):
            return
        self._entries[cid] = snapshot
        self._entries.move_to_end(cid)
        while len(self._entries) > self.capacity:
            # generations stay: a reader that began before an eviction must still be refused
            self._entries.popitem(last=False)

    def invalidate(self, cid: str) -> None:
        self._entries.pop(cid, None)
        self._generations[cid] = self._generations.get(cid, 0) + 1

    def clear(self) -> None:
        """Everything changes (a user's profile or a call type appears in many calls)."""
        self._entries.clear()
        self._generations.clear()
        self._epoch += 1


@dataclass(frozen=True)
class CallView:
    """One caller's answer about a call: the shared snapshot plus their capabilities."""

    snapshot: CallSnapshot
    capabilities: list[Permission]
    created: bool

    def to_json(self, members_limit: int, with_created: bool = True) -> bytes:
        """The ``CallStateResponse`` / ``GetOrCreateCallResponse`` body, without re-serializing
        the call."""
        parts = [
            b'{"call":',
            self.snapshot.call_json,
            b',"members":',
            self.snapshot.members_array(members_limit),
            b',"own_capabilities":',
            json.dumps([p.value for p in self.capabilities]).encode(),
        ]
        if with_created:
            parts += [b',"created":', b"true" if self.created else b"false"]
        return b"".join(parts) + b"}"
