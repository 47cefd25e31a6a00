"""Base classes that fix how requests and responses treat fields they do not know.

Requests refuse unknown fields (a typo must not be silently ignored); responses ignore
them, so that an older client keeps working against a newer coordinator.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
