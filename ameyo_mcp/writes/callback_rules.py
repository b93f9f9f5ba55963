"""What every callback must satisfy before it is sent, whichever tool or file asks for it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from ..ameyo.customers import is_phone_key
from ..config import CallingHours
from ..rules.phones import same_number
from ..rules.times import show


def outside_hours(at: datetime, hours: CallingHours, zone: ZoneInfo) -> str | None:
    """Why `at` (in the server's zone) needs the person's explicit yes, or None within hours."""
    local = at.astimezone(zone).time()
    if hours.start <= local < hours.end:
        return None
    return (
        f"{show(at, zone)} is outside calling hours ({hours.start:%H:%M}-{hours.end:%H:%M} {zone}, "
        "AMEYO_CALLING_HOURS)"
    )


def own_number(number: str, record: Mapping[str, object], region: str) -> bool:
    """Whether `number` is one of the record's own numbers: a callback dials the customer's own
    number, never one typed beside it."""
    return any(
        is_phone_key(name) and value and same_number(str(value), number, region)
        for name, value in record.items()
    )


def not_own_number(field: str, number: str) -> str:
    return (
        f"{field} {number} is not one of this record's numbers: a callback dials the customer's own "
        "number. Put it in the record (e.g. as phone2) or leave it out to call phone1"
    )
