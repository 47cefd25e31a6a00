"""Property-based testing of the whole API against the coordinator's own OpenAPI document:
whatever schemathesis generates — valid and invalid — no 5xx, and every response
(status, content type, headers, body) matches the document.

schemathesis' pytest plugin does not run on pytest 9, so each operation's Hypothesis
strategy is driven directly; the document is the app's own ``openapi()``, which is what
``/openapi.json`` serves (asserted below).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from desktop_app.coordinator.app import create_app
from desktop_app.coordinator.auth import create_server_token, create_user_token
from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.served import ServedCoordinator, served

#: Cases per operation, mode and token; raise it for a deeper local run.
EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "12"))
SECRET = "schemathesis-secret-0123456789abcdef0123456789"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
SPEC = create_app(CoordinatorConfig(database_url="sqlite://", secret=SECRET)).openapi()
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def _has_inputs(label: str) -> bool:
    method, path = label.split(" ", 1)
    operation = SPEC["paths"][path][method.lower()]
    return bool(operation.get("parameters") or operation.get("requestBody"))


#: Invalid cases only exist for operations that take input.
CASES = [
    pytest.param(
        label, mode, id=f"{label}-{'valid' if mode is GenerationMode.POSITIVE else 'invalid'}"
    )
    for label in sorted(OPERATIONS)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_inputs(label)
]


@pytest.fixture(scope="module")
def coordinator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedCoordinator]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    # Budgets off: generated cases come back to back, and a 429 would hide what they test.
    with served(data_dir, "--secret", SECRET, "--open-sign-up", "--no-rate-limits") as running:
        yield running


def test_served_document_is_the_fuzzed_one(coordinator_process: ServedCoordinator) -> None:
    served_spec = httpx.get(f"{coordinator_process.base_url}/openapi.json").json()
    assert served_spec == SPEC
    assert served_spec["openapi"].startswith("3.1")
    assert len(OPERATIONS) >= 25


@pytest.mark.parametrize("who", ["server", "user"])
@pytest.mark.parametrize(("label", "mode"), CASES)
def test_operation(
    coordinator_process: ServedCoordinator, label: str, mode: GenerationMode, who: str
) -> None:
    operation = OPERATIONS[label]
    token = create_server_token(SECRET) if who == "server" else create_user_token(SECRET, "fuzzer")
    headers = {"Authorization": f"Bearer {token}"}
    strategy = operation.as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=coordinator_process.base_url, headers=headers, checks=CHECKS
        )

    run()
