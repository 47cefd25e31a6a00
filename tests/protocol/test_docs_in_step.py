"""Generated documentation stays in step with the code it describes."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app.coordinator.call_types import builtin_call_types
from desktop_app.protocol.events import CALL_EVENT_TYPES, event_json_schema
from desktop_app.protocol.permissions import Permission, Role

DOCS = Path(__file__).resolve().parents[2] / "docs"


def render_grant_table() -> str:
    """The markdown table of docs/permissions.md: one row per permission, one column per role."""
    types = builtin_call_types()
    standard = next(t for t in types if t.name == "default").grants
    header = "| permission | " + " | ".join(r.value for r in Role) + " |"
    lines = [header, "|" + "---|" * (len(Role) + 1)]
    for permission in Permission:
        marks = ["✓" if permission in standard.get(role, []) else "" for role in Role]
        lines.append(f"| `{permission.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)


def test_grant_table_in_docs_matches_the_code() -> None:
    text = (DOCS / "permissions.md").read_text()
    assert render_grant_table() in text, (
        "regenerate with: python -m tests.protocol.test_docs_in_step"
    )


def test_event_schema_file_is_current() -> None:
    on_disk = json.loads((DOCS / "events.schema.json").read_text())
    assert on_disk == event_json_schema(), (
        "regenerate with: python -m tests.protocol.test_docs_in_step"
    )


def test_every_event_type_is_documented() -> None:
    text = (DOCS / "protocol.md").read_text()
    missing = [t for t in CALL_EVENT_TYPES if f"`{t}`" not in text]
    assert missing == []


if __name__ == "__main__":
    (DOCS / "events.schema.json").write_text(json.dumps(event_json_schema(), indent=2) + "\n")
    print(render_grant_table())
