"""Query requests: MongoDB-style filters, sort and opaque cursors.

The filter is an open JSON object on the wire; the coordinator checks every field and
operator in it and answers ``invalid_input`` for anything it does not know.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .base import Request

FILTER_OPERATORS = ("$eq", "$ne", "$in", "$gt", "$gte", "$lt", "$lte", "$exists")
QUERY_LIMIT_MAX = 100


class SortParam(Request):
    field: Annotated[str, Field(max_length=100, examples=["created_at"])]
    direction: Literal[1, -1] = 1


Cursor = Annotated[str, Field(max_length=1000, description="Opaque; from a previous answer.")]


class QueryRequest(Request):
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description="Conditions ANDed together: {field: value} or {field: {$op: value}}; "
        f"operators {', '.join(FILTER_OPERATORS)}.",
        examples=[{"role": {"$in": ["host", "call_member"]}}],
    )
    sort: list[SortParam] = Field(default_factory=list, max_length=3)
    limit: Annotated[int, Field(ge=1, le=QUERY_LIMIT_MAX)] = 25
    next: Cursor | None = None
    prev: Cursor | None = None
