"""Property-based testing of the whole API against the coordinator's own OpenAPI document:
whatever schemathesis generates — valid and invalid — no 5xx, and every response
(status, content type, headers, body) matches the document.

schemathesis' pytest plugin does not run on pytest 9, so each operation's Hypothesis
strategy is driven directly; the document is the app's own ``openapi()``, which is what
``/openapi.json`` serves (asserted below).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.config import SchemathesisConfig

from desktop_app.coordinator.app import create_app
from desktop_app.coordinator.auth import create_server_token, create_user_token
from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.served import ServedCoordinator, served

#: Cases per operation, mode and token; raise it for a deeper local run.
EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "12"))
SECRET = "schemathesis-secret-0123456789abcdef0123456789"
checks.load_all_checks()
#: Every check schemathesis has.
CHECKS = list(checks.CHECKS.get_all())
#: A schema-valid request may still break a rule the document cannot state: a filter's
#: value must suit its field, a connection id must name an open connection, a server
#: token must say for whom it creates, JSON numbers must lie within ±(2^53 - 1) while
#: JSON Schema's "number" takes any. Those are 400s with a sentence — never 5xx or 422.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
            }
        }
    }
)
SPEC = create_app(CoordinatorConfig(database_url="sqlite://", secret=SECRET)).openapi()
SCHEMA = schemathesis.openapi.from_dict(SPEC, config=CONFIG)
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
    # The figures of this run (shown with -s, and in CI's log).
    print(
        f"\nschemathesis: {TALLY['cases']} generated requests, {TALLY['5xx']} answered 5xx",
        file=sys.__stdout__,
    )


#: Requests sent and 5xx answers seen, over the module.
TALLY = {"cases": 0, "5xx": 0}


def _tally(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Not a check: counts what the checks see."""
    TALLY["cases"] += 1
    TALLY["5xx"] += response.status_code >= 500


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
            base_url=coordinator_process.base_url, headers=headers, checks=[*CHECKS, _tally]
        )

    run()
