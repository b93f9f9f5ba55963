"""A push's bytes → its fields: a query string, a form, or a JSON object (also sent as text/plain)."""

from __future__ import annotations

import codecs
import json
from urllib.parse import parse_qsl

from ..errors import PushRejected
from ..rules.encodings import legacy_text
from .fields import MAX_FIELDS, nesting

MAX_BODY_BYTES = 64 * 1024
TOKEN_FIELD = "token"
MAX_JSON_DEPTH = 6


def query_fields(query: bytes) -> dict[str, str]:
    return _form(query, "query string")


def body_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a POST body. JSON is recognised by its content type or, whatever the type
    says, by a body that starts with `{` (Ameyo deployments send JSON as text/plain)."""
    if len(body) > MAX_BODY_BYTES:
        raise PushRejected(413, f"The push is over {MAX_BODY_BYTES} bytes")
    # Windows tools write UTF-8 with a byte-order mark first: JSON so written was refused as not
    # JSON (and Ameyo does not send a push again after a 4xx), a form's first name misread.
    body = body.removeprefix(codecs.BOM_UTF8)
    stripped = body.lstrip()
    if "json" in content_type.lower() or stripped[:1] in (b"{", b"["):
        return _json(stripped)
    return _form(body, "form body")


def _text(data: bytes) -> str:
    """UTF-8, else the legacy rule: Ameyo does not send a push again after a 4xx, so one from a
    system that writes Windows-1252 is read, not refused and lost."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return legacy_text(data)


def _field_text(value: str) -> str:
    """A form field read with its bytes that are not UTF-8 kept aside (surrogate escapes): UTF-8
    as it is, else the legacy rule for this field alone, so one field from another system does not
    garble the rest (José in UTF-8 beside München in Windows-1252)."""
    if value.isascii() or value.isprintable():
        return value
    return _text(value.encode("utf-8", "surrogateescape"))


def _form(data: bytes, what: str) -> dict[str, str]:
    if not data:
        return {}
    try:
        pairs = parse_qsl(
            data.decode("utf-8", "surrogateescape"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS + 1,
            encoding="utf-8",
            errors="surrogateescape",
        )
    except ValueError:
        raise PushRejected(413, f"The {what} has more than {MAX_FIELDS} fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(_field_text(name), _field_text(value))  # a repeated field: the first counts
    return fields


def _json(data: bytes) -> dict[str, str]:
    text = _text(data)
    if nesting(text) > MAX_JSON_DEPTH:
        raise PushRejected(400, "The JSON body is nested too deeply")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PushRejected(400, f"The body is not valid JSON ({exc.msg} at character {exc.pos})") from None
    except ValueError:  # e.g. a number too long to convert
        raise PushRejected(400, "The body is not valid JSON") from None
    if not isinstance(document, dict):
        raise PushRejected(400, 'The JSON body must be one object of fields, e.g. {"callId": "…"}')
    if len(document) > MAX_FIELDS:
        raise PushRejected(413, f"The push has {len(document)} fields; at most {MAX_FIELDS} are accepted")
    fields: dict[str, str] = {}
    for name, value in document.items():
        if value is None:
            continue
        if isinstance(value, bool):
            fields[name] = "true" if value else "false"
        elif isinstance(value, str):
            fields[name] = value
        elif isinstance(value, int | float):
            fields[name] = str(value)
        else:  # a list or object, e.g. userAssociations sent as real JSON
            fields[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return fields
