"""The write tools that upload customers: uploadContacts and uploadContactAndAddCallback."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field, model_validator

from ...ameyo.customers import PRIMARY_COLUMN, is_phone_key
from ...ameyo.models import CallbackRecord, Contact, GetContactsRequest, RecordResult, campaign_label
from ...ameyo.service import Ameyo, UploadTarget
from ...answers.results import UploadOut, campaign_out
from ...answers.summaries import (
    NamedById,
    also_scheduled_by_record,
    customer_id_note,
    disabled_lead_note,
    known_customers_note,
    lookalikes_note,
    requeued_note,
    unknown_fields_note,
    upload_text,
)
from ...config import Settings
from ...errors import CallbackScheduled, Respelled, RowsSent
from ...rules import phones
from ...rules.counts import agreeing, counted
from ...rules.sanitize import data_text
from ...writes import callback_rules, plans
from ...writes import path as writes
from ...writes.outcome import NOT_SENT, OUTCOME_UNKNOWN, REFUSED, SENT_EARLIER, Outcome
from ...writes.records import (
    Checked,
    check_record,
    held_note,
    lead_of,
    named_by_id,
    names_customer,
    one_record_per_number,
    outcome,
    refused,
    rewritten_note,
    sent_earlier,
    upload_tally,
    would_send,
)
from .common import (
    AgentArg,
    AllowRepeatArg,
    CallbackTimeArg,
    ConfirmArg,
    DespiteDncArg,
    DryRunArg,
    OutsideHoursArg,
    SelfCallbackArg,
    ameyo_of,
    answer,
    asker,
    explained,
    repeat_note,
    send_write,
    state_of,
)
from .session_tools import AmeyoId, CampaignArg

MAX_RECORDS = 1000
_RESPELL_TRIES = 3
Value = str | int | float
LeadArg = Annotated[AmeyoId, Field(description="Lead id (ameyo_get_leads)")]
UpdateArg = Annotated[bool, Field(description="Update customers matched by phone1")]
MigrateArg = Annotated[bool, Field(description="Move existing customers into this lead")]
AttemptsArg = Annotated[int, Field(ge=0, description="Attempts already made")]
CUSTOMER_FIELDS = "Customer fields; phone1 required"
# What goes ahead of a plain add held back for do-not-call, as the person confirmed.
_ADDED_ON_THEIR_LINE = "its new customer is added on their line, and dialled,"
# What a migrate does to a customer in another lead (`callback_rules.moved_into`).
_MOVE_DIALS = "a move into lead {lead} puts them back in the dialler's queue"


class CallbackContact(BaseModel):
    customer: dict[str, Value] = Field(description=CUSTOMER_FIELDS)
    callback_time: CallbackTimeArg
    agent: AgentArg = None
    self_callback: SelfCallbackArg = False
    callback_phone: str | None = Field(
        default=None, max_length=40, description="Number to call; default phone1"
    )
    customer_id: AmeyoId | None = Field(default=None, description="Existing customer to attach it to")

    @model_validator(mode="before")
    @classmethod
    def _customer_fields_inside(cls, data: Any) -> Any:
        """A record written flat ({"phone1": …, "callback_time": …}) is told where its customer's
        fields go, rather than that `customer` is missing."""
        if isinstance(data, dict) and "customer" not in data:
            stray = [k for k in data if k not in cls.model_fields]
            if stray:
                named = ", ".join(data_text(k, 30) for k in stray[:3])
                raise ValueError(
                    f"the customer's fields ({named}) go inside customer: "
                    '{"customer": {"phone1": "…", "name": "…"}, "callback_time": "…"}'
                )
        return data


async def ameyo_upload_contacts(
    ctx: Context[Any, Any],
    campaign: CampaignArg,
    lead_id: LeadArg,
    records: Annotated[
        list[dict[str, Value]],
        Field(
            min_length=1,
            max_length=MAX_RECORDS,
            description=CUSTOMER_FIELDS,
        ),
    ],
    status: Annotated[
        str, Field(max_length=40, description="Status of new and updated contacts")
    ] = "NOT_TRIED",
    attempts: AttemptsArg = 0,
    update_existing: UpdateArg = False,
    migrate_existing: MigrateArg = False,
    despite_do_not_call: DespiteDncArg = False,
    dry_run: DryRunArg = False,
    confirm: ConfirmArg = None,
    allow_repeat: AllowRepeatArg = False,
) -> Annotated[CallToolResult, UploadOut]:
    """Upload customers into a campaign's lead; each record's outcome is reported by position."""
    ameyo = ameyo_of(ctx)
    async with explained(ameyo):
        target = await ameyo.upload_target(campaign, lead_id)
    rule = ameyo.settings.phone_rule
    checked = [check_record(i, r, target.max_phone_length, rule) for i, r in enumerate(records, start=1)]
    checked = await _one_per_number(ctx, target, checked)
    # An update gives the customer this upload's status and attempts: Ameyo dials them again as if
    # new, so a do-not-call customer needs the person's yes, as a callback to them does; and so do a
    # migrate that puts such a customer back in the dialler's queue and a new customer added on
    # such a customer's line (`callback_rules.dials`).
    moves_into = callback_rules.moved_into(target, migrate_existing)
    check = await state_of(ctx).writes.do_not_call(
        target.campaign.campaign_id,
        {
            c.position: callback_rules.dials(
                c.record, calls_back=False, updates=update_existing, moves_into=moves_into
            )
            for c in checked
            if c.problem is None
        },
    )
    went = "its update, which has them dialled again, goes ahead" if update_existing else _ADDED_ON_THEIR_LINE
    notes = _held_for_dnc(checked, check, despite_do_not_call, went)
    going = sum(1 for c in checked if c.problem is None)  # (those held back have their problem now)
    if not check.indexed and going and (update_existing or moves_into is not None):
        does = "an update has them dialled again" if update_existing else _MOVE_DIALS.format(lead=moves_into)
        notes.append(_unchecked_note(going, target, ameyo.settings) + f" {does}.")
    notes += _beyond_note(check, going, ameyo.settings)

    def plan(good: list[Checked]) -> plans.Write:
        return plans.plan_upload(
            ameyo.settings.base_url,
            target.campaign,
            lead_id,
            [c.record for c in good],
            status=status,
            attempts=attempts,
            update_existing=update_existing,
            migrate_existing=migrate_existing,
            numbers=_numbers(good),
        )

    return await _send(
        ctx,
        target,
        checked,
        plan,
        dry_run=dry_run,
        allow_repeat=allow_repeat,
        token=confirm,
        existing=(update_existing, migrate_existing),
        notes=notes,
        requeued=(status, attempts) if update_existing else None,
    )


async def ameyo_upload_contacts_with_callbacks(
    ctx: Context[Any, Any],
    campaign: CampaignArg,
    lead_id: LeadArg,
    records: Annotated[
        list[CallbackContact],
        Field(min_length=1, max_length=MAX_RECORDS, description="Customers and callbacks"),
    ],
    update_existing: UpdateArg = False,
    migrate_existing: MigrateArg = False,
    outside_calling_hours: OutsideHoursArg = False,
    despite_do_not_call: DespiteDncArg = False,
    dry_run: DryRunArg = False,
    confirm: ConfirmArg = None,
    allow_repeat: AllowRepeatArg = False,
) -> Annotated[CallToolResult, UploadOut]:
    """Upload customers with a callback each; each record's outcome and callback id are reported by
    position."""
    ameyo = ameyo_of(ctx)
    async with explained(ameyo):
        target = await ameyo.upload_target(campaign, lead_id)
    settings = ameyo.settings
    rule = settings.phone_rule
    rules = callback_rules.RecordCallbacks(
        zone=settings.zone,
        rule=rule,
        max_phone_length=target.max_phone_length,
        calling_hours=None if outside_calling_hours else settings.calling_hours,
        hours_hint="pass outside_calling_hours=true if the person wants it",
        show_number=True,
    )
    checked: list[Checked] = []
    callbacks: dict[int, CallbackRecord] = {}
    planned: dict[int, str] = {}  # each callback's time as shown, for a dry run to say
    entries = [
        check_record(position, item.customer, target.max_phone_length, rule)
        for position, item in enumerate(records, start=1)
    ]
    entries = await _one_per_number(ctx, target, entries)
    named = await _named_customers(ameyo, target, records)
    for position, (item, entry) in enumerate(zip(records, entries, strict=True), start=1):
        if entry.problem is None:
            problem: str | None
            try:
                when, dial = rules.check(entry.record, entry.phone, item.callback_time, item.callback_phone)
                problem = callback_rules.self_callback_problem(item.self_callback, item.agent) or (
                    _named_problem(
                        item.customer_id,
                        {i: c.customer_data for i, c in named.items()},
                        dial or "",
                        target,
                        rule.region,
                    )
                )
            except ValueError as exc:
                problem = str(exc)
            if problem is not None:
                entry = replace(entry, problem=problem)
            else:
                planned[position] = when.shown
                callbacks[position] = CallbackRecord(
                    call_back_time=when.wire,
                    is_self_call_back=item.self_callback,
                    user_id=(item.agent or "").strip() or None,
                    call_back_phone=dial,
                    customer_id=str(item.customer_id) if item.customer_id is not None else None,
                )
        checked.append(entry)
    # `ameyo_add_callback` refuses a callback to a do-not-call customer without the person's yes;
    # so does this, for the customers the index finds by each record's numbers.
    moves_into = callback_rules.moved_into(target, migrate_existing)
    check = await state_of(ctx).writes.do_not_call(
        target.campaign.campaign_id,
        {
            c.position: callback_rules.dials(
                c.record,
                callbacks[c.position].call_back_phone,
                calls_back=True,
                updates=update_existing,
                moves_into=moves_into,
            )
            for c in checked
            if c.position in callbacks
        },
    )
    # A record naming its customer: that customer, read live, whatever the index holds.
    for position, item in enumerate(records, start=1):
        contact = named.get(item.customer_id) if item.customer_id is not None else None
        if contact is not None and position in callbacks:
            disposition = callback_rules.last_disposition(contact.extra_data)
            if callback_rules.do_not_call(disposition):
                check.refused.setdefault(position, (contact.customer_id, disposition))
                check.unread.pop(position, None)
    notes: list[str] = []
    unchecked = [
        p
        for p, item in enumerate(records, start=1)
        if p in callbacks and not _reaches_named_only(item.customer_id, checked[p - 1], named, rule.region)
    ]
    if not check.indexed and unchecked:
        notes.append(
            _unchecked_note(len(unchecked), target, ameyo.settings)
            + " a record naming its customer_id, with their phone1 as Ameyo holds it, is checked."
        )
    agents = [
        cb.user_id
        for position, cb in callbacks.items()
        if cb.user_id and checked[position - 1].problem is None
    ]
    notes += await state_of(ctx).writes.unknown_agents_note(agents)
    notes += _held_for_dnc(checked, check, despite_do_not_call, "its callback is scheduled")
    notes += _beyond_note(check, sum(1 for p in callbacks if checked[p - 1].problem is None), settings)

    def plan(good: list[Checked]) -> plans.Write:
        return plans.plan_upload_with_callbacks(
            ameyo.settings.base_url,
            target.campaign,
            lead_id,
            [(c.record, _dialing(callbacks[c.position], c, rule.region)) for c in good],
            update_existing=update_existing,
            migrate_existing=migrate_existing,
            region=rule.region,
            numbers=_numbers(good),
        )

    return await _send(
        ctx,
        target,
        checked,
        plan,
        dry_run=dry_run,
        allow_repeat=allow_repeat,
        token=confirm,
        existing=(update_existing, migrate_existing),
        notes=notes,
        planned=planned,
        assigned={p: (cb.user_id, cb.is_self_call_back) for p, cb in callbacks.items()},
    )


def _unchecked_note(records: int, target: UploadTarget, settings: Settings) -> str:
    """That the customers of `records` records were not checked for do-not-call: no index finds
    them by number. The caller ends the sentence."""
    from ...index.lookup import sync_advice

    return (
        f"Note: whether the customers of {counted(records, 'record')} asked not to be called (their last "
        f"disposition) was not checked: {campaign_label(target.campaign)} has no contacts index to find "
        f"them by number ({sync_advice(settings)});"
    )


def _beyond_note(check: callback_rules.DoNotCall, records: int, settings: Settings) -> list[str]:
    """That the `records` going ahead were not checked against some customers added since the sync
    (`check.beyond`), or nothing."""
    from ...index.lookup import beyond_note  # loaded with the store, which the check opened

    if not (check.beyond and records):
        return []
    what = f"{counted(records, 'record')} {agreeing(records, 'was', 'were')}"
    return [beyond_note(what, check.beyond, settings)]


def _held_for_dnc(
    checked: list[Checked], check: callback_rules.DoNotCall, despite: bool, what: str
) -> list[str]:
    """The records `check` holds back (their customer asked not to be called, or could not be asked)
    refused in `checked` with the way through, unless the person confirmed (`despite`): then each
    is noted as going ahead (`what`: "its callback is scheduled")."""
    notes: list[str] = []
    for position in sorted({*check.refused, *check.unread}):
        if despite:
            # (Refused for its move alone, the record goes ahead as a move, whatever `what` says.)
            went = "they are moved" if position in check.moves else what
            notes.append(f"Note: record {position}: {check.said(position)}; {went} as the person confirmed.")
            continue
        checked[position - 1] = replace(
            checked[position - 1], problem=check.problem(position, "despite_do_not_call=true")
        )
    return notes


async def _named_customers(
    ameyo: Ameyo, target: UploadTarget, records: Sequence[CallbackContact]
) -> dict[int, Contact]:
    """The customers records name by `customer_id`, with their last disposition, read live in one
    request: Ameyo attaches such a record's callback to that customer, whatever number it holds."""
    ids = sorted({item.customer_id for item in records if item.customer_id is not None})
    if not ids:
        return {}
    request = GetContactsRequest(
        campaign_id=target.campaign.campaign_id,
        customer_ids=[str(i) for i in ids],
        other_columns=callback_rules.DISPOSITION_COLUMNS,
    )
    async with explained(ameyo, target.campaign):
        found = await ameyo.get_contacts(request)
    return {contact.customer_id: contact for contact in found}


def _named_problem(
    customer_id: int | None, named: dict[int, dict[str, Any]], number: str, target: UploadTarget, region: str
) -> str | None:
    """Why a record's callback may not go to the customer it names, or None."""
    if customer_id is None:
        return None
    fields = named.get(customer_id)
    if fields is None:
        return (
            f"customer_id {customer_id} is not a customer of {campaign_label(target.campaign)}: "
            "check the id (ameyo_get_contacts), or leave it out to match the customer by phone1"
        )
    if not callback_rules.own_number(number, fields, region):
        return (
            f"customer_id {customer_id}'s stored numbers do not include the number this callback would "
            f"dial: Ameyo would schedule it for customer {customer_id} on another person's number. Give "
            "that customer's own number, or leave customer_id out"
        )
    return None


def _reaches_named_only(
    customer_id: int | None, entry: Checked, named: Mapping[int, Contact], region: str
) -> bool:
    """Whether a record dials nobody but the customer its customer_id names (read live, so checked
    without an index): Ameyo matches the record by phone1 as sent, so that must be theirs as they
    hold it, and its other numbers theirs too. Otherwise it updates or moves whoever phone1 is, or
    adds a new customer on its numbers."""
    contact = named.get(customer_id) if customer_id is not None else None
    if contact is None:
        return False
    record = entry.record
    return record[PRIMARY_COLUMN] == callback_rules.held_phone1(contact) and all(
        callback_rules.own_number(value, contact.customer_data, region)
        for name, value in record.items()
        if value and name != PRIMARY_COLUMN and is_phone_key(name)
    )


def _dialing(callback: CallbackRecord, record: Checked, region: str) -> CallbackRecord:
    """A callback to the record's own phone1 dials it as sent (respelt as Ameyo holds it)."""
    number, phone = callback.call_back_phone, record.phone
    if number and phone and number != phone and phones.same_number(number, phone, region):
        return callback.model_copy(update={"call_back_phone": phone})
    return callback


def _numbers(good: Sequence[Checked]) -> list[tuple[str, str]]:
    return [(c.identity, c.record[PRIMARY_COLUMN]) for c in good if c.identity is not None]


async def _one_per_number(
    ctx: Context[Any, Any], target: UploadTarget, checked: list[Checked]
) -> list[Checked]:
    """`records.one_record_per_number`, with the spellings Ameyo holds: those earlier uploads sent
    (the write ledger), else phone1 of the indexed customers with the same number (read live)."""
    state = state_of(ctx)
    numbers = {c.identity: c for c in checked if c.problem is None and c.identity is not None}
    campaign_id = target.campaign.campaign_id
    async with explained(state.ameyo, target.campaign):
        held = await state.writes.spellings(
            campaign_id, [(n, c.record[PRIMARY_COLUMN]) for n, c in numbers.items()]
        )
    return one_record_per_number(checked, held)


async def _fields_note(
    ctx: Context[Any, Any], target: UploadTarget, good: Sequence[Checked], *, dry_run: bool
) -> list[str]:
    """The records' fields that none of the campaign's customers has (`unknown_fields_note`)."""
    from ...index.sync import age_text

    if not good:
        return []
    synced_at, known = await state_of(ctx).writes.customer_fields(target.campaign.campaign_id)
    # A customer id is told apart (`customer_id_note`): renaming it would not make it choose one.
    given = (name for c in good for name in c.record if not names_customer(name))
    note = unknown_fields_note(given, known, age_text(synced_at), dry_run=dry_run) if known else None
    return [note] if note else []


async def _known_note(
    ctx: Context[Any, Any], target: UploadTarget, checked: Sequence[Checked], *, update: bool, migrate: bool
) -> list[str]:
    """For a dry run: how many records are customers the campaign's index already holds, and what
    Ameyo would do with them. "would send 3" alone read as three new customers."""
    from ...index.sync import age_text

    # The good records are one a number (`one_record_per_number`): counted by number, not customer.
    good = [c for c in checked if c.problem is None]
    numbers = [c.record[PRIMARY_COLUMN] for c in good]
    writes = state_of(ctx).writes
    try:
        synced_at, known = await writes.indexed(target.campaign.campaign_id, numbers)
        endings = await writes.lookalikes(target.campaign.campaign_id, numbers)
    except Exception:  # the index is an aid: the write that follows says what the store cannot do
        return []
    notes = []
    if synced_at is not None and known:
        flags = ("update_existing=true", "migrate_existing=true")
        synced = age_text(synced_at)
        notes.append(known_customers_note(known, synced, target, update=update, migrate=migrate, flags=flags))
    if endings:
        notes.append(
            lookalikes_note(
                [
                    (
                        good[i].position,
                        good[i].phone or "",
                        c.customer_id,
                        c.customer_data.get(PRIMARY_COLUMN),
                    )
                    for i, c in endings
                ]
            )
        )
    return notes


async def _held_aside(
    path: writes.WritePath,
    good: Sequence[Checked],
    write: plans.Write,
    plan: Callable[[list[Checked]], plans.Write],
) -> dict[int, Outcome]:
    """By position, the records to set aside, as what they are told (REFUSED for the call's own
    repeat of a callback) and why, as a file upload sets its rows aside, in the
    dry run too (the whole upload was refused for one of them): those whose callback another write
    already holds; a record whose callback an earlier record of the same call asks for; and a record
    another upload sent (the same record answered, told with what Ameyo answered it then; or its
    number with an unknown outcome: a file's row, or a record of another call). The same record
    with the same callback answered is told as sent earlier rather than as its callback held.

    The same call made again after records were set aside finds its other records held by what it
    sent then: that write is this call's own, and is answered as a repeat."""
    step = "pass allow_repeat=true only if a second callback is meant"
    callbacks = dict(zip((c.position for c in good), write.callbacks, strict=True)) if write.callbacks else {}
    phones_of = {c.position: c.phone for c in good}
    first: dict[str, int] = {}
    aside: dict[int, Outcome] = {}
    for position, (key, words) in callbacks.items():
        if key in first:
            why = f"not sent: record {first[key]} asks for the same callback ({words}); {step}"
            aside[position] = refused(position, phones_of[position], why)
        first.setdefault(key, position)
    now = path.clock()
    held = await path.held_callbacks(write)
    holder = {
        p: (held[key], Outcome(p, phones_of[p], NOT_SENT, False, reason=f"not sent: {why}; {step}"))
        for p, (key, words) in callbacks.items()
        if key in held
        for why in [plans.held_by(held[key], words, now)]
    }
    rows = await path.rows_held(write)
    earlier: dict[str, list[Any]] = {}  # by write: its answer's rows, by place among `good`
    zone = path.ameyo.settings.zone
    for place, c in enumerate(good):
        entry = rows.get(c.identity) if c.identity is not None else None
        if entry is None:
            continue
        if entry.state != "answered":
            told = Outcome(
                c.position, c.phone, OUTCOME_UNKNOWN, False, reason=plans.record_held_by(entry, now)
            )
            holder.setdefault(c.position, (entry, told))
            continue
        callback_by = holder[c.position][0] if c.position in holder else None
        if not plans.sent_earlier_first(callback_by, entry):
            continue  # another write holds its callback: that is what it is told
        if entry.write_id not in earlier:
            earlier[entry.write_id] = writes.earlier_answer(write, entry)
        rows_then = earlier[entry.write_id]
        row = rows_then[place] if place < len(rows_then) else None
        told = sent_earlier(c.position, c.phone, row, zone, partial(plans.record_held_by, entry, now))
        holder[c.position] = (entry, told)
    for write_id in {entry.write_id for entry, _ in holder.values()}:
        # What this call sent before, less the records others held then: its own write.
        kept = [
            c
            for c in good
            if c.position not in aside
            and (c.position not in holder or holder[c.position][0].write_id == write_id)
        ]
        if kept and plan(kept).identity == write_id:
            holder = {p: h for p, h in holder.items() if h[0].write_id != write_id}
            break
    for position, (_, told) in holder.items():
        aside.setdefault(position, told)
    return aside


def _set_aside(
    checked: list[Checked],
    aside: Mapping[int, Outcome],
    plan: Callable[[list[Checked]], plans.Write],
) -> tuple[list[Checked], list[Checked], plans.Write]:
    """The records with those `aside` set aside as told, for its reasons; the others, and their
    write."""

    def told(c: Checked, outcome: Outcome) -> Checked:
        return replace(c, problem=outcome.reason, aside=None if outcome.result == REFUSED else outcome)

    checked = [told(c, aside[c.position]) if c.position in aside else c for c in checked]
    good = [c for c in checked if c.problem is None]
    return checked, good, plan(good)


async def _send(
    ctx: Context[Any, Any],
    target: UploadTarget,
    checked: list[Checked],
    plan: Callable[[list[Checked]], plans.Write],
    *,
    dry_run: bool,
    allow_repeat: bool,
    token: str | None,
    existing: tuple[bool, bool],
    notes: Sequence[str] = (),
    planned: Mapping[int, str] | None = None,
    requeued: tuple[str, int] | None = None,
    assigned: Mapping[int, tuple[str | None, bool]] | None = None,
) -> CallToolResult:
    """Send the checked records, as `plan` makes them a write, through the write path and report
    each one's outcome by position (with `notes`); a dry run reports what would be sent, with the
    time of each callback it would schedule (`planned`, by position), what Ameyo would do with the
    customers the index knows (`existing`: update_existing, migrate_existing) and the token a large
    write's confirmation needs. `assigned`: each callback's agent and self callback, by position."""
    state = state_of(ctx)
    good = [c for c in checked if c.problem is None]
    write = plan(good)
    if (write.callbacks or write.rows) and not allow_repeat:
        aside = await _held_aside(state.writes, good, write, plan)
        if aside:
            checked, good, write = _set_aside(checked, aside, plan)
    notes = [*notes, *await _fields_note(ctx, target, good, dry_run=dry_run)]
    if dry_run or not good:
        if dry_run:  # what Ameyo would do with the customers the index knows (update, move)
            update, migrate = existing
            notes = [*notes, *await _known_note(ctx, target, checked, update=update, migrate=migrate)]
            if write.subjects:  # the callbacks a new one would stay beside, before the person says yes
                notes = [*notes, *await _other_callbacks_note(state.writes, write, good)]
        needed = state.writes.needs_confirmation(write.records)
        # A token only for a client that cannot ask the person: one that can asks them when sending.
        can_ask = asker(ctx) is not None
        confirm_token = (
            state.writes.dry_run_token(write.identity) if dry_run and needed and not can_ask else None
        )
        return _report(
            state.ameyo,
            target,
            checked,
            None,
            dry_run,
            confirm_token=confirm_token,
            notes=notes,
            planned=planned or {},
            requeued=requeued,
            assigned=assigned,
        )
    refused = len(checked) - len(good)
    for tries_left in range(_RESPELL_TRIES, 0, -1):
        try:
            sent = await send_write(ctx, write, allow_repeat=allow_repeat, token=token, refused=refused)
            break
        except Respelled as exc:
            # Another upload of the same person, in another spelling, was claimed first: send theirs.
            if tries_left == 1:
                raise ToolError(
                    "Nothing was sent: other uploads kept changing how these numbers are spelt in Ameyo "
                    "while this one was being sent. Try again."
                ) from None
            checked = one_record_per_number(checked, exc.spellings)
            good = [c for c in checked if c.problem is None]
            write = plan(good)
        except (CallbackScheduled, RowsSent):
            # Another write was scheduling one of these callbacks, or sending one of these records,
            # when the records were looked at, and has since: that record is set aside now, and the
            # rest go.
            aside = await _held_aside(state.writes, good, write, plan) if not allow_repeat else {}
            if not aside or tries_left == 1:
                raise
            checked, good, write = _set_aside(checked, aside, plan)
            refused = len(checked) - len(good)
            if not good:
                return _report(
                    state.ameyo,
                    target,
                    checked,
                    None,
                    False,
                    notes=notes,
                    requeued=requeued,
                    assigned=assigned,
                )
    results: Sequence[RecordResult] = sent.answer
    if sent.repeat_of_s is None and write.subjects:
        notes = [*notes, *await _other_callbacks_note(state.writes, write, good)]
    zone = state.ameyo.settings.zone
    lead = await lead_of(state.ameyo, target, results, migrate=existing[1])
    outcomes = [
        outcome(c.position, c.phone, results[i] if i < len(results) else None, zone, lead=lead)
        for i, c in enumerate(good)
    ]
    return _report(
        state.ameyo,
        target,
        checked,
        outcomes,
        False,
        repeat=sent.repeat_of_s,
        notes=notes,
        requeued=requeued,
        assigned=assigned,
    )


def _named_by_id(checked: Sequence[Checked], outcomes: Sequence[Outcome] | None) -> list[NamedById]:
    """The records going ahead that give a customer id among their fields, with Ameyo's answer to
    each once sent (`customer_id_note`)."""
    answers = {o.position: o for o in outcomes or ()}
    going = (named_by_id(c.position, c.record, answers.get(c.position)) for c in checked if c.problem is None)
    return [n for n in going if n is not None]


async def _other_callbacks_note(
    writes_path: writes.WritePath, write: plans.Write, good: Sequence[Any]
) -> list[str]:
    """The records whose customers have other callbacks still to come that this server scheduled,
    or may have: they stay beside the new ones (`also_scheduled_by_record`)."""
    others = await writes_path.other_callbacks(write)
    shown = [
        _still_to_come(record.position, others[subject])
        for (_, subject, _, _), record in zip(write.subjects, good, strict=False)
        if subject in others
    ]
    if not shown:
        return []
    more = [f"and {len(shown) - 10} more records"] if len(shown) > 10 else []
    unsure = any(others[subject].maybe for _, subject, _, _ in write.subjects if subject in others)
    return [also_scheduled_by_record([*shown[:10], *more], unsure=unsure)]


def _still_to_come(position: int, times: plans.StillToCome) -> str:
    def listed(at: list[str]) -> str:
        return ", ".join(at[:3]) + (f" and {len(at) - 3} more" if len(at) > 3 else "")

    parts = [f"at {listed(times.scheduled)}"] if times.scheduled else []
    parts += [f"perhaps at {listed(times.maybe)} (outcome unknown)"] if times.maybe else []
    return f"record {position} " + " and ".join(parts)


def _report(
    ameyo: Ameyo,
    target: UploadTarget,
    checked: list[Checked],
    outcomes: list[Outcome] | None,
    dry_run: bool,
    *,
    confirm_token: str | None = None,
    repeat: float | None = None,
    notes: Sequence[str] = (),
    planned: Mapping[int, str] | None = None,
    requeued: tuple[str, int] | None = None,
    assigned: Mapping[int, tuple[str | None, bool]] | None = None,
) -> CallToolResult:
    """An upload's answer. `requeued`: the status and attempts an update gives existing customers;
    `assigned`: whom each record's callback goes to (agent, self callback), by position."""
    refusals = [refused(c.position, c.phone, c.problem) for c in checked if c.problem and not c.aside]
    # Set aside as what they are: a record another upload sent and Ameyo answered is no refusal.
    aside = [c.aside for c in checked if c.aside]
    if outcomes is None:
        if not dry_run and not any(c.problem is None for c in checked):
            told = sorted([*refusals, *aside], key=lambda r: r.position)
            reasons = "; ".join(f"record {r.position}: {r.reason}" for r in told[:10])
            raise ToolError(f"Nothing was sent: every record was refused or set aside. {reasons}")
        planned = planned or {}
        sent_like = [
            would_send(c.position, c.phone, planned.get(c.position)) for c in checked if c.problem is None
        ]
    else:
        sent_like = outcomes
    records = sorted([*sent_like, *refusals, *aside], key=lambda r: r.position)
    rewritten = [c for c in checked if c.problem is None and c.given_phone is not None and not c.held]
    said: list[str | None] = [
        rewritten_note(
            len(rewritten), rewritten[0] if rewritten else None, ameyo.settings.phone_rule, dry_run=dry_run
        ),
        held_note(checked, dry_run=dry_run, repeat=repeat is not None),
        *notes,
    ]
    shown = [
        r.record_out()
        for r in [r for r in records if not r.ok or r.callback_scheduled or r.result == SENT_EARLIER][:200]
    ]
    for r in shown:
        if (r.callback_id or r.callback_time) and r.position in (assigned or {}):
            agent, only = (assigned or {})[r.position]
            r.assigned_to, r.self_callback = (data_text(agent, 64) if agent else None), only or None
    out = UploadOut(
        campaign=campaign_out(target.campaign),
        lead_id=target.lead_id,
        dry_run=dry_run,
        sent=0 if dry_run else len(sent_like),
        would_send=len(sent_like) if dry_run else 0,
        refused=len(refusals),
        set_aside=len(aside),
        records=shown,
        timezone=str(ameyo.settings.zone),
        notes=[note for note in said if note],
        confirm_token=confirm_token,
        repeat_of_earlier_call=True if repeat is not None else None,
        **upload_tally(outcomes or []),
    )
    # Notes that need Ameyo's answers, in the structured notes as in the text.
    note = "" if target.lead_enabled else disabled_lead_note(target.lead_id, None if dry_run else out.counts)
    if note:
        out.notes.append(note)
    if requeued is not None and (note := requeued_note(*requeued, None if dry_run else out.updated)):
        out.notes.append(note)
    if named := _named_by_id(checked, outcomes):
        out.notes.append(customer_id_note(named, dry_run=dry_run))
    positions = {o.customer_id: o.position for o in outcomes or [] if o.customer_id is not None}
    return answer(repeat_note(repeat) + upload_text(out, positions), out)
