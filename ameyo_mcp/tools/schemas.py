"""Smaller tool schemas: every schema is sent to the model in every conversation.

pydantic writes a `title` on every property, `anyOf` for every optional value and `default: null`
for each; none of them tells a model anything the property name and type do not.
"""

from __future__ import annotations

from typing import Any


def compact(schema: Any) -> Any:
    """The same schema (same validation), without titles and with short nullable types."""
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and value is None:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact(sub) for name, sub in value.items()}
            continue
        out[key] = compact(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other, dict) and set(other) == {"type"} and isinstance(other["type"], str):
            del out["anyOf"]
            out["type"] = [other["type"], "null"]
    return out
