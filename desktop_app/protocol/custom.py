"""Custom data: free JSON objects that users attach to users, calls, members and events.

The size limit keeps a single call event well under a WebSocket frame budget.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

CUSTOM_MAX_BYTES = 5 * 1024


def check_custom_size(value: dict[str, Any]) -> dict[str, Any]:
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > CUSTOM_MAX_BYTES:
        raise ValueError(f"custom data is {size} bytes; at most {CUSTOM_MAX_BYTES} are allowed")
    return value


CustomData = Annotated[
    dict[str, Any],
    AfterValidator(check_custom_size),
    Field(
        description="Free JSON object, at most 5 KiB when serialized.", examples=[{"topic": "Q3"}]
    ),
]
