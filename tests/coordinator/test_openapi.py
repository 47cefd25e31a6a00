"""The published API description is complete: every operation documents its body,
success and problem responses, with examples that validate against their schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from desktop_app.coordinator.app import create_app
from desktop_app.coordinator.config import CoordinatorConfig
from desktop_app.protocol.errors import PROBLEM_CONTENT_TYPE

SPEC = create_app(CoordinatorConfig(database_url="sqlite://", secret="s")).openapi()
OPERATIONS = [
    (path, method, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()
]


def _validate(example: Any, schema: dict[str, Any]) -> None:
    resolver_schema = {**schema, "components": SPEC["components"]}
    jsonschema.validate(example, resolver_schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("path", "method", "op"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS]
)
def test_operation_is_documented_with_examples(path: str, method: str, op: dict[str, Any]) -> None:
    assert op.get("summary"), "every operation has a summary"
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        assert "example" in body, "request body example"
        _validate(body["example"], body["schema"])
    successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    assert successes
    for response in successes.values():
        content = response["content"]["application/json"]
        assert "example" in content, "success response example"
        _validate(content["example"], content["schema"])
    if path.startswith("/v1/"):
        for code in ("400", "500"):
            assert op["responses"][code]["content"][PROBLEM_CONTENT_TYPE]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
    if path.startswith("/v1/") and path != "/v1/auth/sign-up":
        assert op["security"] == [{"bearer": []}]
        assert "401" in op["responses"]
