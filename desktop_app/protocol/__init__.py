"""The Parley wire protocol: pydantic models shared by the coordinator and the SDK.

Nothing here does I/O; both sides import these models so that the wire has one
definition.
"""

from .errors import ERROR_STATUS, PROBLEM_CONTENT_TYPE, ErrorCode, FieldError, Problem
from .ids import ID_PATTERN, make_cid, split_cid
from .permissions import Permission, Role

__all__ = [
    "ERROR_STATUS",
    "ID_PATTERN",
    "PROBLEM_CONTENT_TYPE",
    "ErrorCode",
    "FieldError",
    "Permission",
    "Problem",
    "Role",
    "make_cid",
    "split_cid",
]
