"""MongoDB-style filters, sort and keyset cursors compiled to SQLAlchemy expressions.

Each queryable resource names its fields (:class:`Field`); anything else in a filter or a
sort is refused with a :class:`QueryError` naming the offending field (the HTTP edge turns
it into an ``invalid_input`` problem). Cursors are keyset
positions (the sort values of a boundary row plus its primary key), encoded as opaque
base64 text, so paging stays correct while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar, cast

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlalchemy.sql.elements import KeyedColumnElement

from desktop_app.protocol.queries import FILTER_OPERATORS, SortParam

from .types import from_micros, to_micros


class QueryError(ValueError):
    """A filter, sort or cursor this resource cannot take; ``field`` says where."""

    def __init__(self, detail: str, field: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


Kind = Literal["string", "datetime", "bool", "custom"]
CUSTOM_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IN_MAX = 100
#: Conditions in one filter (each field's operators counted).
MAX_CONDITIONS = 32
RowT = TypeVar("RowT")


@dataclass(frozen=True)
class Field:
    column: KeyedColumnElement[Any]
    kind: Kind
    sortable: bool = False


def _parse_datetime(value: Any, field: str) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise QueryError(
        f"'{field}' needs an ISO 8601 date-time such as 2026-01-31T09:00:00Z.", f"filter.{field}"
    )


def _coerce(kind: Kind, value: Any, field: str) -> Any:
    if kind == "string":
        if not isinstance(value, str):
            raise QueryError(f"'{field}' is compared with text.", f"filter.{field}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise QueryError(f"'{field}' is compared with true or false.", f"filter.{field}")
        return value
    if kind == "datetime":
        return _parse_datetime(value, field)
    if isinstance(value, bool | int | float | str):
        return value
    raise QueryError(
        f"'{field}' can be compared with text, numbers or booleans only.", f"filter.{field}"
    )


def _custom_expr(column: KeyedColumnElement[Any], key: str, sample: Any) -> ColumnElement[Any]:
    element = column[key]
    if isinstance(sample, bool):
        return cast(ColumnElement[Any], element.as_boolean())
    if isinstance(sample, int | float):
        return cast(ColumnElement[Any], element.as_float())
    return cast(ColumnElement[Any], element.as_string())


def _compare(
    column: KeyedColumnElement[Any] | None,
    custom: tuple[KeyedColumnElement[Any], str] | None,
    kind: Kind,
    op: str,
    value: Any,
    field: str,
) -> ColumnElement[bool]:
    def target(sample: Any) -> ColumnElement[Any]:
        if custom is not None:
            return _custom_expr(custom[0], custom[1], sample)
        assert column is not None
        return column

    if op == "$exists":
        if not isinstance(value, bool):
            raise QueryError(f"'$exists' on '{field}' takes true or false.", f"filter.{field}")
        # as_string() yields SQL NULL for a missing key on both SQLite and PostgreSQL
        present = target("").is_not(None)
        return present if value else ~present
    if op == "$in":
        if not isinstance(value, list) or len(value) > IN_MAX:
            raise QueryError(
                f"'$in' on '{field}' takes a list of at most {IN_MAX} values.", f"filter.{field}"
            )
        if not value:
            return false()
        coerced = [_coerce(kind, v, field) for v in value]
        if custom is not None:
            return or_(*(target(v) == v for v in coerced))
        return target(coerced[0]).in_(coerced)
    coerced = _coerce(kind, value, field)
    if kind == "bool" and op not in ("$eq", "$ne"):
        raise QueryError(f"'{op}' does not apply to true/false field '{field}'.", f"filter.{field}")
    expr = target(coerced)
    if op == "$ne":
        return or_(expr != coerced, expr.is_(None))
    comparisons = {
        "$eq": expr.__eq__,
        "$gt": expr.__gt__,
        "$gte": expr.__ge__,
        "$lt": expr.__lt__,
        "$lte": expr.__le__,
    }
    return comparisons[op](coerced)


def compile_filter(filter_: Mapping[str, Any], fields: Mapping[str, Field]) -> ColumnElement[bool]:
    """``{field: value}`` or ``{field: {$op: value, …}}``, all conditions ANDed."""
    conditions = sum(len(c) if isinstance(c, dict) else 1 for c in filter_.values())
    if conditions > MAX_CONDITIONS:
        raise QueryError(
            f"A filter may hold at most {MAX_CONDITIONS} conditions; this one has {conditions}.",
            "filter",
        )
    clauses: list[ColumnElement[bool]] = []
    for name, condition in filter_.items():
        column: KeyedColumnElement[Any] | None = None
        custom: tuple[KeyedColumnElement[Any], str] | None = None
        if name.startswith("custom."):
            key = name[len("custom.") :]
            if "custom" not in fields or not CUSTOM_KEY.match(key):
                raise QueryError(f"'{name}' is not a field you can filter on.", f"filter.{name}")
            custom = (fields["custom"].column, key)
            kind: Kind = "custom"
        elif name in fields and fields[name].kind != "custom":
            column = fields[name].column
            kind = fields[name].kind
        else:
            known = ", ".join(sorted(n for n, f in fields.items() if f.kind != "custom"))
            raise QueryError(
                f"'{name}' is not a field you can filter on (known: {known}, custom.<key>).",
                f"filter.{name}",
            )
        if isinstance(condition, dict):
            if not condition:
                raise QueryError(f"The condition on '{name}' is empty.", f"filter.{name}")
            for op, value in condition.items():
                if op not in FILTER_OPERATORS:
                    raise QueryError(
                        f"'{op}' is not a filter operator (use {', '.join(FILTER_OPERATORS)}).",
                        f"filter.{name}",
                    )
                clauses.append(_compare(column, custom, kind, op, value, name))
        else:
            clauses.append(_compare(column, custom, kind, "$eq", condition, name))
    return and_(true(), *clauses)


@dataclass(frozen=True)
class Ordering:
    """The sort of a query: the requested fields, then the primary key as tie-breaker."""

    columns: tuple[tuple[str, KeyedColumnElement[Any], int], ...]
    #: What each column holds (a cursor's values are checked against it).
    kinds: tuple[Kind, ...] = ()


def compile_sort(
    sort: Sequence[SortParam],
    fields: Mapping[str, Field],
    default: Sequence[tuple[str, Literal[1, -1]]],
    key: tuple[str, KeyedColumnElement[Any]],
) -> Ordering:
    requested: list[tuple[str, int]] = [(s.field, s.direction) for s in sort] or list(default)
    columns: list[tuple[str, KeyedColumnElement[Any], int]] = []
    kinds: list[Kind] = []
    for name, direction in requested:
        spec = fields.get(name)
        if spec is None or not spec.sortable:
            allowed = ", ".join(sorted(n for n, f in fields.items() if f.sortable))
            raise QueryError(f"You cannot sort on '{name}' (sortable: {allowed}).", "sort")
        if any(existing == name for existing, _, _ in columns):
            raise QueryError(f"'{name}' appears twice in sort.", "sort")
        columns.append((name, spec.column, direction))
        kinds.append(spec.kind)
    if not any(name == key[0] for name, _, _ in columns):
        columns.append((key[0], key[1], 1))
        kinds.append("string")
    return Ordering(tuple(columns), tuple(kinds))


def order_by(ordering: Ordering, reverse: bool = False) -> list[ColumnElement[Any]]:
    result: list[ColumnElement[Any]] = []
    for _, column, direction in ordering.columns:
        ascending = (direction == 1) != reverse
        result.append(column.asc() if ascending else column.desc())
    return result


def _encode_value(value: Any) -> Any:
    return {"t": to_micros(value)} if isinstance(value, datetime) else value


#: Microseconds from 1970 to the end of the year 9999.
_MAX_MICROS = 253_402_300_799_999_999
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_:-]{1,130}")


def _decode_value(value: Any, kind: Kind) -> Any:
    """A cursor position, if it is what the column holds; else ``ValueError``."""
    if kind == "datetime":
        micros = value.get("t") if isinstance(value, dict) and len(value) == 1 else None
        if type(micros) is int and 0 <= micros <= _MAX_MICROS:
            return from_micros(micros)
    elif kind == "string":  # the text columns a sort may use are ids and cids
        if isinstance(value, str) and _CURSOR_TEXT.fullmatch(value):
            return value
    elif kind == "bool" and isinstance(value, bool):
        return value
    raise ValueError("not a position in this column")


def encode_cursor(ordering: Ordering, row: Mapping[str, Any], direction: str) -> str:
    values = [_encode_value(row[name]) for name, _, _ in ordering.columns]
    payload = json.dumps({"d": direction, "f": [n for n, _, _ in ordering.columns], "v": values})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, ordering: Ordering, field: str) -> tuple[str, list[Any]]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        direction = payload["d"]
        names = payload["f"]
        raw = payload["v"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise QueryError("The cursor is not one this server handed out.", field) from None
    if (
        direction not in ("next", "prev")
        or names != [n for n, _, _ in ordering.columns]
        or not isinstance(raw, list)
        or len(raw) != len(names)
    ):
        raise QueryError("The cursor belongs to a query with a different sort.", field)
    try:
        values = [_decode_value(v, kind) for v, kind in zip(raw, ordering.kinds, strict=True)]
    except ValueError:
        raise QueryError("The cursor is not one this server handed out.", field) from None
    return direction, values


def after(ordering: Ordering, values: Sequence[Any], reverse: bool = False) -> ColumnElement[bool]:
    """Rows strictly after the position ``values`` in the (possibly reversed) order."""
    alternatives: list[ColumnElement[bool]] = []
    for i, (_, column, direction) in enumerate(ordering.columns):
        ascending = (direction == 1) != reverse
        equal_prefix = [c == values[j] for j, (_, c, _) in enumerate(ordering.columns[:i])]
        beyond = column > values[i] if ascending else column < values[i]
        alternatives.append(and_(*equal_prefix, beyond))
    return or_(*alternatives)


#: Rows from ``position`` on (None: the start), backwards with ``reverse``, at most ``limit``.
Fetch = Callable[[list[Any] | None, bool, int], Awaitable[list[RowT]]]


class PageRequest(Protocol):
    @property
    def limit(self) -> int: ...
    @property
    def next(self) -> str | None: ...
    @property
    def prev(self) -> str | None: ...


async def keyset_page(
    request: PageRequest,
    ordering: Ordering,
    fetch: Fetch[RowT],
    key: Callable[[RowT], Mapping[str, Any]],
) -> tuple[list[RowT], str | None, str | None]:
    """One page of keyset pagination and its ``next`` / ``prev`` cursors: one extra row is
    fetched to know whether more follow."""
    if request.next is not None and request.prev is not None:
        raise QueryError("Give 'next' or 'prev', not both.", "next")
    limit = request.limit
    if request.prev is not None:
        _, before = decode_cursor(request.prev, ordering, "prev")
        rows = list(reversed(await fetch(before, True, limit + 1)))
        more_before = len(rows) > limit
        rows = rows[1:] if more_before else rows
        next_cursor = encode_cursor(ordering, key(rows[-1]), "next") if rows else None
        prev_cursor = (
            encode_cursor(ordering, key(rows[0]), "prev") if rows and more_before else None
        )
        return rows, next_cursor, prev_cursor
    position: list[Any] | None = (
        decode_cursor(request.next, ordering, "next")[1] if request.next is not None else None
    )
    rows = await fetch(position, False, limit + 1)
    more_after = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(ordering, key(rows[-1]), "next") if rows and more_after else None
    prev_cursor = (
        encode_cursor(ordering, key(rows[0]), "prev") if rows and position is not None else None
    )
    return rows, next_cursor, prev_cursor
