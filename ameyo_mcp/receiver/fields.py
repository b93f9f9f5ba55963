"""Pushed fields → a `CallEvent`: pure functions, no I/O. Every rule about what a push may hold is here.

Ameyo gives no format for these pushes; these rules follow what live deployments receive. Field
names are matched without regard to case (Ameyo spells `callbackTime` and `callBackTime` alike).
Times are the Ameyo server's local time unless they carry a zone; durations are seconds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from ..errors import PushRejected
from ..rules.redact import SECRETS
from ..rules.sanitize import clean_text, is_plain
from ..rules.times import epoch_in, show
from ..store.records import CallEvent

PhoneKey = Callable[[str], str | None]

# What one push may hold. A real push is a few hundred bytes; these leave room for the custom
# customer fields Ameyo echoes back, and keep a hostile one from costing memory or time.
MAX_FIELDS = 200
MAX_NAME_CHARS = 100
MAX_VALUE_CHARS = 4000
MAX_ASSOCIATIONS_CHARS = 8000  # userAssociations, before and after decoding
ASSOCIATIONS = "userAssociations"
MAX_ASSOCIATIONS = 50
MAX_DEPTH = 4
_TEXT_CAP = 200  # a normalised text field (ids, codes, names)
_URL_CAP = 1000


# C0 and C1 controls other than tab, newline and carriage return: no Ameyo field holds them, and a
# field that does is trying something (terminal escapes, NUL truncation in a database).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MISSING = {"", "null", "none", "undefined", "nan"}
# Half of a UTF-16 pair standing alone, which JSON can spell (`\ud800`: a system that cut a name
# between an emoji's two halves). No database encoding holds one: the store's write failed, and
# the push was answered 503 "send it again" for ever. It is kept as U+FFFD, and the call with it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(name: str, value: str) -> None:
    """Refuse control characters in a field name or value; callers check sizes first."""
    if _CONTROL.search(name) or _CONTROL.search(value):
        raise PushRejected(400, f"Field {_shown(name)!r} holds control characters; nothing was stored")


def whole_characters(fields: Mapping[str, str]) -> Mapping[str, str]:
    """`fields` with every lone surrogate in a name or value replaced by U+FFFD; the same mapping
    when none holds one (one search over them all)."""
    if not _SURROGATE.search("".join([*fields.keys(), *fields.values()])):
        return fields
    return {_SURROGATE.sub("\ufffd", name): _SURROGATE.sub("\ufffd", value) for name, value in fields.items()}


def _shown(name: str) -> str:
    return _CONTROL.sub("?", name)[:40]


class _Fields:
    """The push's fields by lower-case name; empty and 'null' values count as missing."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self._by_lower: dict[str, tuple[str, str]] = {}
        for name, value in fields.items():
            value = value.strip()
            if len(value) > 9 or value.lower() not in _MISSING:
                self._by_lower.setdefault(name.lower(), (name, value))

    def get(self, *names: str) -> tuple[str, str] | None:
        for name in names:
            hit = self._by_lower.get(name.lower())
            if hit is not None:
                return hit
        return None

    def text(self, *names: str, cap: int = _TEXT_CAP) -> str | None:
        hit = self.get(*names)
        if hit is None:
            return None
        # One plain line: a character this Python's Unicode does not know (unassigned, private)
        # is no more shown than a control one, which the push is refused for.
        value = clean_text(" ".join(hit[1].split()), cap)
        return value or None

    def integer(self, *names: str) -> int | None:
        hit = self.get(*names)
        if hit is None:
            return None
        name, value = hit
        try:
            number = float(value) if "." in value else int(value)
        except ValueError:
            raise PushRejected(422, f"{name} must be a whole number, not {value[:30]!r}") from None
        # The range first: '1e400' reads as infinity, which int() cannot convert.
        if not -(2**62) < number < 2**62 or number != int(number):
            raise PushRejected(422, f"{name} must be a whole number, not {value[:30]!r}")
        return int(number)


def normalise(
    fields: Mapping[str, str], *, zone: ZoneInfo, phone_key: PhoneKey, now: datetime | None = None
) -> CallEvent:
    """The event a push describes, or `PushRejected` saying what is wrong with it.

    The store's columns get the normalised values; `raw` keeps every field as sent (capped by the
    store), except `userAssociations`, kept decoded. Ringing, setup and hold times are checked as
    durations and kept in `raw`.
    """
    check_sizes(fields)
    fields = whole_characters(fields)
    # A push token (or another secret) given again under another name, or inside a recording's
    # URL, is kept masked: the store holds no secret.
    fields = _masked(fields)
    f = _Fields(fields)
    phone = f.text("phone", "phone1", "phoneNumber", "customerPhone", "dialedNumber", cap=40)
    key = phone_key(phone) if phone else None
    pushed = f.get(ASSOCIATIONS)
    # Decoded after the masking above, which saw `&#80;w-…` or `\u0050w-…`, not the secret they
    # spell: masked again as decoded, as it is kept and shown.
    associations = tuple(dict(_masked(item)) for item in decode_associations(pushed))
    for name in ("ringingTime", "setupTime", "holdTime"):
        _duration(f, name)
    raw: dict[str, Any] = {name: value for name, value in fields.items() if name.lower() != "token"}
    if pushed is not None:
        raw[pushed[0]] = list(associations)
    agent = f.text("userId", "agentId")
    if agent is None and associations:
        agent = " ".join(associations[0].get("userId", "").split())[:_TEXT_CAP] or None
    received = (now or datetime.now(UTC)).astimezone(zone)
    event = CallEvent(
        received_at=received,
        call_id=f.text("callId"),
        campaign_id=f.integer("campaignId"),
        lead_id=f.integer("leadId"),
        customer_id=f.integer("customerId", "customerCRTId"),
        phone=key,
        agent=agent,
        disposition=f.text("dispositionCode", "disposition"),
        disposition_name=f.text("dispositionName"),
        system_disposition=f.text("systemDisposition"),
        status_after=f.text("lastStatus"),
        call_type=f.text("callType"),
        dialled_at=_time(f, "dialedTime", "dialledTime", zone=zone, until=received + CALL_AHEAD),
        started_at=_time(f, "callStartTime", zone=zone, until=received + CALL_AHEAD),
        ended_at=_time(f, "callEndTime", zone=zone, until=received + CALL_AHEAD),
        talk_s=_duration(f, "talkTime"),
        attempts=f.integer("numAttempts", "attempts"),
        # Out of range, "none" in some dialers (epoch 0, 2099-12-31): kept in `raw`, and the call's
        # outcome kept with it, not refused over a field beside it.
        callback_at=_time(f, "callbackTime", zone=zone, until=received + CALLBACK_AHEAD, far="none"),
        recording_url=f.text("recordingFileUrl", "recordingUrl", cap=_URL_CAP),
        raw=raw,
    )
    if event.call_id is None and event.customer_id is None and event.phone is None:
        if phone is not None:
            raise PushRejected(
                422, f"phone {phone[:20]!r} is not a phone number, and there is no customerId or callId"
            )
        raise PushRejected(
            422, "The push has no customerId, phone or callId: there is nothing to file it under"
        )
    return event


def _masked(fields: Mapping[str, str]) -> Mapping[str, str]:
    """`fields` with every secret masked as sent and as shown. The columns and the history show a
    value with its zero-width and control characters dropped and its runs of spaces folded, which
    joins a secret they split (`Pw-SECRET\u200b…`, a password's space doubled): a value that holds
    one so is kept as shown, masked."""
    fields = SECRETS.scrub_values(fields)
    if all(is_plain(name) and is_plain(value) for name, value in fields.items()):
        return fields  # the usual push: nothing to drop or fold
    return {_as_shown(name): _as_shown(value) for name, value in fields.items()}


def _as_shown(text: str) -> str:
    """`text` as sent, or as shown masked when showing it joins a secret (`_masked`)."""
    if is_plain(text):
        return text
    shown = clean_text(text, len(text))
    masked = SECRETS.scrub(shown)
    return masked if masked != shown else text


def check_sizes(fields: Mapping[str, str]) -> None:
    if len(fields) > MAX_FIELDS:
        raise PushRejected(413, f"The push has {len(fields)} fields; at most {MAX_FIELDS} are accepted")
    for name, value in fields.items():
        if len(name) > MAX_NAME_CHARS:
            raise PushRejected(413, f"A field name is over {MAX_NAME_CHARS} characters")
        # userAssociations has a cap of its own, checked when it is decoded.
        if len(value) > MAX_VALUE_CHARS and name.lower() != ASSOCIATIONS.lower():
            raise PushRejected(413, f"Field {_shown(name)!r} is over {MAX_VALUE_CHARS} characters")
    # One search over every name and value (newlines between them are allowed characters); only
    # a push that holds a control character pays for finding which field.
    if _CONTROL.search("\n".join([*fields.keys(), *fields.values()])):
        for name, value in fields.items():
            check_text(name, value)


# --- times ---------------------------------------------------------------------------------------

# The shapes the vendor document shows: `2017-05-31 15:30:00`, the same with its space lost
# (`2016-08-2716:23:00`), with a zone abbreviation (`2010-04-13 22:30:00 IST`), Java's medium
# format (`Mar 3, 2015 11:29:34 AM`) and epoch milliseconds (`1425297998312`); ISO 8601 as well.
_NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%b %d, %Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
)
_UTC_NAMES = {"UTC", "GMT", "Z"}


def parse_time(text: str, zone: ZoneInfo) -> datetime | None:
    """A pushed time as an aware datetime in `zone`, or None when it is no time we know."""
    value = " ".join(text.split())
    moment: datetime | None
    if value.isascii() and value.isdigit():
        moment = epoch_in(value)  # other runs of digits are no time we know
        return moment.astimezone(zone) if moment is not None else None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        moment = _naive(value, zone)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def _naive(value: str, zone: ZoneInfo) -> datetime | None:
    head, _, suffix = value.rpartition(" ")
    tz: ZoneInfo | None = None
    named: str | None = None
    # A trailing zone abbreviation: UTC/GMT mean UTC; any other must be one the server's zone goes
    # by (IST for Asia/Kolkata): abbreviations are ambiguous, and read as the server's zone an EST
    # time would be hours off without a word.
    if head and suffix.isalpha() and suffix.isupper() and suffix not in ("AM", "PM"):
        value, tz = head, ZoneInfo("UTC") if suffix in _UTC_NAMES else zone
        named = None if suffix in _UTC_NAMES else suffix
    for fmt in _NAIVE_FORMATS:
        try:
            moment = datetime.strptime(value, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
        if named is not None and named not in _abbreviations(zone, moment.year):
            raise PushRejected(
                422,
                f"The time {value[:30]!r} {named} is not in this server's zone: it reads Ameyo's times in "
                f"{zone} ({'/'.join(sorted(_abbreviations(zone, moment.year)))}); set AMEYO_TIMEZONE to "
                "the Ameyo server's zone",
            )
        return moment
    return None


@lru_cache(maxsize=64)
def _abbreviations(zone: ZoneInfo, year: int) -> frozenset[str]:
    """The abbreviations `zone` goes by in `year` (IST; EST and EDT), sampled month by month; kept,
    as every push whose times carry "IST" asks again."""
    names: set[str] = set()
    for month in range(1, 13):
        try:
            names.add(datetime(year, month, 15, 12, tzinfo=zone).tzname() or "")
        except (OverflowError, ValueError):
            continue
    return frozenset(names - {""})


# The times a push may carry: none before 2000; a call's own no later than three days past the push
# (Ameyo's clock may run ahead, or its zone be taken for another: the history says so of a call
# dated after now), a callback it asks for no later than ten years. Year 1 read in
# Asia/Kolkata is year 0 in UTC, which no datetime holds, and a call dated 9999 stayed every
# customer's "last call".
EARLIEST_YEAR = 2000
CALL_AHEAD = timedelta(days=3)
CALLBACK_AHEAD = timedelta(days=3653)


def _in_range(moment: datetime, until: datetime, zone: ZoneInfo) -> bool:
    return datetime(EARLIEST_YEAR, 1, 1, tzinfo=zone) <= moment <= until


def _time(
    f: _Fields, *names: str, zone: ZoneInfo, until: datetime, far: Literal["refused", "none"] = "refused"
) -> datetime | None:
    """The time a field gives; one out of range refuses the push, or with `far="none"` is no time."""
    hit = f.get(*names)
    if hit is None:
        return None
    name, value = hit
    try:
        moment = parse_time(value, zone)
    except OverflowError:  # a date the calendar has, beyond it in the server's zone: out of range
        moment = datetime.max.replace(tzinfo=zone)
    if moment is None:
        raise PushRejected(
            422,
            f"{name} {value[:40]!r} is not a time: send yyyy-MM-dd HH:mm:ss (the Ameyo server's "
            "local time), ISO 8601, or epoch milliseconds",
        )
    if not _in_range(moment, until, zone):
        if far == "none":
            return None
        raise PushRejected(
            422,
            f"{name} {value[:40]!r} is out of range: it may be from 2000 to {show(until, zone)} (check "
            "the Ameyo server's clock and the time's format)",
        )
    return moment


# --- durations -----------------------------------------------------------------------------------

_CLOCK = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)")


def parse_duration(text: str) -> float | None:
    """Seconds: `45`, `45.5`, `00:00:45`/`0:45`, or `45000ms`. None when it is none of these."""
    value = text.strip().lower()
    scale = 1.0
    if value.endswith("ms"):
        value, scale = value[:-2].strip(), 0.001
    elif value.endswith("s"):
        value = value[:-1].strip()
    clock = _CLOCK.fullmatch(value)
    if clock is not None and scale == 1.0:
        hours, minutes, seconds = clock.groups()
        whole = int(hours or 0) * 3600 + int(minutes) * 60
        if whole >= 10**7:  # out of range, and past a float's when it is long enough (OverflowError)
            return None
        number = whole + float(seconds)
    else:
        try:
            number = float(value) * scale
        except ValueError:
            return None
    # Negative or over 115 days is not a call, written as seconds or as hours:minutes:seconds.
    if not 0 <= number < 10**7:
        return None
    return round(number, 3)


def _duration(f: _Fields, *names: str) -> float | None:
    hit = f.get(*names)
    if hit is None:
        return None
    name, value = hit
    seconds = parse_duration(value)
    if seconds is None:
        raise PushRejected(422, f"{name} {value[:30]!r} is not a duration: send seconds, e.g. 45")
    return seconds


# --- userAssociations ----------------------------------------------------------------------------


def decode_associations(hit: tuple[str, str] | None) -> tuple[dict[str, str], ...]:
    """`[{&quot;userId&quot;:…}]` → a tuple of flat string mappings.

    Sizes are capped before decoding and after: entity decoding only ever shrinks text (and is
    done at most twice, for a form that encoded it again), JSON nesting is bounded before
    `json.loads` sees it, and control characters that entities spell out are refused.
    """
    if hit is None:
        return ()
    name, text = hit
    if len(text) > MAX_ASSOCIATIONS_CHARS:
        raise PushRejected(413, f"{name} is over {MAX_ASSOCIATIONS_CHARS} characters")
    decoded = text
    data: object = None
    for _ in range(2):
        if "&" not in decoded:
            break
        decoded = html.unescape(decoded)
        if decoded[:1] in "[{":
            data = _loads(decoded, name, strict=False)
            if data is not None:
                break
    check_text(name, decoded)
    if data is None:
        data = _loads(decoded, name, strict=True)
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_ASSOCIATIONS:
        raise PushRejected(413, f"{name} lists {len(items)} entries; at most {MAX_ASSOCIATIONS}")
    out: list[dict[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            raise PushRejected(422, f"{name} must be a JSON list of objects")
        flat = whole_characters(
            {
                str(k)[:MAX_NAME_CHARS]: (v if isinstance(v, str) else json.dumps(v))[:_TEXT_CAP]
                for k, v in list(item.items())[:20]
                if v is not None
            }
        )
        for key, value in flat.items():  # JSON escapes (\u001b) spell control characters too
            check_text(f"{name}.{key}", value)
        out.append(dict(flat))
    return tuple(out)


_BRACKETS = re.compile(r"[\[\]{}]")


def nesting(text: str) -> int:
    """How deep JSON brackets nest, counted before a parser (which recurses) sees the text.
    Brackets inside strings count too: an overestimate only refuses a strange push."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _loads(text: str, name: str, *, strict: bool) -> object:
    if nesting(text) > MAX_DEPTH:
        if strict:
            raise PushRejected(422, f"{name} is nested deeper than {MAX_DEPTH} levels")
        return None
    try:
        return json.loads(text)
    except ValueError:
        if strict:
            raise PushRejected(422, f"{name} is not JSON, even after decoding HTML entities") from None
        return None
