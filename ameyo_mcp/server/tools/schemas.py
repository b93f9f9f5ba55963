"""Smaller tool schemas: every schema is sent to the model in every conversation.

pydantic writes a `title` on every property, `anyOf` for every optional value and `default: null`
for each; none of them tells a model anything the property name and type do not.
"""

from __future__ import annotations

from typing import Any


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace `$ref`s to `$defs` by the definitions themselves: our models are not recursive, and a
    validator resolving a `$ref` per list item is markedly slower than reading the schema in place."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return resolve(defs[ref.removeprefix("#/$defs/")])
        return {k: resolve(v) for k, v in node.items() if k != "$defs"}

    result: dict[str, Any] = resolve(schema)
    return result


def compact(schema: Any, *, optional_null: bool = True) -> Any:
    """The same schema without titles and with short nullable types.

    With `optional_null=False` (for arguments) an optional argument loses its `null` alternative:
    leaving it out means the same, and the arguments model still accepts an explicit null. A flag
    loses its `default: false` too: a flag left out is off, as every reader takes it (a `true`
    default, the file tool's dry_run, stays).
    """
    if isinstance(schema, list):
        return [compact(item, optional_null=optional_null) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "default" and (value is None or (value is False and not optional_null)):
            continue
        if key == "description" and isinstance(value, str):
            out[key] = " ".join(value.split())
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: compact(sub, optional_null=optional_null) for name, sub in value.items()}
            continue
        out[key] = compact(value, optional_null=optional_null)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other, dict) and not optional_null:
            del out["anyOf"]
            out.update(other)
        elif isinstance(other, dict) and set(other) == {"type"} and isinstance(other["type"], str):
            del out["anyOf"]
            out["type"] = [other["type"], "null"]
    return out
