"""The JSON the wire carries: I-JSON (RFC 7493) with a bound on nesting.

Whatever a request or WebSocket message holds may be stored and later sent to everyone in
a call, read back on two databases and compared in queries. So every value must survive
all of that: text is valid Unicode without NUL characters (PostgreSQL refuses them),
numbers are finite and within ±(2⁵³−1) (integers there are exact in every JSON reader,
and a number read back from PostgreSQL stays in range), and nesting stops
at :data:`MAX_DEPTH` levels (a deeper value broke serializers on the way out, after it was
stored). A message that breaks the rule is refused whole, naming where.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic_core import from_json

#: Objects and arrays inside one another, counting the outermost.
MAX_DEPTH = 32
#: The largest integer every JSON reader holds exactly (JavaScript's ``MAX_SAFE_INTEGER``).
MAX_SAFE_INTEGER = 2**53 - 1


class WireJsonError(ValueError):
    """``path`` is where, dotted as the error shape's ``field`` (``""``: the whole)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or 'the message'} {message}")
        self.path = path
        self.message = message


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def check_wire_value(value: Any, path: str = "") -> None:
    """Raise :class:`WireJsonError` where ``value`` breaks the rule (iteratively: a value
    too deep for Python's recursion is still answered)."""
    pending: list[tuple[Any, str, int]] = [(value, path, 1)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise WireJsonError(where, f"is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, inner in item.items():
                    _check_text(key, where, "has a key")
                    pending.append((inner, _join(where, key), depth + 1))
            else:
                pending.extend((inner, _join(where, i), depth + 1) for i, inner in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, where, "holds text")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            if isinstance(item, float) and not math.isfinite(item):
                raise WireJsonError(where, "holds a number that is not finite")
            if abs(item) > MAX_SAFE_INTEGER:
                # PostgreSQL gives 2.5e16 back as 25000000000000000: a number out of
                # this range would not survive being read and sent back.
                raise WireJsonError(where, "holds a number beyond ±(2^53 − 1)")


def _check_text(text: str, where: str, what: str) -> None:
    if "\x00" in text:
        raise WireJsonError(where, f"{what} with a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WireJsonError(where, f"{what} that is not valid Unicode") from None


def parse_wire_json(data: bytes | str) -> Any:
    """Parse and check one JSON document (NaN, Infinity, invalid UTF-8 and lone
    surrogates are refused by the parser itself)."""
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError as error:
        message = str(error)
        if "recursion limit" in message:
            raise WireJsonError("", f"is nested deeper than {MAX_DEPTH} levels") from None
        raise WireJsonError("", f"is not valid JSON ({message})") from None
    check_wire_value(value)
    return value
