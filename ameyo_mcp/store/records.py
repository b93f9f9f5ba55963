"""What goes into the store and what comes out: plain frozen dataclasses, no SQL, no I/O."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from ..rules.outcomes import DIAL_STATUSES

RAW_CAP_BYTES = 8192
_RAW_VALUE_CAP = 1000


class ContactRow(NamedTuple):
    """One contact as the sync (or an upload) saw it in Ameyo.

    `phones` are keys already made by the phone rule (`phones.key`); `names` are the raw name
    fields, folded by the store. `dialled_at` is an aware datetime, or whole seconds since the
    epoch as the store keeps times (what the sync makes: an aware datetime costs three times as
    much to make and to turn into seconds). A tuple: a sync makes a million of them, and a frozen
    dataclass costs five times as much to make.
    """

    customer_id: int
    lead_id: int | None = None
    phones: Sequence[str] = ()
    names: Sequence[str | None] = ()
    status: str | None = None
    disposition: str | None = None
    attempts: int | None = None
    dialled_at: datetime | int | None = None
    name: str | None = None  # the name to show, as Ameyo holds it (`names` are searched by)


@dataclass(frozen=True)
class ContactQuery:
    """Which of a campaign's indexed contacts a listing wants: each of `words` (folded) starts a word
    of the name, the status is one of `statuses` and the disposition one of `dispositions` (each as
    the index holds it), the lead one of `lead_ids`; an empty criterion keeps every contact."""

    campaign_id: int
    words: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    lead_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class IndexedContact:
    """A contact as the index holds it, with the sync pass that last saw it."""

    campaign_id: int
    customer_id: int
    lead_id: int | None
    phones: tuple[str, ...]
    names: str  # folded words, to search by
    status: str | None
    disposition: str | None
    attempts: int | None
    dialled_at: datetime | None
    seen_pass: int
    name: str | None = None  # as Ameyo holds it, to show (None: the index has not read it yet)

    @property
    def shown_name(self) -> str:
        """The name to show: as Ameyo holds it, else (an index synced before it kept that) its
        folded words, capitalised ("" for none)."""
        return self.name or self.names.title()


@dataclass(frozen=True)
class SyncPass:
    """A full pass over a campaign: its number, and where to resume it (None: from the start)."""

    campaign_id: int
    number: int
    cursor: str | None
    resumed: bool


@dataclass(frozen=True)
class SyncLease:
    """A sync's hold on a campaign: only its holder syncs it while the hold lasts. Taken with the
    pass, renewed for `lease_s` with every page, let go at the end; a holder that stops renewing
    loses it when `lease_s` has passed, or at once when `alive` says its process is gone (on its host).
    Times come from `clock` (seconds since the epoch)."""

    holder: str
    lease_s: float
    alive: Callable[[str], bool]
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class CampaignIndex:
    """What the index knows of a campaign: its size and the last complete pass."""

    campaign_id: int
    name: str | None
    contacts: int
    synced_at: datetime | None
    synced_contacts: int | None
    status_counts: Mapping[str, int]
    pass_in_progress: int | None
    cursor: str | None
    # The customer fields its contacts have, as its syncs saw them (empty: not known yet).
    fields: tuple[str, ...] = ()
    # The highest customer id its last complete pass read, or raised since by a read of the customers
    # added after it (`index.catch_up`) (None: that pass read none, or was made by a version that did
    # not keep it): every customer up to it is in the index, those added in Ameyo since are above it.
    synced_through: int | None = None
    # The name rule its last complete pass keyed names by (`store.fold.NAME_RULE`; None: an earlier
    # one, `keyed_otherwise`, or a pass an earlier version began, whose pages are keyed by it).
    name_rule: int | None = None


@dataclass(frozen=True)
class CallEvent:
    """One call outcome pushed by Ameyo, normalised by its receiver; `raw` is what was sent.

    Times are aware datetimes; `phone` is a key made by the phone rule; durations are seconds.
    """

    received_at: datetime
    call_id: str | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    customer_id: int | None = None
    phone: str | None = None
    agent: str | None = None
    disposition: str | None = None
    disposition_name: str | None = None
    system_disposition: str | None = None
    call_type: str | None = None
    dialled_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    talk_s: float | None = None
    attempts: int | None = None
    callback_at: datetime | None = None
    recording_url: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    # The customer's status after the call, where the push says it (`lastStatus`): not a column of
    # the call history (`raw` keeps it), but what the contacts index takes.
    status_after: str | None = field(default=None, metadata={"column": False})

    @property
    def at(self) -> datetime:
        """When the call happened, as best known: time ranges and order use this."""
        return self.started_at or self.dialled_at or self.ended_at or self.received_at

    @property
    def outcome(self) -> str:
        # The name agents chose, as getContacts shows it (the store's counts use the same order).
        return self.disposition_name or self.disposition or self.system_disposition or "unknown"

    def record_after(self) -> tuple[str | None, str | None]:
        """What the call made of the customer's record in Ameyo, as getContacts shows it: its
        status (the outcome with respect to the system, upper case) and its disposition (the one an
        agent chose); None where the push does not tell. The status is the push's `lastStatus`,
        else a dialled call's system disposition (an inbound call dials no one); a disposition
        code that is one of the system's outcomes is no agent's choice (the document, 4.6.3)."""
        code = self.disposition
        # A code that is one of the system's outcomes (a push without its agent's disposition
        # carries the outcome there) is no agent's choice: it is the system disposition.
        systems = code if code is not None and code.upper() in DIAL_STATUSES else None
        status = self.status_after
        if status is None and "inbound" not in (self.call_type or "").lower():
            status = self.system_disposition or systems
        chosen = self.disposition_name
        if chosen is None and code is not None and systems is None and code != self.system_disposition:
            chosen = code
        return (status.upper() if status else None), chosen

    def dedup_key(self) -> str:
        """The same call and outcome pushed twice has the same key. With a call id, the call id and
        the disposition ids; without one, every field that was sent."""
        if self.call_id:
            parts: list[object] = [
                "call",
                self.call_id,
                self.customer_id,
                self.disposition,
                self.system_disposition,
            ]
        else:
            parts = ["raw", sorted((str(k), str(v)) for k, v in self.raw.items())]
        text = json.dumps(parts, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoredCall:
    """A call event read back: its row id and the event (with `raw` as stored, capped)."""

    id: int
    event: CallEvent


@dataclass(frozen=True)
class CallQuery:
    """Filters of a call-history query; None (or nothing) means any. `phones`: the number's key is
    one of these whole keys (`PhoneSearch.keys`); `phone_tails`, it ends with one of them
    (`PhoneSearch.tails`); `customer_ids`, any of these customers (none: no call); `no_campaign`,
    only the calls pushed without a campaignId; `callback_after`, only the calls whose outcome set
    a callback (`callbackTime`) later than this."""

    since: datetime | None = None
    until: datetime | None = None
    phones: tuple[str, ...] = ()
    phone_tails: tuple[str, ...] = ()
    customer_id: int | None = None
    customer_ids: tuple[int, ...] | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    agent: str | None = None
    disposition: str | None = None
    system_disposition: str | None = None
    no_campaign: bool = False
    callback_after: datetime | None = None
    limit: int = 50


@dataclass(frozen=True)
class QueryPlan:
    """How the database ran one of the store's reads (see `explain.py`): the statement as sent, the
    plan's lines as the backend printed them, and on SQLite the virtual machine instructions the
    read took (PostgreSQL's lines say how many rows each step visited)."""

    sql: str
    backend: str
    lines: tuple[str, ...]
    steps: int | None = None


@dataclass(frozen=True)
class CallHistory:
    """The calls matching a query, newest first, up to its limit; `total` and `by_outcome` count
    every match, not only those returned."""

    calls: list[StoredCall]
    total: int
    by_outcome: dict[str, int]


@dataclass(frozen=True)
class HourTally:
    """One hour of a `DayTally`, from `start` (UTC): how many calls, and how many of each outcome."""

    start: datetime
    calls: int
    by_outcome: dict[str, int]


@dataclass(frozen=True)
class DayTally:
    """The calls pushed for a span of time (a day, usually), as the store counts them when they are
    stored: in all; by outcome (the disposition's name, else its code, else the system disposition,
    else "unknown", as `CallHistory` counts them); by campaign (None: pushed without one); and hour
    by hour from `since`, every hour listed, the last one cut short by `until` when the span is not
    whole hours. Most first. Exact whatever the span; so is each hour when `since` is on a quarter
    hour (a day's start in any zone is), else a quarter hour astride two hours counts in the first."""

    since: datetime
    until: datetime
    calls: int
    by_outcome: dict[str, int]
    by_campaign: dict[int | None, int]
    hours: tuple[HourTally, ...]


def cap_raw(raw: Mapping[str, Any], cap: int = RAW_CAP_BYTES) -> str:
    """The raw fields as JSON of at most `cap` bytes: long values cut, then whole fields dropped
    (in order) with `"_truncated": true` saying so."""
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and len(value) > _RAW_VALUE_CAP:
            value = value[:_RAW_VALUE_CAP] + "…"
        kept[str(key)[:200]] = value
    encoded = _json_bytes(kept)
    if len(encoded) <= cap:
        return encoded.decode()
    out: dict[str, Any] = {"_truncated": True}
    size = len(_json_bytes(out))
    for key, value in kept.items():
        piece = len(_json_bytes({key: value}))
        if size + piece > cap:
            continue
        out[key] = value
        size += piece
    return _json_bytes(out).decode()


def _json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; orjson (a push is stored at thousands a second), and `json` for what
    orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def to_epoch(value: datetime | int | None) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if value.tzinfo is None:
        raise ValueError("the store keeps aware times only: give the datetime a zone")
    return int(value.timestamp())


# The ends of what a datetime holds in any zone: a far-off time stored before the receiver refused
# them (year 1 in Asia/Kolkata is year 0 in UTC; 9999-12-31 20:00 UTC is past the calendar in
# Asia/Kolkata) is read as one of them, not failed on in every question.
_FIRST, _LAST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
_FIRST_S, _LAST_S = int(_FIRST.timestamp()), int(_LAST.timestamp())


def from_epoch(value: int | None) -> datetime | None:
    if value is None:
        return None
    if not _FIRST_S <= value <= _LAST_S:
        return _FIRST if value < _FIRST_S else _LAST
    return datetime.fromtimestamp(value, tz=UTC)
