"""ameyo_add_callback: "call Priya back tomorrow at 3 pm"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ...ameyo.customers import display_name, is_phone_key, phone_values
from ...ameyo.models import Callback, CampaignInfo, Contact, GetContactsRequest, campaign_label
from ...ameyo.service import Ameyo
from ...answers.results import CallbackOut, campaign_out
from ...answers.summaries import (
    also_scheduled_note,
    also_set_on_calls_note,
    callback_text,
    maybe_scheduled_note,
)
from ...errors import PhoneError
from ...rules import phones
from ...rules.phones import is_complete, same_number
from ...rules.sanitize import data_text, fence
from ...rules.times import CallbackTime, parse_callback_time, show
from ...writes import callback_rules, plans
from .common import (
    AgentArg,
    AllowRepeatArg,
    CallbackTimeArg,
    DespiteDncArg,
    OutsideHoursArg,
    SelfCallbackArg,
    ameyo_of,
    answer,
    explained,
    repeat_note,
    send_write,
    state_of,
)
from .contacts import CALLBACKS_SHOWN
from .history import callbacks_set_on_calls
from .session_tools import AmeyoId, CampaignArg

if TYPE_CHECKING:
    from ...index.held import NewestSeen
    from ...index.lookup import Finder, Found


async def ameyo_add_callback(
    ctx: Context[Any, Any],
    campaign: CampaignArg,
    callback_time: CallbackTimeArg,
    customer_id: Annotated[AmeyoId | None, Field(description="Customer id (ameyo_get_contacts)")] = None,
    phone: Annotated[
        str | None,
        Field(
            max_length=40,
            description="Their number or its last digits; with customer_id, which of theirs to call",
        ),
    ] = None,
    agent: AgentArg = None,
    self_callback: SelfCallbackArg = False,
    outside_calling_hours: OutsideHoursArg = False,
    despite_do_not_call: DespiteDncArg = False,
    allow_repeat: AllowRepeatArg = False,
) -> Annotated[CallToolResult, CallbackOut]:
    """Schedule a callback for an existing customer, by customer_id or phone; Ameyo dials one of their
    full stored numbers. New customers: ameyo_upload_contacts_with_callbacks."""
    ameyo = ameyo_of(ctx)
    if customer_id is None and not phone:
        raise ToolError("Give customer_id or phone: whom should Ameyo call back?")
    agent = (agent or "").strip() or None
    unsent = callback_rules.self_callback_problem(self_callback, agent)
    if unsent is not None:
        raise ToolError(f"{unsent}. Nothing was sent.")
    async with explained(ameyo):
        info = await ameyo.campaign(campaign)
    async with explained(ameyo, info):
        when = parse_callback_time(callback_time, ameyo.settings.zone)
        # On the first call: start-up does not pay for them.
        from ...index.held import NewestSeen
        from ...index.lookup import Finder

        # The customers added since the sync that a lookup by phone reads stand for the check of
        # the line's other customers that follows it.
        newest = NewestSeen(ameyo.settings.phone_region)
        finder = Finder(ameyo, lambda: state_of(ctx).store, newest)
        contact, number, notes = await _customer_and_number(ameyo, finder, info, customer_id, phone)
        notes += await _checks(ameyo, info, contact, when, outside_calling_hours, despite_do_not_call)
        notes += await _line_shared(ctx, info, contact, number, despite_do_not_call, newest)
    if agent is not None:
        notes += await state_of(ctx).writes.unknown_agents_note([agent])
    write = plans.plan_callback(
        ameyo.settings.base_url,
        info,
        customer_id=contact.customer_id,
        number=number,
        when_wire=when.wire,
        agent=agent,
        self_callback=self_callback,
        region=ameyo.settings.phone_region,
    )
    sent = await send_write(ctx, write, allow_repeat=allow_repeat)
    others = plans.StillToCome([], [])
    set_on_calls: list[str] = []
    if sent.repeat_of_s is None:
        # By any of the customer's numbers: a callback to their phone2 is theirs too.
        found = await state_of(ctx).writes.other_callbacks(write, phone_values(contact))
        others = plans.StillToCome.of_all(found.values())
        if others.scheduled:
            notes.append(also_scheduled_note(others.scheduled, "this customer", "this one"))
        if others.maybe:
            notes.append(maybe_scheduled_note(others.maybe, "this customer", "this one"))
        set_on_calls = await callbacks_set_on_calls(ctx, contact, info.campaign_id)
        if set_on_calls:
            notes.append(also_set_on_calls_note(set_on_calls, "this customer", "this one"))
    return _answer(ameyo, info, contact, sent, number, when.at, agent, notes, others, set_on_calls)


def _answer(
    ameyo: Ameyo,
    info: CampaignInfo,
    contact: Contact,
    sent: plans.Sent,
    number: str,
    at: datetime,
    agent: str | None,
    notes: list[str],
    others: plans.StillToCome,
    set_on_calls: Sequence[str],
) -> CallToolResult:
    created: Sequence[Callback] = sent.answer
    callback = created[0]
    name = display_name(contact.customer_data)
    moment = callback.callback_time or at
    zone = ameyo.settings.zone
    if sent.repeat_of_s is not None and _wall(moment, zone) != _wall(at, zone):
        # Callbacks are one a minute (`plans.callback_key`): the time asked for is not the one
        # Ameyo holds, and both are said to the second, or the difference is hidden.
        notes = [
            f"Note: {show(at, zone, seconds=True)} was asked for; it is in the same minute as this callback, "
            f"scheduled earlier for {show(moment, zone, seconds=True)}, so it is that one: nothing was "
            "sent. Pass allow_repeat=true only if the customer is to be called a second time within "
            "the minute.",
            *notes,
        ]
    out = CallbackOut(
        campaign=campaign_out(info),
        callback_id=callback.callback_id,
        customer_id=callback.customer_id or callback.properties.customer_id or contact.customer_id,
        name=data_text(name, 60) if name else None,
        phone=data_text(callback.phone or callback.properties.phone or number, 24),
        time=show(moment, zone, seconds=True),
        timezone=str(ameyo.settings.zone),
        assigned_to=data_text(callback.user_id or agent, 64) if callback.user_id or agent else None,
        self_callback=callback.is_self_callback,
        repeat_of_earlier_call=True if sent.repeat_of_s is not None else None,
        also_scheduled=others.scheduled or None,
        maybe_scheduled=others.maybe or None,
        also_set_on_calls=list(set_on_calls[:CALLBACKS_SHOWN]) or None,
    )
    text = repeat_note(sent.repeat_of_s) + callback_text(out)
    if notes:
        text += "\n" + "\n".join(notes)
    return answer(text, out)


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """A time as the wall clock of the Ameyo server's zone, to the second."""
    moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    return moment.replace(microsecond=0, tzinfo=None)


def _numbers(contact: Contact, region: str) -> list[str]:
    """The customer's stored full numbers, phone1 first, as Ameyo holds them: a field named like a
    phone that holds no complete number (an extension, a partial) is never a number to dial."""
    data = contact.customer_data
    keys = sorted((k for k in data if is_phone_key(k) and data[k]), key=lambda k: (k != "phone1", k))
    values = [str(data[k]).strip() for k in keys]
    return [v for v in values if is_complete(v, region)]


def _who(contact: Contact) -> str:
    return f"customer {contact.customer_id}"


def _names(*contacts: Contact) -> str:
    """The customers' names, for a refusal that names them by id: customer text, so fenced below
    the sentence (never inside it); empty when none has a name."""
    named = [(c.customer_id, display_name(c.customer_data)) for c in contacts]
    lines = [f"customer {i}: {name}" for i, name in named if name]
    return "\n" + "\n".join(["Their names in Ameyo:", *fence(lines)]) if lines else ""


def _told_apart(contacts: Sequence[Contact], wanted: phones.PhoneSearch, region: str) -> str:
    """Customers a number matches, each with what tells them apart (name, the number it matched,
    lead): two namesakes by id alone leave the person nothing to choose by. Fenced, as `_names`."""
    lines = []
    for c in contacts:
        number = next((n for n in _numbers(c, region) if wanted.matches(n)), None)
        parts = [
            display_name(c.customer_data) or "(no name)",
            number,
            f"lead {c.lead_id}" if c.lead_id else None,
        ]
        lines.append(f"customer {c.customer_id}: " + ", ".join(p for p in parts if p))
    return "\n" + "\n".join(["Who they are in Ameyo:", *fence(lines)])


async def _customer_and_number(
    ameyo: Ameyo, finder: Finder, info: CampaignInfo, customer_id: int | None, phone: str | None
) -> tuple[Contact, str, list[str]]:
    """The customer, the full stored number Ameyo will dial (never a partial number, never a
    number of another customer) and what the person should know of the choice."""
    region = ameyo.settings.phone_region
    label = campaign_label(info)
    if customer_id is None:
        return await _by_phone(finder, info, phone or "")
    found = await ameyo.get_contacts(_request(info, customer_ids=[str(customer_id)]))
    if not found:
        from ...index.lookup import elsewhere_note  # loaded already, with the finder

        other = elsewhere_note(await finder.elsewhere(info.campaign_id, customer_ids=[customer_id]))
        raise ToolError(
            f"Customer {customer_id} is not in campaign {label}. Nothing was sent: look it up with "
            "ameyo_get_contacts." + (f"\n{other}" if other else "")
        )
    contact = found[0]
    numbers = _numbers(contact, region)
    if not numbers:
        raise ToolError(
            f"{_who(contact)} has no complete phone number in Ameyo: update the customer first"
            + _names(contact)
        )
    if not phone:
        return contact, numbers[0], []
    try:
        phones.search(phone, region)  # letters or too few digits are refused, never dropped
        mine = [n for n in numbers if same_number(n, phone, region)]
    except PhoneError as exc:
        raise ToolError(f"phone: {exc}") from None
    if mine:
        return contact, mine[0], []
    shown = data_text(phone, 24)
    listing = ", ".join(data_text(n, 24) for n in numbers)
    if not is_complete(phone, region):
        raise ToolError(
            f"phone {shown} is not a full number, and Ameyo must dial a full one. {_who(contact)} has "
            f"{listing}: leave phone out to call {data_text(numbers[0], 24)}, or give one of them in full."
            + _names(contact)
        )
    wanted = phones.search(phone, region)
    # A customer whose number only ends with the one given does not own it: naming them would
    # send the person to call them instead.
    owners = [
        c
        for c in (await _scan(finder, info, wanted)).matches
        if c.customer_id != contact.customer_id and _given(c, wanted, region)
    ]
    if owners:
        raise ToolError(
            f"phone {shown} belongs to {_who(owners[0])}, not to {_who(contact)} (whose numbers are "
            f"{listing}). Nothing was sent: pass the customer_id of the customer to call."
            + _names(owners[0], contact)
        )
    raise ToolError(
        f"phone {shown} is not one of {_who(contact)}'s numbers ({listing}). Nothing was sent: leave "
        "phone out to call their phone1, or update the customer's numbers first." + _names(contact)
    )


async def _by_phone(finder: Finder, info: CampaignInfo, phone: str) -> tuple[Contact, str, list[str]]:
    region = finder.ameyo.settings.phone_region
    try:
        wanted = phones.search(phone, region)
        found = await _scan(finder, info, wanted)
    except PhoneError as exc:
        raise ToolError(f"phone: {exc}") from None
    matches = found.matches
    shown = data_text(phone, 24)
    label = campaign_label(info)
    if not matches:
        from ...index.lookup import elsewhere_note  # loaded already, with the finder

        missed = found.looked.missed()
        other = elsewhere_note(await finder.elsewhere(info.campaign_id, phone=wanted))
        raise ToolError(
            f"No customer with phone {shown} in campaign {label}, looked in: {found.looked.where()}. "
            + (f"{missed} " if missed else "")
            + "Nothing was sent. Look them up with ameyo_get_contacts and pass customer_id; add them (and "
            "the callback together) with ameyo_upload_contacts_with_callbacks only if they are truly not "
            "in this campaign." + (f"\n{other}" if other else "")
        )
    matches, aside = _by_given_number(matches, wanted, region)
    if not matches:
        raise ToolError(_ends_only_refusal(aside, shown, label, wanted, region, found.looked.missed()))
    if len(matches) > 1:
        listing = ", ".join(_who(c) for c in matches[:10])
        more = f" and {len(matches) - 10:,} more" if len(matches) > 10 else ""
        raise ToolError(
            f"Several customers have a number matching {shown} ({listing}{more}): pass the customer_id of "
            "the one to call." + _told_apart(matches[:10], wanted, region)
        )
    if not wanted.whole and (unread := found.looked.unread()):
        # One customer found by last digits is the one meant only if nobody else has them.
        raise ToolError(
            f"A number ending {shown} is {_who(matches[0])}'s, but another customer may have one too. "
            f"{unread} Nothing was sent: give the whole number or the customer_id."
        )
    contact = matches[0]
    numbers = [n for n in _numbers(contact, region) if wanted.matches(n)]
    number = next((n for n in numbers if wanted.is_given(n)), numbers[0])
    return contact, number, [_left_aside_note(aside, contact, shown, wanted, region)] if aside else []


def _given(contact: Contact, wanted: phones.PhoneSearch, region: str) -> bool:
    return any(wanted.is_given(n) for n in _numbers(contact, region))


def _by_given_number(
    matches: Sequence[Contact], wanted: phones.PhoneSearch, region: str
) -> tuple[list[Contact], list[Contact]]:
    """The customers a whole number names, and those found only because a longer, other number of
    theirs ends with it (`0458681166572` for `8681166572`): someone else, unless the person means
    them. Last digits name no number: every customer they find is a candidate."""
    if not wanted.whole:
        return list(matches), []
    named: list[Contact] = []
    aside: list[Contact] = []
    for c in matches:
        (named if _given(c, wanted, region) else aside).append(c)
    return named, aside


def _ending_numbers(contacts: Sequence[Contact], wanted: phones.PhoneSearch, region: str) -> str:
    """ "customer 12458's number 0458681166572, ...": the number of each that the search found."""
    said = []
    for c in contacts[:10]:
        number = next(n for n in _numbers(c, region) if wanted.matches(n))  # `_scan` kept them so
        said.append(f"{_who(c)}'s number {data_text(number, 24)}")
    more = f" and {len(contacts) - 10:,} more" if len(contacts) > 10 else ""
    return ", ".join(said) + more


def _ends_only_refusal(
    aside: Sequence[Contact], shown: str, label: str, wanted: phones.PhoneSearch, region: str, missed: str
) -> str:
    if len(aside) == 1:
        found = f"{_ending_numbers(aside, wanted, region)} only ends with it"
        meant = (
            f"if customer {aside[0].customer_id} is the one the person means, pass customer_id "
            f"{aside[0].customer_id} (without phone) to call their own number"
        )
    else:
        found = f"{_ending_numbers(aside, wanted, region)} each only end with it"
        meant = "if one of them is the one the person means, pass their customer_id (without phone)"
    return (
        f"No customer in campaign {label} has the number {shown}: {found}, another number under the "
        "phone rule, someone else unless the person means them. Nothing was sent: "
        f"{meant}; if the number's customer is not in this campaign, add them (and the callback "
        "together) with ameyo_upload_contacts_with_callbacks."
        + (f" {missed}" if missed else "")
        + _told_apart(aside[:10], wanted, region)
    )


def _left_aside_note(
    aside: Sequence[Contact], chosen: Contact, shown: str, wanted: phones.PhoneSearch, region: str
) -> str:
    why = f"another number under the phone rule; the person gave the whole number, {_who(chosen)}'s"
    if len(aside) == 1:
        return (
            f"Note: left aside {_ending_numbers(aside, wanted, region)}, which only ends with {shown}: {why}."
        )
    return (
        f"Note: left aside {_ending_numbers(aside, wanted, region)}, which each only end with {shown}: {why}."
    )


async def _scan(finder: Finder, info: CampaignInfo, wanted: phones.PhoneSearch) -> Found:
    """The customers with the number searched for (whole, or its last digits): through the index,
    and the customers added since the sync (`Finder.by_phone`), or a bounded live scan when the
    campaign has none. A second customer with those digits, added since, is named beside the
    indexed one rather than passed over for the callback to dial the first. (The line's check reads
    the customers added since anyway, and takes this read: no request more.)"""
    region = finder.ameyo.settings.phone_region

    def keep(contact: Contact) -> bool:
        return any(wanted.matches(n) for n in _numbers(contact, region))

    return await finder.by_phone(_request(info), wanted, keep)


def _request(info: CampaignInfo, **fields: Any) -> GetContactsRequest:
    # The customer's last disposition decides whether they may be called.
    columns = callback_rules.DISPOSITION_COLUMNS
    return GetContactsRequest(campaign_id=info.campaign_id, other_columns=columns, **fields)


async def _line_shared(
    ctx: Context[Any, Any],
    info: CampaignInfo,
    contact: Contact,
    number: str,
    despite_dnc: bool,
    newest: NewestSeen,
) -> list[str]:
    """The do-not-call check of the other customers the number dialled is theirs too (a shared
    line), as an upload checks the customer its callback's number dials: the call rings them.
    `newest`: the customers added since the sync the lookup read, if it did."""
    check = await state_of(ctx).writes.do_not_call(
        info.campaign_id, {0: callback_rules.Dials(number, (number,))}, newest
    )
    if check.beyond:
        from ...index.lookup import beyond_note  # loaded with the store, which the check opened

        beyond = [
            beyond_note(f"the number {data_text(number, 24)} was", check.beyond, ameyo_of(ctx).settings)
        ]
    else:
        beyond = []
    refused = check.refused.get(0)
    if refused is None and 0 in check.unread:
        # The customers the index finds on the line could not be read: held back, as an upload's
        # callback to that line is, with the way through.
        problem = f"{data_text(number, 24)}: {check.problem(0, 'despite_do_not_call=true')}"
        if not despite_dnc:
            raise ToolError(f"Nothing was sent: {problem}")
        return [
            f"Note: {data_text(number, 24)}: {check.said(0)}; scheduled as the person confirmed.",
            *beyond,
        ]
    if refused is None or refused[0] == contact.customer_id:
        return beyond  # (the customer's own disposition: `_checks`)
    said = (
        f"{data_text(number, 24)} is also customer {refused[0]}'s number, and "
        f"{callback_rules.do_not_call_said(*refused)}"
    )
    if not despite_dnc:
        raise ToolError(
            f"{said}. Nothing was sent: the callback rings their line too. Ask the person, and call "
            "again with despite_do_not_call=true only if they may be called there."
        )
    return [f"Note: {said}; scheduled as the person confirmed.", *beyond]


async def _checks(
    ameyo: Ameyo,
    info: CampaignInfo,
    contact: Contact,
    when: CallbackTime,
    outside_hours: bool,
    despite_dnc: bool,
) -> list[str]:
    """What a person would want to know, or to confirm, before a customer is called."""
    notes: list[str] = []
    late = callback_rules.outside_hours(when.at, ameyo.settings.calling_hours, ameyo.settings.zone)
    if late is not None:
        if not outside_hours:
            raise ToolError(
                f"{late}. Nothing was sent: ask the person for a time within them, or call again with "
                "outside_calling_hours=true if they really want this time."
            )
        notes.append(f"Note: {late}; scheduled as the person asked.")
    disposition = callback_rules.last_disposition(contact.extra_data)
    if callback_rules.do_not_call(disposition):
        if not despite_dnc:
            raise ToolError(
                f"{_who(contact)}'s last disposition is {data_text(disposition, 30)!r} (do not call). "
                "Nothing was sent: ask the person, and call again with despite_do_not_call=true only if "
                "the customer asked to be called." + _names(contact)
            )
        notes.append(
            f"Note: the customer's last disposition is {data_text(disposition, 30)!r}; scheduled as the "
            "person confirmed."
        )
    if contact.lead_id is not None:
        leads = await ameyo.leads(info.campaign_id)
        lead = next((x for x in leads if x.lead_id == contact.lead_id), None)
        if lead is not None and not lead.enabled:
            notes.append(
                f"Note: the customer's lead {lead.lead_id} is disabled in Ameyo; the callback may not be "
                "dialled until the lead is enabled."
            )
    return notes
