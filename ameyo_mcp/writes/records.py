"""Customer records before and after an upload: checked locally first, then every outcome explained.

Shared by the upload tools and the bulk uploader, so a record is judged the same way everywhere.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict
from zoneinfo import ZoneInfo

from ..ameyo.columns import id_in
from ..ameyo.customers import PRIMARY_COLUMN
from ..ameyo.models import CallbackUploadResult, GetContactsRequest, RecordResult
from ..ameyo.result_types import DUPLICATE, KEPT_AS_IS, NOT_MOVED, SAVED, UPDATED_AND_MOVED, effect
from ..ameyo.service import Ameyo, UploadTarget, describe_failure, duplicate_text
from ..answers.summaries import NamedById, number_alone, scheduled_callback_text
from ..errors import AmeyoError, PhoneError
from ..rules import phones
from ..rules.counts import counted
from ..rules.sanitize import clean_text
from ..rules.times import show
from .outcome import OUTCOME_UNKNOWN, REFUSED, SENT_EARLIER, WOULD_SEND, Outcome

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
# A customer's other numbers, which Ameyo dials as it dials phone1.
_OTHER_PHONE = re.compile(r"phone[2-9]|phone[1-9][0-9]")
_ID_FIELD = re.compile(r"customer[ _.-]?id", re.IGNORECASE)
# A word of question marks only: letters a file's encoding could not hold. Excel's plain "CSV" writes
# each Hindi, Bengali, Tamil… letter as "?", and Ameyo would keep "?????? ?????" as the name.
_LOST_LETTERS = re.compile(r"(?:^|\s)\?{2,}(?=\s|$)")
_LOST_LETTERS_WHY = (
    'has question marks where letters were: a spreadsheet saved as plain "CSV" writes Hindi, '
    'Bengali, Tamil and other such letters so; save the file as "CSV UTF-8" and upload that'
)
MAX_VALUE_CHARS = 1000
MAX_FIELDS = 60
NAMELESS = (
    "a field has no name (its key is empty): name it after the customer column its value is for, or "
    "leave it out"
)


@dataclass(slots=True)  # not frozen: one is made per row, and frozen ones cost more to build
class Checked:
    """A record as it will be sent, or the reason it will not be."""

    position: int
    record: dict[str, str]
    problem: str | None = None
    # phone1 as given, when it was rewritten to the form Ameyo dials (phones.for_ameyo).
    given_phone: str | None = None
    # phones.identity of phone1: what makes two rows the same number. Set whenever the phone rule
    # accepted phone1, on a refused record too (refused for another reason).
    identity: str | None = None
    # phone1 is sent as Ameyo already holds this number (see `one_record_per_number`).
    held: bool = False
    # Set aside because another write sent it or holds its callback: its outcome as told
    # (SENT_EARLIER, with Ameyo's answer then; OUTCOME_UNKNOWN; NOT_SENT), `problem` saying why;
    # None for a refusal.
    aside: Outcome | None = None

    @property
    def phone(self) -> str | None:
        """phone1 as it is sent and shown; None unless the phone rule accepted it. A refused value
        may be anything (a password in a column mapped to phone1 by mistake): `refusal` describes
        it, and nothing shows it."""
        if self.identity is None:
            return None
        return self.record.get(PRIMARY_COLUMN) or None


def check_record(
    position: int, raw: Mapping[str, object], max_phone_length: int, rule: phones.PhoneRule
) -> Checked:
    """Apply Ameyo's own preprocessing rules locally, so a bad record is named before sending."""
    record: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        name = (key if isinstance(key, str) else str(key)).strip()
        try:
            record[name] = (value if isinstance(value, str) else str(value)).strip()
        except ValueError:  # a whole number longer than Python converts (4,300 digits)
            record[name] = ""  # not kept: only its name is told
            why = f"{field_named(record, name)} is longer than {MAX_VALUE_CHARS:,} characters"
            return Checked(position, record, why, None, None)
    return check_values(position, record, max_phone_length, rule)


def check_values(
    position: int, record: dict[str, str], max_phone_length: int, rule: phones.PhoneRule
) -> Checked:
    """The checks of `check_record`, for a record whose names and values are stripped strings
    already (the bulk reader's rows): a large file should not pay for normalising twice."""
    problem, given, identity = judge_values(record, max_phone_length, rule)
    return Checked(position, record, problem, given, identity)


def judge_values(
    record: dict[str, str], max_phone_length: int, rule: phones.PhoneRule
) -> tuple[str | None, str | None, str | None]:
    """`check_values` as its three findings, for the bulk uploader, which keeps its own row: the
    problem (None: fine), phone1 as given when it was rewritten, and phone1's identity (see
    `Checked`). phone1 is rewritten in `record`."""
    if len(record) > MAX_FIELDS:
        problem = f"the record has {len(record)} fields; at most {MAX_FIELDS} are accepted"
        return problem, None, _accepted(record, rule)
    if "" in record:
        # Ameyo keeps a value under a column's name: one without was dropped, or sent as a column
        # named "", while the answer said the record went as given.
        return NAMELESS, None, _accepted(record, rule)
    # One scan over all names and values: a bulk upload checks every row of a large file, and
    # isprintable (in C) clears the usual row before the regex has to look.
    names, values = "".join(record), "".join(record.values())
    if not (names.isprintable() and values.isprintable()) and (
        _CONTROL.search(names) or _CONTROL.search(values)
    ):
        bad = next(n for n, t in record.items() if _CONTROL.search(n) or _CONTROL.search(t))
        return f"{field_named(record, bad)} contains control characters", None, _accepted(record, rule)
    if "??" in values and (lost := next((n for n, t in record.items() if _LOST_LETTERS.search(t)), None)):
        return f"{field_named(record, lost)} {_LOST_LETTERS_WHY}", None, _accepted(record, rule)
    # No value can be longer than all of them together: the usual row never looks at each one.
    if len(values) > MAX_VALUE_CHARS and max(map(len, record.values())) > MAX_VALUE_CHARS:
        long = next(n for n, t in record.items() if len(t) > MAX_VALUE_CHARS)
        return (
            f"{field_named(record, long)} is longer than {MAX_VALUE_CHARS:,} characters",
            None,
            _accepted(record, rule),
        )
    phone = record.get(PRIMARY_COLUMN, "")
    if not phone:
        return refusal(PRIMARY_COLUMN, phone, max_phone_length), None, None
    try:
        dial, identity = phones.dial_and_identity(phone, rule.region, rule.style)
    except PhoneError as exc:
        return refusal(PRIMARY_COLUMN, phone, max_phone_length, exc), None, None
    given = None
    if dial.rewritten:
        given, record[PRIMARY_COLUMN] = phone, dial.value
    if len(dial.value) > max_phone_length:
        return refusal(PRIMARY_COLUMN, dial.value, max_phone_length), given, identity
    if names.count("phone") > 1:  # phone2, phone3…: numbers Ameyo dials too (the usual row has none)
        for name, value in record.items():
            if name != PRIMARY_COLUMN and _OTHER_PHONE.fullmatch(name) and value.strip():
                why, record[name] = _other_number(name, value, rule, max_phone_length)
                if why is not None:
                    return why, given, identity
    return None, given, identity


def _other_number(name: str, value: str, rule: phones.PhoneRule, max_length: int) -> tuple[str | None, str]:
    """Why a record's phone2 (or phone3…) will not do (None: fine), and its spelling as sent: the
    one the phone rule gives phone1 (Ameyo finds customers by phone1 alone, so respelling it splits
    no customer), whose length is the one judged."""
    try:
        dial = phones.for_ameyo(value, rule.region, rule.style)
    except PhoneError as exc:
        return refusal(name, value, max_length, exc), value
    if len(dial.value) > max_length:
        return refusal(name, dial.value, max_length), value
    return None, dial.value


def customer_id_field(record: Mapping[str, str]) -> tuple[str, str] | None:
    """A field of `record` that names a customer by Ameyo's id (customerId, customer_id, Customer
    ID), and its value; None when it has none. Ameyo finds the customer an upload adds or updates by
    phone1, and uploadContacts takes no customer id (4.7.1; 4.8.2's customerId is the callback's):
    such a field chooses no customer, and a model that meant it to is told so."""
    return next(((name, value) for name, value in record.items() if names_customer(name)), None)


def named_by_id(position: int, record: Mapping[str, str], told: Outcome | None) -> NamedById | None:
    """The record at `position` as `customer_id_note` names it when it gives a customer id among
    its fields (`customer_id_field`), with Ameyo's answer to it (`told`: None before sending); None
    when it gives none."""
    field = customer_id_field(record)
    if field is None:
        return None
    name, value = field
    result, customer = (told.result, told.customer_id) if told is not None else (None, None)
    # An id as Ameyo spells one: isdigit() takes "²", which int() refuses, after the write went.
    return NamedById(position, name, id_in(value), result, customer)


def names_customer(field: str) -> bool:
    """Whether a field's name is that of Ameyo's customer id (`customer_id_field`)."""
    return _ID_FIELD.fullmatch(field) is not None


def field_named(record: Mapping[str, str], name: str) -> str:
    """A field of a record in a refusal: by its name when that is a plain name (`email`,
    `customer_name`), else by its place: a refusal is the server's advice, read outside any fence,
    so it quotes no free text of the record."""
    if _PLAIN_NAME.fullmatch(name):
        return f"field {name!r}"
    place = next(i for i, n in enumerate(record, start=1) if n == name)
    return f"field {place} of the record (its name is not shown: it is not a plain name)"


def refusal(column: str, value: str, max_length: int, error: PhoneError | None = None) -> str:
    """Why `value` will not do as the number in `column`, described and never quoted.

    The one place a refused number is put into words, for every answer, result file and CLI report:
    what is refused may be anything (a password in a column mapped to phone1 by mistake), so only its
    shape is told: "phone1 has letters and symbols, 17 characters", "phone1 has 25 digits, more than
    the 20 Ameyo allows". `error` is the phone rule's refusal; without it the rule accepted `value` (as
    Ameyo dials it) and only Ameyo's length limit refuses it."""
    text = value.strip()
    if not text:
        return f"{column} is missing"
    if not phones.is_number_text(text):
        if error is not None and error.why is not None:
            # A shape the phone rule names (a spreadsheet's scientific notation): the column was
            # right, and the advice to check it would mislead.
            return f"{column} is {error.why}"
        letters = any(c.isalpha() for c in text)
        symbols = any(not c.isalpha() and not phones.is_number_text(c) for c in text)
        kinds = " and ".join(k for k, found in (("letters", letters), ("symbols", symbols)) if found)
        return (
            f"{column} has {kinds}, {counted(len(text), 'character')}: a phone number is digits, "
            f"optionally with + and the country code; check that the right column is {column}"
        )
    count = phones.digit_count(text)
    if count > max_length:
        return f"{column} has {count} digits, more than the {max_length} Ameyo allows"
    if error is None:
        return (
            f"{column} has {counted(len(text), 'character')} as Ameyo dials it, more than the "
            f"{max_length} it allows"
        )
    return f"{column} has {counted(count, 'digit')} and is {error.why or 'not a phone number'}"


def dialed(column: str, value: str, rule: phones.PhoneRule, max_length: int) -> str:
    """A number other than phone1 (callback_phone) as Ameyo dials it; ValueError with `refusal`'s
    description when it will not do."""
    try:
        dial = phones.for_ameyo(value, rule.region, rule.style).value
    except PhoneError as exc:
        raise ValueError(refusal(column, value, max_length, exc)) from None
    if len(dial) > max_length:
        raise ValueError(refusal(column, dial, max_length))
    return dial


def _accepted(record: Mapping[str, str], rule: phones.PhoneRule) -> str | None:
    """phone1's identity when the phone rule accepts it, for a record refused for another reason:
    its answer may then show the number."""
    phone = record.get(PRIMARY_COLUMN, "")
    if not phone or not phone.isprintable():
        return None
    try:
        return phones.dial_and_identity(phone, rule.region, rule.style)[1]
    except PhoneError:
        return None


def one_record_per_number(checked: Sequence[Checked], held: Mapping[str, str]) -> list[Checked]:
    """One person is one customer record, whatever the spelling of their number.

    A record whose number Ameyo already holds in another spelling (`held`: phone1 by
    `phones.identity`, from earlier uploads or the campaign's index) is sent in that spelling, so
    Ameyo finds that customer instead of adding a second one; a second record of a number already
    in this call is refused. `checked` is in position order; records are changed in place."""
    first: dict[str, int] = {}
    out: list[Checked] = []
    for item in checked:
        number = item.identity
        if item.problem is None and number is not None:
            earlier = first.get(number)
            if earlier is not None:
                item = Checked(
                    item.position,
                    item.record,
                    f"{PRIMARY_COLUMN} is the same number as record {earlier}'s: one person is one "
                    "customer record, so send them once (merge the two records)",
                    item.given_phone,
                    number,
                )
            else:
                first[number] = item.position
                spelling = held.get(number)
                sent = item.record.get(PRIMARY_COLUMN, "")
                if spelling and spelling != sent:
                    item.given_phone = item.given_phone or sent
                    item.record[PRIMARY_COLUMN] = spelling
                    item.held = True
        out.append(item)
    return out


def held_note(checked: Sequence[Checked], *, dry_run: bool = False, repeat: bool = False) -> str | None:
    """The line that says which numbers go out as Ameyo already holds them (or, for a write found
    to be a repeat, that they made it the same write as the earlier one)."""
    held = [c for c in checked if c.problem is None and c.held]
    return held_numbers_note(len(held), held[0] if held else None, dry_run=dry_run, repeat=repeat)


def held_numbers_note(
    count: int, example: Checked | None, *, dry_run: bool = False, repeat: bool = False
) -> str | None:
    """`held_note` for `count` numbers sent as Ameyo holds them, `example` one of them (its
    `given_phone` as given, its `phone` as sent): a file's rows are counted as they go, not kept."""
    if not count or example is None:
        return None
    one = count == 1
    numbers = counted(count, "number")
    shown = f"{clean_text(example.given_phone, 30)} → {clean_text(example.phone, 24)}"
    if repeat:
        return (
            f"{numbers} {'is' if one else 'are'} spelt as uploaded earlier (e.g. {shown}): with that "
            "spelling this is the same write as the earlier one, so nothing was sent again."
        )
    verb = "would be" if dry_run else ("was" if one else "were")
    return (
        f"{numbers} {verb} sent as Ameyo already holds {'it' if one else 'them'} (e.g. {shown}), so Ameyo "
        "finds that customer rather than adding a second record for the same person."
    )


def rewritten_note(
    count: int, example: Checked | None, rule: phones.PhoneRule, *, dry_run: bool = False
) -> str | None:
    """The line that tells the person their numbers are sent in another spelling than given."""
    if not count or example is None or example.given_phone is None or example.held:
        return None
    numbers = counted(count, "number")
    verb = "would be" if dry_run else ("was" if count == 1 else "were")
    return (
        f"{numbers} {verb} rewritten to the form Ameyo dials (AMEYO_PHONE_FORMAT={rule.style}), e.g. "
        f"{clean_text(example.given_phone, 30)} → {clean_text(example.phone, 24)}."
    )


def refused(position: int, phone: str | None, problem: str | None) -> Outcome:
    return Outcome(position, phone, REFUSED, False, reason=problem)


def would_send(position: int, phone: str | None, callback_time: str | None = None) -> Outcome:
    """A dry run's record that passed the checks, with the time of the callback it would schedule."""
    return Outcome(position, phone, WOULD_SEND, True, callback_time=callback_time)


# The most customers an upload's answer finds already there whose lead is read, in one request.
MAX_LEADS_READ = 500


@dataclass(frozen=True, slots=True)
class LeadOf:
    """The lead of an upload, and the lead each customer it found already there is in, as far as
    known (by customer id): what a duplicate's outcome says (`duplicate_text`)."""

    lead_id: int | None = None
    enabled: bool = True
    their: Mapping[int, int] = field(default_factory=dict)


async def lead_of(
    ameyo: Ameyo, target: UploadTarget, results: Sequence[RecordResult | None], *, migrate: bool = False
) -> LeadOf:
    """Where the customers an upload left as they were (DUPLICATE_NOT_ADDED) are: Ameyo's answer
    does not say. A move asked for leaves one as it was only in this very lead; otherwise their lead
    is read live, best effort (unread, the outcome says what each flag would do, as it may)."""
    ids = sorted(
        {
            r.customer_id
            for r in results
            if r is not None and r.result_type == DUPLICATE and r.customer_id is not None
        }
    )
    lead_id, enabled = target.lead_id, target.lead_enabled
    if not ids:
        return LeadOf(lead_id, enabled)
    if migrate:
        return LeadOf(lead_id, enabled, dict.fromkeys(ids, lead_id))
    request = GetContactsRequest(
        campaign_id=target.campaign.campaign_id, customer_ids=[str(i) for i in ids[:MAX_LEADS_READ]]
    )
    try:
        found = await ameyo.get_contacts(request)
    except AmeyoError:
        return LeadOf(lead_id, enabled)
    return LeadOf(lead_id, enabled, {c.customer_id: c.lead_id for c in found if c.lead_id is not None})


def outcome(
    position: int,
    phone: str | None,
    result: RecordResult | None,
    zone: ZoneInfo | None = None,
    *,
    lead: LeadOf | None = None,
) -> Outcome:
    """One record's outcome in plain words; a missing answer row is an unknown outcome, said so.
    `lead`: the upload's lead and the one a customer left as it was is in, which decides the moves
    offered (`duplicate_text`)."""
    if result is None:
        return Outcome(
            position,
            phone,
            OUTCOME_UNKNOWN,
            False,
            reason="Ameyo's answer left this record out: its outcome is unknown (check it before "
            "sending it again)",
        )
    kind = result.kind
    ok = kind in SAVED
    reason: str | None = None
    if not ok:
        if result.failure_key:
            reason = describe_failure(result.failure_key, result.failure_args, fallback=kind)
        else:
            reason = describe_failure(kind, result.failure_args, fallback=kind)
        if kind == DUPLICATE:
            lead = lead or LeadOf()
            their = lead.their.get(result.customer_id) if result.customer_id is not None else None
            reason = duplicate_text(lead.lead_id, lead_enabled=lead.enabled, their_lead=their)
        if kind in KEPT_AS_IS and result.customer_id is not None:
            # Which one: the person may not know. Ameyo's own reason for a move refused is a clause.
            moved = " not moved:" if kind == NOT_MOVED and result.failure_key else ""
            reason = f"customer {result.customer_id}{moved} {reason}"
    out = Outcome(position, phone, kind, ok, result.customer_id, reason)
    if isinstance(result, CallbackUploadResult):
        out.callback_id = result.callback_id
        if result.callback_time is not None:
            out.callback_time = show(result.callback_time, zone)
        if result.callback_scheduled:
            out.reason = _scheduled_reason(out, kind, reason, result.message)
            if (
                kind in KEPT_AS_IS
                and result.customer_id is not None
                and result.properties.customer_id is None
            ):
                # Rule 4.8.2 5.b.iii: a customer not uploaded has the callback on the number alone.
                out.reason = f"{out.reason or ''}; {number_alone(result.customer_id)}"
            # The customer was already there and left as it was, and the callback was scheduled:
            # done. A customer that failed is still not done, but its callback is.
            out.ok = ok or kind in KEPT_AS_IS
        elif ok:
            note = "the answer gives it neither an id nor a time"
            note = clean_text(result.message, 120) if result.message else note
            out.reason = f"customer saved, but no callback was scheduled ({note})"
            out.ok = False
    return out


def sent_earlier(
    position: int,
    phone: str | None,
    row: RecordResult | None,
    zone: ZoneInfo | None,
    held_by: Callable[[str | None], str],
) -> Outcome:
    """A record set aside because an earlier write sent it and Ameyo answered (SENT_EARLIER), with
    that answer as the ledger kept it (`row`; None: it kept none): its customer, its callback and
    whether it was done, as the earlier write's own answer told them. `held_by` gives the reason,
    given what Ameyo answered then in a clause ("added as customer 12521")."""
    if row is None:
        return Outcome(position, phone, SENT_EARLIER, True, reason=held_by(None))
    then = outcome(position, phone, row, zone)
    kind = then.result
    who = f"customer {then.customer_id}" if then.customer_id is not None else "its customer"
    done = {"added": f"added as {who}", "updated": f"updated {who}", "moved": f"moved {who} into this lead"}
    words = done.get(effect(kind))
    if kind == UPDATED_AND_MOVED:
        words = f"{words} and moved them into this lead"
    elif kind in KEPT_AS_IS:
        words = f"{who} {_KEPT_WORDS[kind]}"
    elif words is None:
        words = f"not saved, {describe_failure(row.failure_key or kind, row.failure_args, fallback=kind)}"
    if then.callback_scheduled:
        words += f", {scheduled_callback_text(then.callback_id, then.callback_time)}"
    elif isinstance(row, CallbackUploadResult):
        words += ", no callback scheduled"
    reason = held_by(words)
    return Outcome(
        position, phone, SENT_EARLIER, then.ok, then.customer_id, reason, then.callback_id, then.callback_time
    )


# The customer left as it was, in words that do not invite sending the record again: with a
# callback scheduled, that would schedule it a second time.
_KEPT_WORDS = {
    "DUPLICATE_NOT_ADDED": "already in the campaign, left as it was",
    "NOT_MIGRATED": "already in another lead, not moved",
}
_TWICE = "sending this record again would schedule its callback a second time"


def _scheduled_reason(out: Outcome, kind: str, reason: str | None, message: str | None) -> str | None:
    """What a record whose callback Ameyo scheduled needs said; None for the plain success."""
    said = scheduled_callback_text(out.callback_id, out.callback_time)
    if message:
        said += f" (Ameyo said: {clean_text(message, 120)})"
    if kind in KEPT_AS_IS:
        return f"{_KEPT_WORDS[kind]}; {said}; {_TWICE}"
    if reason is not None:  # the customer failed; rule 4.8.2 5.b.iii added the callback anyway
        return f"{reason}; {said}; {_TWICE}"
    return None if out.callback_id and not message else said


def counts(records: Sequence[Outcome]) -> dict[str, int]:
    return dict(Counter(r.result for r in records).most_common())


def answered(by_result: Mapping[str, int]) -> dict[str, int]:
    """Ameyo's answers to the records sent, by what happened (`result_types.effect`): added,
    updated, moved, duplicate and failed; each record is counted under exactly one."""
    out = {"added": 0, "updated": 0, "moved": 0, "duplicate": 0, "failed": 0}
    for result, n in by_result.items():
        out[effect(result)] += n
    return out


class UploadTally(TypedDict):
    added: int
    updated: int
    moved: int
    duplicate: int
    failed: int
    outcome_unknown: int
    callbacks: int
    counts: dict[str, int]
    added_customer_ids: list[int]
    updated_customer_ids: list[int]
    moved_customer_ids: list[int]


def upload_tally(outcomes: Sequence[Outcome]) -> UploadTally:
    """The count fields of an upload's answer (`UploadOut`) from the outcomes of the records sent."""
    by_result = counts(outcomes)
    # A record Ameyo's answer left out may have been saved: counted apart, never as failed (a
    # client reading "failed" would send it again).
    kinds = answered({k: v for k, v in by_result.items() if k != OUTCOME_UNKNOWN})
    return UploadTally(
        added=kinds["added"],
        updated=kinds["updated"],
        moved=kinds["moved"],
        duplicate=kinds["duplicate"],
        failed=kinds["failed"],
        outcome_unknown=by_result.get(OUTCOME_UNKNOWN, 0),
        callbacks=sum(1 for r in outcomes if r.callback_scheduled),
        counts=by_result,
        added_customer_ids=[
            r.customer_id for r in outcomes if effect(r.result) == "added" and r.customer_id is not None
        ],
        updated_customer_ids=[
            r.customer_id for r in outcomes if effect(r.result) == "updated" and r.customer_id is not None
        ],
        moved_customer_ids=[
            r.customer_id for r in outcomes if effect(r.result) == "moved" and r.customer_id is not None
        ],
    )
