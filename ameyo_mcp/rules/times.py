"""Callback times: what a person (via the model) says, converted to what Ameyo expects.

Ameyo takes `yyyy-MM-dd HH:mm:ss` in the server's local time and shows times in that zone too, so
every conversion names its zone explicitly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..errors import TimeInputError
from .sanitize import data_text

AMEYO_FORMAT = "%Y-%m-%d %H:%M:%S"
# A callback a few seconds "in the past" because the model took its time is still meant for now.
_PAST_GRACE = timedelta(minutes=1)
# A callback further ahead is a mistyped year (2200), not a plan.
MAX_AHEAD = timedelta(days=5 * 366)
# An offset that may end an ISO 8601 text. Python reads "2030-06-04+10:00" as 10:00 (the offset
# taken for a time) and "2030-W23-2+00:00" as midnight without its zone: a date's offset is split
# off before the date is read.
_OFFSET = re.compile(r"(Z|[+-]\d{2}(?::?\d{2})?)$")


def _date_and_offset(text: str) -> tuple[date, str] | None:
    """The date of an ISO 8601 text that has no time of day, in any of its forms ("2030-06-04",
    "20300604", the week date "2030-W23-2"), with its offset ("" for none); None when the text has a
    time of day or is no date."""
    try:
        return date.fromisoformat(text), ""
    except ValueError:
        pass
    found = _OFFSET.search(text)
    if found is None:
        return None
    try:
        return date.fromisoformat(text[: found.start()]), found[0]
    except ValueError:
        return None


def date_alone(text: str) -> str | None:
    """The date (YYYY-MM-DD) of an ISO 8601 text that has no time of day, or None when it has one
    (or is no date at all)."""
    found = _date_and_offset(text.strip())
    return found[0].isoformat() if found else None


class NoSuchMoment(TimeInputError):
    """An ISO 8601 text in the right form whose date or time the calendar does not have (30
    February, month 13, 25:00): its message says which part, in Python's words."""

    def said(self, name: str, shown: str) -> str:
        """The refusal of parameter `name` (`shown`: its text quoted, or nothing)."""
        return (
            f"{name}{shown} is not a real date and time ({self}): check the day of the month, the "
            "month and the hour"
        )


def iso_moment(text: str) -> datetime:
    """An ISO 8601 date, or date and time, with or without an offset ("Z" too); a date alone is its
    midnight, in its offset when it has one. Raises ValueError when it is neither, NoSuchMoment
    when its form is right and the calendar has no such day or time."""
    raw = text.strip()
    found = _date_and_offset(raw)
    if found is not None:
        day, offset = found
        raw = f"{day.isoformat()}T00:00{'+00:00' if offset == 'Z' else offset}"
    elif raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(raw)
    except ValueError as exc:
        # datetime's own range checks ("day is out of range for month", "hour must be in 0..23")
        # come after the form is read: the text is a date, one the calendar lacks.
        if _OUT_OF_RANGE.search(str(exc)):
            raise NoSuchMoment(str(exc)) from None
        raise


_OUT_OF_RANGE = re.compile(r"^(year|month|day|hour|minute|second) (is out of range|must be in)")


@dataclass(frozen=True)
class CallbackTime:
    at: datetime  # aware, in the Ameyo server's zone

    @property
    def wire(self) -> str:
        return self.at.strftime(AMEYO_FORMAT)

    @property
    def shown(self) -> str:
        return show(self.at)


# Ameyo's clock and this server's may differ by a few minutes: a call Ameyo dates up to this far
# ahead of this server's now has happened all the same.
CLOCK_SKEW = timedelta(minutes=5)


def from_epoch(number: int | float) -> datetime:
    """A time Ameyo gives as a number since the epoch, in UTC: milliseconds (`serverTime`, 13
    digits) or seconds (10 digits), told apart by size. The one reading of such a number, for the
    command answers, the index's sync and the pushes alike."""
    return datetime.fromtimestamp(number / 1000 if abs(number) >= 10**11 else number, tz=UTC)


def epoch_in(text: str) -> datetime | None:
    """The time a text of 10 or 13 ASCII digits gives (`from_epoch`); None for any other text."""
    return from_epoch(int(text)) if len(text) in (10, 13) and text.isascii() and text.isdigit() else None


def day_so_far(zone: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today from midnight up to now, in `zone` (exclusive end: `CLOCK_SKEW` past now, never past
    midnight): the one span "today" means in the call history, its resource and the operator's
    page. A call dated later than that (a push's time, or the zone it is read in, off) is not
    today's yet, and the call history says so."""
    current = (now or datetime.now(zone)).astimezone(zone)
    midnight = datetime.combine(current.date(), time(), zone)
    tomorrow = datetime.combine(current.date() + timedelta(days=1), time(), zone)
    return midnight, min(current + CLOCK_SKEW, tomorrow)


def tomorrow_at_3pm(now: datetime) -> datetime:
    """The example every answer about a time in words gives: tomorrow at 3 pm on `now`'s clock."""
    return (now + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)


def show(moment: datetime, zone: ZoneInfo | None = None, *, seconds: bool = False) -> str:
    """`2026-11-28 15:00 Asia/Kolkata`: every time we show carries its zone. `seconds`: with its
    seconds when they are not zero (a callback's, whose seconds were asked for)."""
    if zone is not None:
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    name = str(moment.tzinfo) if moment.tzinfo is not None else "server time"
    if seconds and moment.second:
        return f"{moment:%Y-%m-%d %H:%M:%S} {name}"
    return f"{moment:%Y-%m-%d %H:%M} {name}"


def show_wire(text: str, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A time as it goes to Ameyo (`AMEYO_FORMAT`, the wall clock of `zone`, the server's), shown as
    Ameyo's answer to it would be: a dry run's time and its real run's then read the same."""
    return show(datetime.strptime(text, AMEYO_FORMAT), zone, seconds=seconds)


def parse_callback_time(
    text: str,
    server_zone: ZoneInfo,
    *,
    input_zone: ZoneInfo | None = None,
    now: datetime | None = None,
    quote: bool = True,
) -> CallbackTime:
    """ISO 8601 with or without an offset; naive means `input_zone` (the server's by default).
    `quote=False` keeps the text out of the error (a file's cell, not the caller's own words).

    Refused with TimeInputError: a time in the past or more than `MAX_AHEAD` ahead (2200 is a
    typo, not a plan), a local time the clocks skip, and one that happens twice in the server's
    zone: Ameyo takes its local time without an offset, so it could ring at either."""
    raw = text.strip()
    shown = f" {data_text(raw, 40)!r}" if quote else ""
    day = date_alone(raw)
    if day is not None:
        raise TimeInputError(
            f"callback_time {raw[:40]} has no time of day, and a callback at midnight is rarely meant: "
            f"send the time too, e.g. {day}T10:00:00 (read in {server_zone})"
        )
    current = (now or datetime.now(server_zone)).astimezone(server_zone)
    try:
        moment = iso_moment(raw)
    except NoSuchMoment as exc:
        raise TimeInputError(exc.said("callback_time", shown)) from None
    except ValueError:
        # Words such as "tomorrow 3pm" are the model's to turn into a date: today's date in the
        # server's zone, and an example built on it, are what it needs to do that.
        tomorrow = tomorrow_at_3pm(current)
        example = f"{tomorrow:%Y-%m-%dT%H:%M:%S}"
        raise TimeInputError(
            f"callback_time{shown} is not an ISO 8601 time with a date and a time of day. It is now "
            f"{show(current)}: tomorrow at 3 pm is {example} (read in {server_zone}), or with its "
            f"offset {tomorrow.isoformat()}."
        ) from None
    if moment.tzinfo is None:
        zone = input_zone or server_zone
        wall, moment = moment, moment.replace(tzinfo=zone)
        _exists(wall, zone)
    try:
        moment = moment.astimezone(server_zone).replace(microsecond=0)
    except OverflowError:  # a year 1 or 9999 moved across a zone: no such time to call
        raise TimeInputError(
            f"callback_time{shown} is too far from now (it is now {show(current)}): check the year"
        ) from None
    if _twice(moment.replace(tzinfo=None), server_zone):
        raise TimeInputError(
            f"callback_time {moment:%Y-%m-%d %H:%M} happens twice in {server_zone} (the clocks go back "
            "then), and Ameyo takes its local time without an offset, so it could ring at either: ask for "
            "a time outside that hour"
        )
    if moment < current - _PAST_GRACE:
        raise TimeInputError(
            f"callback_time {show(moment)} is in the past (it is now {show(current)}): ask for a future time"
        )
    if moment > current + MAX_AHEAD:
        raise TimeInputError(
            f"callback_time {show(moment)} is more than five years ahead (it is now {show(current)}): "
            "check the year with the person"
        )
    return CallbackTime(moment)


def _exists(wall: datetime, zone: ZoneInfo) -> None:
    """TimeInputError when the clocks of `zone` skip the local time `wall` (a daylight saving gap)."""
    try:
        real = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    except OverflowError:
        return  # at the ends of the calendar: the range checks say it
    if real.replace(tzinfo=None) != wall:
        raise TimeInputError(
            f"callback_time {wall:%Y-%m-%d %H:%M} does not exist in {zone}: the clocks go forward then, "
            f"so that hour is skipped. Ask for another time, e.g. {real:%H:%M}"
        )


def _twice(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the local time `wall` happens twice in `zone` (the hour repeated when clocks go back)."""
    try:
        first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
        return first.utcoffset() != second.utcoffset() and first.astimezone(UTC) != second.astimezone(UTC)
    except OverflowError:
        return False


def ago_text(seconds: float) -> str:
    """How long ago, for people: "just now", "14 min ago", "3 h ago", "2 days ago"."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"
