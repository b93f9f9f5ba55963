"""Callback times: what a person (via the model) says, converted to what Ameyo expects.

Ameyo takes `yyyy-MM-dd HH:mm:ss` in the server's local time and shows times in that zone too, so
every conversion names its zone explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..errors import TimeInputError

AMEYO_FORMAT = "%Y-%m-%d %H:%M:%S"
# A callback a few seconds "in the past" because the model took its time is still meant for now.
_PAST_GRACE = timedelta(minutes=1)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class CallbackTime:
    at: datetime  # aware, in the Ameyo server's zone

    @property
    def wire(self) -> str:
        return self.at.strftime(AMEYO_FORMAT)

    @property
    def shown(self) -> str:
        return show(self.at)


def show(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """`2026-11-28 15:00 Asia/Kolkata`: every time we show carries its zone."""
    if zone is not None:
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    name = str(moment.tzinfo) if moment.tzinfo is not None else "server time"
    return f"{moment:%Y-%m-%d %H:%M} {name}"


def parse_callback_time(
    text: str,
    server_zone: ZoneInfo,
    *,
    input_zone: ZoneInfo | None = None,
    now: datetime | None = None,
    quote: bool = True,
) -> CallbackTime:
    """ISO 8601 with or without an offset; naive means `input_zone` (the server's by default).
    `quote=False` keeps the text out of the error (a file's cell, not the caller's own words)."""
    raw = text.strip()
    if _DATE_ONLY.fullmatch(raw):
        raise TimeInputError(
            f"callback_time {raw} has no time of day, and a callback at midnight is rarely meant: send "
            f"the time too, e.g. {raw}T10:00:00 (read in {server_zone})"
        )
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        shown = f" {raw[:40]!r}" if quote else ""
        raise TimeInputError(
            f"callback_time{shown} is not an ISO 8601 time: send e.g. 2026-11-28T15:00:00 "
            f"(read in {server_zone}) or 2026-11-28T15:00:00+05:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=input_zone or server_zone)
    moment = moment.astimezone(server_zone).replace(microsecond=0)
    current = (now or datetime.now(server_zone)).astimezone(server_zone)
    if moment < current - _PAST_GRACE:
        raise TimeInputError(
            f"callback_time {show(moment)} is in the past (it is now {show(current)}): ask for a future time"
        )
    return CallbackTime(moment)


def ago_text(seconds: float) -> str:
    """How long ago, for people: "just now", "14 min ago", "3 h ago", "2 days ago"."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"
