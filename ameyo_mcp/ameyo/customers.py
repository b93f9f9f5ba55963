"""Reading customer records, whose fields are free-form per deployment (only `phone1` is fixed)."""

from __future__ import annotations

from typing import Any

from .models import Contact

# The one field every customer record has: the number Ameyo dials and matches customers by.
PRIMARY_COLUMN = "phone1"
_NAME_KEYS = ("name", "customer_name", "customerName", "full_name", "fullName")


def is_phone_key(key: str) -> bool:
    lowered = key.lower()
    return "phone" in lowered or "mobile" in lowered


def phone_values(contact: Contact) -> list[str]:
    """Every phone-like field of a contact as Ameyo holds it; compare them by the phone rule."""
    return [str(v) for k, v in contact.customer_data.items() if is_phone_key(k) and v is not None]


def display_name(data: dict[str, Any]) -> str | None:
    for key in _NAME_KEYS:
        if data.get(key):
            return str(data[key])
    first = data.get("first_name") or data.get("firstName")
    last = data.get("last_name") or data.get("lastName")
    if first or last:
        return " ".join(str(p) for p in (first, last) if p)
    return None
