"""Reading customer records, whose fields are free-form per deployment (only `phone1` is fixed)."""

from __future__ import annotations

import re
from typing import Any

from .models import Contact

_NAME_KEYS = ("name", "customer_name", "customerName", "full_name", "fullName")
_NON_DIGITS = re.compile(r"\D")


def digits(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def is_phone_key(key: str) -> bool:
    lowered = key.lower()
    return "phone" in lowered or "mobile" in lowered


def phones(contact: Contact) -> list[str]:
    """The digits of every phone-like field of a contact."""
    return [digits(str(v)) for k, v in contact.customer_data.items() if is_phone_key(k) and v is not None]


def display_name(data: dict[str, Any]) -> str | None:
    for key in _NAME_KEYS:
        if data.get(key):
            return str(data[key])
    first = data.get("first_name") or data.get("firstName")
    last = data.get("last_name") or data.get("lastName")
    if first or last:
        return " ".join(str(p) for p in (first, last) if p)
    return None
