"""``/docs``: the API description as one self-contained HTML page.

It is rendered on the server from the same OpenAPI document as ``/openapi.json`` and needs
nothing from the internet, so it works on an offline deployment.
"""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem} h2{margin-top:2.5rem;border-bottom:1px solid #dde} h3{margin-bottom:.2rem}
code,pre{font-family:ui-monospace,monospace;font-size:13px} pre{background:#f4f5f8;padding:.6rem;overflow:auto}
.m{display:inline-block;min-width:4.2em;font-weight:700;color:#fff;border-radius:4px;padding:0 .4em;text-align:center}
.get{background:#2f7d4f}.post{background:#2f5d9e}.patch{background:#9a6a12}.put{background:#7a4f9e}.delete{background:#a83c3c}
table{border-collapse:collapse} td,th{padding:.15rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
"""


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    if "anyOf" in schema:
        return " | ".join(_ref_name(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_ref_name(schema.get('items', {}))}"
    return escape(str(schema.get("type", "object")))


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(info.get('version', ''))}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>',
        "<h2>Operations</h2>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts.append(
                f'<h3><span class="m {escape(method)}">{escape(method.upper())}</span> '
                f"<code>{escape(path)}</code> — {escape(op.get('summary', ''))}</h3>"
            )
            if op.get("description"):
                parts.append(f"<p>{escape(op['description'])}</p>")
            params = op.get("parameters", [])
            if params:
                rows = "".join(
                    f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                    f"<td>{_ref_name(p.get('schema', {}))}</td><td>{escape(p.get('description', ''))}</td></tr>"
                    for p in params
                )
                parts.append(
                    f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{rows}</table>"
                )
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                parts.append(f"<p>Body: {_ref_name(body.get('schema', {}))}</p>")
            answers = ", ".join(
                f"{escape(code)} {escape(r.get('description', ''))}"
                for code, r in op.get("responses", {}).items()
            )
            parts.append(f"<p><small>Responses: {answers}</small></p>")
    parts.append("<h2>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>')
        if schema.get("description"):
            parts.append(f"<p>{escape(schema['description'])}</p>")
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if props:
            rows = "".join(
                f"<tr><td><code>{escape(key)}</code>{' *' if key in required else ''}</td>"
                f"<td>{_ref_name(value)}</td><td>{escape(value.get('description', ''))}</td></tr>"
                for key, value in props.items()
            )
            parts.append(f"<table>{rows}</table>")
        elif "enum" in schema:
            parts.append(f"<p>One of: {escape(', '.join(map(str, schema['enum'])))}</p>")
    return "\n".join(parts)
