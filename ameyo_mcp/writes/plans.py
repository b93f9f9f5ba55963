"""Planning a write: the request Ameyo will run, its identity and ledger keys (a callback's is the
same in every command), and the words that name it in questions, answers and the audit."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..ameyo.client import compact_json
from ..ameyo.columns import attempts_of, status_of
from ..ameyo.customers import PRIMARY_COLUMN
from ..ameyo.models import (
    AddCallbackRequest,
    CallbackRecord,
    CampaignInfo,
    CustomerAndCallback,
    UploadContactsRequest,
    UploadWithCallbacksRequest,
    campaign_label,
)
from ..errors import as_clause
from ..rules import phones
from ..rules.counts import counted
from ..rules.times import ago_text, show, show_wire

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ..store.ledger import LedgerEntry


WriteRequest = UploadContactsRequest | UploadWithCallbacksRequest | AddCallbackRequest


@dataclass(frozen=True)
class Write:
    """One write as Ameyo will run it, planned before anything is sent."""

    request: WriteRequest
    identity: str
    records: int
    campaign: CampaignInfo
    lead_id: int | None
    label: str  # for questions and errors: "5 records into lead 21 of MoviStarSurvey (1)"
    # Where it came from, kept in its audit lines (a bulk batch: file, batch id, lines).
    context: Mapping[str, object] = field(default_factory=dict)
    # The callbacks it schedules for known customers, by `callback_key`, with words for them: the
    # same callback asked for by another command (addCallback, then uploadContactAndAddCallback) is
    # the same thing for Ameyo to do, and is not done twice either.
    callbacks: tuple[tuple[str, str], ...] = ()
    # A file's batch: remembered for the whole ledger, so that a copy of the file sends nothing twice.
    lasting: bool = False
    # The numbers an upload sends, as (phones.identity, phone1 as sent): the ledger keeps the first
    # spelling of each, which later uploads of the same number send (see `WritePath.spellings`).
    numbers: tuple[tuple[str, str], ...] = ()
    # An upload's plain records, as (phones.identity, digest of the record with its lead and
    # options): the ledger keeps each, and another upload of them (a copy of the file cut into other
    # batches, the same record through a tool) finds them (`RowsSent`).
    rows: tuple[tuple[str, str], ...] = ()
    # Rows of unknown outcome that other file batches sent are resent (retry_unknown), not held.
    resend_unknown: bool = False
    # Who each callback dials, when, and the agent it goes to (None: any), by its key: another
    # callback to them at another time, by any tool, does not replace it (Ameyo cannot move or
    # cancel one), and says so.
    subjects: tuple[tuple[str, str, str, str | None], ...] = ()


@dataclass(frozen=True)
class Approval:
    """Proof that a write of `records` records was confirmed; made only by `WritePath.approve`."""

    records: int
    _key: object = field(repr=False, compare=False)


@dataclass(frozen=True)
class Sent:
    """Ameyo's answer to a write, or to the identical earlier write when `repeat_of_s` is set."""

    answer: Sequence[Any]
    call_id: str
    repeat_of_s: float | None = None
    # Where the earlier write came from (a file's batch: file, batch, lines), for a repeat.
    earlier: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StillToCome:
    """Callbacks to one customer still to come, each as its time (Ameyo server's time) and the
    agent it goes to, if any (`callback_words`): those Ameyo answered as scheduled, and those it
    may have scheduled (in flight, or of unknown outcome). One a callback: three at the same time
    for different agents are three, which ring three times."""

    scheduled: list[str]
    maybe: list[str]

    @classmethod
    def of_all(cls, each: Iterable[StillToCome]) -> StillToCome:
        """One customer's, from those of each of their numbers (each callback dials one number)."""
        found = list(each)
        scheduled = sorted(at for times in found for at in times.scheduled)
        return cls(scheduled, sorted(at for times in found for at in times.maybe))


# A callback's time as sent to Ameyo (`AMEYO_FORMAT`), inside the words that name it.
_WIRE_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def callback_words(at: str | datetime, agent: str | None, zone: ZoneInfo, *, set_by: bool = False) -> str:
    """A callback still to come as answers list it: its time (`AMEYO_FORMAT`, the wall clock of the
    Ameyo server's `zone`, or a moment, as a push's is kept) shown as every answer shows a time, with
    its zone and to the second only when it has seconds, and its agent when it has one (the agent it
    goes to; `set_by`: the agent whose call set it, a push's, whom it may not go to)."""
    try:
        shown = (
            show(at, zone, seconds=True) if isinstance(at, datetime) else show_wire(at, zone, seconds=True)
        )
    except ValueError:  # (not as this server sends times: shown as it is)
        shown = str(at)
    return f"{shown} {'set by' if set_by else 'for'} agent {agent}" if agent else shown


def identity_of(server: str, request: WriteRequest, *, ordered: bool = False) -> str:
    """What Ameyo will do, as a key: the server, the command and the resolved request, with
    records in a canonical order (the same records in another order are the same write).

    `ordered`: the records' order is part of the write, as in a file's batch, whose rows always
    come in file order (a copy of the file makes the same batches). Its records are then hashed as
    they come, as their compact JSON (exact for these plain values, and a tenth of the cost of
    sorting them), and never match an unordered identity."""
    wire = request.wire()
    wire.pop("sessionId", None)
    records = _wire_records(wire)
    lines = ["records in their order", compact_json(records)] if ordered else sorted(_lines(request, records))
    text = "\n".join([server, request.command, canonical(wire), *lines])
    return hashlib.sha256(text.encode()).hexdigest()


def record_keys(request: WriteRequest) -> list[str]:
    """Each record of `request`, in its order, as the unordered identity takes it (`identity_of`):
    the key Ameyo's answer row to that record is kept under, so that a repeat of the same write
    with its records in another order tells each record its own row. Empty for a request that
    carries no records (addCallback)."""
    return [
        hashlib.sha256(line.encode()).hexdigest()[:24]
        for line in _lines(request, _wire_records(request.wire()))
    ]


def _wire_records(wire: dict[str, Any]) -> list[Any]:
    return wire.pop("customerRecords", None) or wire.pop("customerAndCallbackRecords", None) or []


def _lines(request: WriteRequest, records: list[Any]) -> list[str]:
    if isinstance(request, UploadContactsRequest):  # flat str → str records
        # Each record as the repr of its sorted items: canonical for these plain values, and a
        # fifth of json.dumps' cost on a batch of 500.
        return list(map(repr, map(sorted, map(dict.items, records))))
    return [repr(_sorted_items(record)) for record in records]


def _sorted_items(value: object) -> object:
    if isinstance(value, dict):
        return sorted((k, _sorted_items(v)) for k, v in value.items())
    return value


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def callback_key(
    server: str,
    campaign_id: int,
    customer_id: int | str | None,
    number: str,
    when_wire: str,
    agent: str | None,
    region: str,
) -> tuple[str, str]:
    """One callback as Ameyo will hold it, whichever command schedules it, and words for it.

    The customer is their number under the phone rule (`phones.identity`): Ameyo dials a number,
    and matches an uploaded customer by it, so one person asked for by id in one tool and by a
    number in another spelling in the next is one callback. Agent ids are compared without case.
    Its time is its minute: a retry that changed the seconds ("15:00:30" for "15:00") was a second
    callback, and the customer was rung twice within a minute (`AMEYO_FORMAT` begins with it)."""
    agent = (agent or "").strip().casefold()
    minute = when_wire[:16]
    text = repr(("callback", server, campaign_id, _dialled(number, region), minute, agent))
    who = f"customer {customer_id}" if customer_id else "the customer"
    words = f"a callback to {who} on {number} at {when_wire} (the Ameyo server's time)"
    return hashlib.sha256(text.encode()).hexdigest(), words


def plan_callback(
    server: str,
    campaign: CampaignInfo,
    *,
    customer_id: int,
    number: str,
    when_wire: str,
    agent: str | None,
    self_callback: bool,
    region: str,
) -> Write:
    """A callback to a customer's full stored number (the caller has resolved it: see callbacks.py)."""
    request = AddCallbackRequest(
        campaign_id=campaign.campaign_id,
        call_back_time=when_wire,
        is_self_call_back="true" if self_callback else "false",
        user_id=agent or None,
        properties={"customerId": str(customer_id), "phone": number},
    )
    label = f"{_CALLBACK} {customer_id} in {campaign_label(campaign)} at {when_wire}"
    key = callback_key(server, campaign.campaign_id, customer_id, number, when_wire, agent, region)
    subject = (key[0], callbacks_to(server, campaign.campaign_id, number, region), when_wire, agent)
    return Write(
        request, identity_of(server, request), 1, campaign, None, label, callbacks=(key,), subjects=(subject,)
    )


def callbacks_to(server: str, campaign_id: int, number: str, region: str) -> str:
    """Who a callback dials, as the ledger keeps it (`Write.subjects`): its number under the phone
    rule, whichever tool scheduled it and however the number was spelt."""
    return repr(("callbacks", server, campaign_id, _dialled(number, region)))


def _dialled(number: str, region: str) -> str:
    """The number a callback dials, as callbacks are told apart: with its country (the national
    digits alone made +44 7911 123456 and, in India, 7911123456 one callback, and refused the
    second person's), or its digits where the phone rule reads no number."""
    return phones.identity(number, region) or phones.digits(number)


# How the labels below begin and end by kind of write, which `write_kind` reads back from the ledger.
_CALLBACK = "a callback to customer"
_WITH_CALLBACKS = ", each with a callback"
UPLOAD, CALLBACK, FILE_BATCH = "upload", "callback", "file batch"
UPLOAD_WITH_CALLBACKS = "upload with callbacks"


def write_kind(label: str, context: Mapping[str, object]) -> str:
    """A write's kind, from the label and context its planner gave it (as the ledger keeps them)."""
    if "file" in context:
        return FILE_BATCH
    if label.startswith(_CALLBACK):
        return CALLBACK
    return UPLOAD_WITH_CALLBACKS if label.endswith(_WITH_CALLBACKS) else UPLOAD


def what_to_check(label: str, context: Mapping[str, object]) -> str:
    """What a person checks in Ameyo about a write whose outcome is unknown, before anything is sent
    again (the write path refuses the same write until then)."""
    kind = write_kind(label, context)
    if kind == FILE_BATCH:
        lines = context.get("lines")
        where = f"lines {lines[0]}-{lines[1]} of " if isinstance(lines, list) and len(lines) == 2 else ""
        return (
            f"Look the customers of {where}{context.get('file')} up in Ameyo (ameyo_get_contacts); if "
            "they are not there, run the same upload again with --retry-unknown."
        )
    if kind == CALLBACK:
        return (
            f"{CALLBACKS_ARE_IN_AMEYO}; schedule it again, with allow_repeat=true, only if it is not there."
        )
    if kind == UPLOAD_WITH_CALLBACKS:
        return (
            "Look these customers up in the lead (ameyo_get_contacts, by phone), and their callbacks in "
            "Ameyo's own callback list (the Customer Manager API cannot list callbacks); upload again, "
            "with allow_repeat=true, only those that are not there."
        )
    return (
        "Look these customers up in the lead (ameyo_get_contacts, by phone); upload again, with "
        "allow_repeat=true, only those that are not there."
    )


# Where a callback is seen: no Customer Manager command lists callbacks, and getContacts shows none.
CALLBACKS_ARE_IN_AMEYO = (
    "Look for this callback in Ameyo's own callback list (its web console: the Customer Manager API "
    "cannot list callbacks; ameyo_get_contacts of the customer shows only those this server scheduled)"
)


def held_words(entry: LedgerEntry, words: str) -> str:
    """`words` (a callback asked for) told at the time of the callback `entry` holds: the same
    minute asked at other seconds ("11:00:30" for the "11:00:00" scheduled) is that callback, and
    no callback is at the time asked."""
    at = entry.subject_at
    asked = _WIRE_TIME.search(words)
    if not at or asked is None or asked[0] == at:
        return words
    return (
        f"{words[: asked.start()]}{at}{words[asked.end() :]}, the same minute as the {asked[0][11:]} asked,"
    )


def held_by(entry: LedgerEntry, words: str, now: float) -> str:
    """`words` (a callback) as the settled entry of another write holds it: "another write (may
    have) scheduled a callback to … 3 min ago (its label)"; an unknown outcome told from when it
    was sent, an answer from when it came."""
    maybe = " may have" if entry.state == "unknown" else ""
    since = entry.claimed_at if entry.state == "unknown" else entry.settled_at or entry.claimed_at
    return (
        f"another write{maybe} scheduled {held_words(entry, words)} {ago_text(now - since)} ({entry.label})"
    )


def sent_earlier_first(callback_by: LedgerEntry | None, row_by: LedgerEntry) -> bool:
    """Whether a record that another write sent and Ameyo answered (`row_by`) is told as sent
    earlier, with that answer, rather than as its callback held (`callback_by`: the write holding
    it, if any): so when that same write holds both, for it sent this very record. A callback held
    by any other write is what the record is told: it is why the record cannot go."""
    return callback_by is None or callback_by.write_id == row_by.write_id


def record_held_by(entry: LedgerEntry, now: float, answered: str | None = None) -> str:
    """Why a record another write sent (`WritePath.rows_held`) is not sent: the same record answered
    (with what Ameyo `answered` it then, as `records.answered_then` tells it, when the ledger kept
    it), or its number sent with an unknown outcome, told from when it was sent."""
    if entry.state == "answered":
        since = entry.settled_at or entry.claimed_at
        then = f": {answered}" if answered else ""
        return (
            f"not sent again: the same record went to this lead {ago_text(now - since)} ({entry.label}), "
            f"and Ameyo answered it then{then}; pass allow_repeat=true only if it is meant to go again"
        )
    return (
        f"not sent: its number went out {ago_text(now - entry.claimed_at)} ({entry.label}) and that "
        "outcome is unknown; check the customer with ameyo_get_contacts by phone before sending it "
        "again with allow_repeat=true"
    )


def check_again(write: Write) -> str:
    """The step after a write of unknown outcome: what to look at first (`what_to_check`)."""
    return f"Check before sending it again: {as_clause(what_to_check(write.label, write.context))}"


def upload_label(records: int, lead_id: int, campaign: CampaignInfo) -> str:
    return f"{counted(records, 'record')} into lead {lead_id} of {campaign_label(campaign)}"


def plan_upload(
    server: str,
    campaign: CampaignInfo,
    lead_id: int,
    records: Sequence[dict[str, str]],
    *,
    status: str,
    attempts: int,
    update_existing: bool,
    migrate_existing: bool,
    context: Mapping[str, object] | None = None,
    numbers: Sequence[tuple[str, str]] = (),
    file_batch: bool = False,
) -> Write:
    """Records uploaded to a lead. `file_batch`: a file's batch, whose rows always come in file
    order (its identity takes them in that order: see `identity_of`), and whose records are the
    row checks' own str → str dicts, taken as they are rather than copied one by one by the
    request's validation (a pydantic copy of each of 500 records)."""
    fields: dict[str, Any] = {
        "campaign_id": str(campaign.campaign_id),
        "lead_id": lead_id,
        "properties": {"update.customer": update_existing, "migrate.customer": migrate_existing},
        "num_attempts": str(attempts_of(attempts)),
        "status": status_of(status),
        "customer_records": list(records),
    }
    if file_batch:
        request = UploadContactsRequest.model_construct(**fields)
    else:
        request = UploadContactsRequest(**fields)
    label = upload_label(len(records), lead_id, campaign)
    identity = identity_of(server, request, ordered=file_batch)
    head = server + "\n" + canonical({k: v for k, v in fields.items() if k != "customer_records"})
    rows = _record_rows(head, numbers, records)
    return Write(
        request,
        identity,
        len(records),
        campaign,
        lead_id,
        label,
        dict(context or {}),
        numbers=tuple(numbers),
        rows=rows,
    )


def _record_rows(
    head: str, numbers: Sequence[tuple[str, str]], records: Sequence[Mapping[str, str]]
) -> tuple[tuple[str, str], ...]:
    """An upload's `Write.rows`: each record's number with its `row_digest`; none unless every record
    has its number (good records each have one)."""
    if len(numbers) != len(records):
        return ()
    pairs = zip(numbers, records, strict=True)
    return tuple((number, row_digest(head, number, record)) for (number, _), record in pairs)


# Where a row's callback goes in its digest: no customer field's name (they hold no control character).
_CALLBACK_FIELD = "\x00callback"


def row_digest(head: str, number: str, record: Mapping[str, str]) -> str:
    """One plain record with what it asks of Ameyo (`head`: server, campaign, lead and options), as
    a short digest: phone1 as the number it is (`number`, its phones.identity), since the ledger
    sends a number in the spelling Ameyo holds, whatever the spelling given; fields in any order."""
    record = {**record, PRIMARY_COLUMN: number}
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is one: a lone surrogate, written the standard way
        text = canonical(record).encode()
    # 64 bits: a row is compared with the rows sent for its own number only.
    return hashlib.blake2b(head.encode() + b"\n" + text, digest_size=8).hexdigest()


def _row_callback(key: str, callback: CallbackRecord, *, update_existing: bool) -> str:
    """A row's callback as its digest (`row_digest`) takes it: the callback by its identity (its
    `callback_key`: a tool's record gives it a customer id and the time to the second, a file's
    row neither, and one callback is one whichever way it is spelt), with the status the row asks
    of its customer (the callback record's status: a file's row gives the upload's, a tool's
    none). Given none, a new customer starts as NOT_TRIED all the same, and only an update of one
    already there churns it to the status given: so none is NOT_TRIED unless customers are updated."""
    status = callback.status if update_existing else status_of(callback.status or "")
    return canonical([key, status])


def plan_upload_with_callbacks(
    server: str,
    campaign: CampaignInfo,
    lead_id: int,
    records: Sequence[tuple[dict[str, str], CallbackRecord]],
    *,
    update_existing: bool,
    migrate_existing: bool,
    region: str,
    context: Mapping[str, object] | None = None,
    numbers: Sequence[tuple[str, str]] = (),
    file_batch: bool = False,
) -> Write:
    """Records uploaded with a callback each; a `file_batch`'s identity takes them in file order
    (see `plan_upload`)."""
    request = UploadWithCallbacksRequest(
        campaign_id=campaign.campaign_id,
        lead_id=lead_id,
        records=[CustomerAndCallback(customer_record=r, callback_record=c) for r, c in records],
        properties={"update.customer": update_existing, "migrate.customer": migrate_existing},
    )
    label = upload_label(len(records), lead_id, campaign) + _WITH_CALLBACKS
    identity = identity_of(server, request, ordered=file_batch)
    dialled = [
        (record, callback, callback.call_back_phone or record.get("phone1", ""))
        for record, callback in records
    ]
    keys = tuple(
        callback_key(
            server,
            campaign.campaign_id,
            callback.customer_id,
            number,
            callback.call_back_time,
            callback.user_id,
            region,
        )
        for _, callback, number in dialled
    )
    subjects = tuple(
        (
            key,
            callbacks_to(server, campaign.campaign_id, number, region),
            callback.call_back_time,
            callback.user_id or None,
        )
        for (key, _), (_, callback, number) in zip(keys, dialled, strict=True)
    )
    head = f"{server}\n{request.command}\n" + canonical(
        {"campaign_id": campaign.campaign_id, "lead_id": lead_id, "properties": request.properties}
    )
    # The callback is part of the row: the same customer with another callback is another row.
    with_callbacks = [
        {**record, _CALLBACK_FIELD: _row_callback(key, callback, update_existing=update_existing)}
        for (record, callback), (key, _) in zip(records, keys, strict=True)
    ]
    rows = _record_rows(head, numbers, with_callbacks)
    return Write(
        request,
        identity,
        len(records),
        campaign,
        lead_id,
        label,
        dict(context or {}),
        keys,
        numbers=tuple(numbers),
        rows=rows,
        subjects=subjects,
    )
