"""ameyo_get_contacts: the most common question, "what happened with this customer?"."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ...ameyo.columns import CAMPAIGN_COLUMN_PREFIX, CAMPAIGN_COLUMNS, statuses_of
from ...ameyo.customers import display_name, is_phone_key, phone_values
from ...ameyo.models import CampaignInfo, Contact, GetContactsRequest, LoginInfo
from ...answers.results import ContactOut, ContactsOut, campaign_out
from ...answers.summaries import contacts_text, dispositions_seen_note, still_to_come_note
from ...errors import PhoneError
from ...rules import phones
from ...rules.counts import agreeing, counted
from ...rules.outcomes import UNKNOWN_STATUS
from ...rules.sanitize import clean_mapping, data_text, inert
from .common import (
    MAX_ANSWER_CHARS,
    MAX_STRUCTURED_CHARS,
    ameyo_of,
    answer,
    explained,
    filter_given,
    state_of,
    words_given,
)
from .history import callbacks_set_on_calls, last_call_note
from .session_tools import AmeyoId, CampaignArg, PhoneSearchArg

if TYPE_CHECKING:
    from ...store import CampaignIndex

SUMMARY_COLUMNS = ("status", "attempts", "disposition", "last_dialed_time")


async def ameyo_get_contacts(
    ctx: Context[Any, Any],
    campaign: CampaignArg,
    phone: PhoneSearchArg = None,
    search: Annotated[
        str | None, Field(max_length=200, description="Name or its words' starts, e.g. 'pri sha'")
    ] = None,
    status: Annotated[
        list[str] | None, Field(max_length=25, description="Last call statuses, e.g. BUSY")
    ] = None,
    disposition: Annotated[
        list[str] | None, Field(max_length=25, description="Last dispositions, e.g. DNC")
    ] = None,
    customer_ids: Annotated[
        list[AmeyoId] | None, Field(max_length=500, description="Only these customers")
    ] = None,
    lead_ids: Annotated[list[AmeyoId] | None, Field(max_length=50, description="Only these leads")] = None,
    enabled_leads_only: Annotated[bool, Field(description="Skip contacts in disabled leads")] = False,
    # Any column's prefixed name is taken too, and an unknown one is refused with the list.
    columns: Annotated[
        list[str] | None,
        Field(max_length=35, description="Extra columns, e.g. last_status_1, last_user_id"),
    ] = None,
    order_by: Annotated[str | None, Field(max_length=80, description="e.g. 'last_dialed_time desc'")] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="Contacts to show")] = 20,
    offset: Annotated[int, Field(ge=0, description="Matches to skip (paging)")] = 0,
    detail: Annotated[bool, Field(description="Show every field and column")] = False,
) -> Annotated[CallToolResult, ContactsOut]:
    """Find a campaign's contacts and how their calls went: counts by status, then each contact's
    lead, status, attempts and disposition."""
    ameyo = ameyo_of(ctx)
    # search=" " went to the name index as a name of no words and matched nobody, with any status.
    search, phone = words_given(search, "search"), filter_given(phone)
    extra = _columns(columns or [])
    async with explained(ameyo):
        info = await ameyo.campaign(campaign)
    asked_leads = lead_ids
    skipped: list[int] = []
    if enabled_leads_only and lead_ids:
        # Ameyo reads no disabled lead then: named among the leads read, one read as empty ("all 0
        # contacts of lead 35"). Left out of the request, and said to be skipped.
        async with explained(ameyo, info):
            disabled = {lead.lead_id for lead in await ameyo.leads(info.campaign_id) if not lead.enabled}
        skipped = sorted({int(i) for i in lead_ids} & disabled)
        lead_ids = [i for i in lead_ids if int(i) not in disabled]
    wanted = dict.fromkeys([*SUMMARY_COLUMNS, *extra])
    request = GetContactsRequest(
        campaign_id=info.campaign_id,
        customer_ids=[str(i) for i in customer_ids] if customer_ids else None,
        lead_ids=[str(i) for i in lead_ids] if lead_ids else None,
        choose_enabled_leads=enabled_leads_only or None,
        other_columns={CAMPAIGN_COLUMN_PREFIX + c: c for c in wanted},
        order_by=_order_by(order_by),
    )
    # Here, not at the top: start-up (benchmarked) does not pay for the lookups' module.
    from ...index.lookup import (
        LISTING,
        Finder,
        Found,
        Looked,
        contact_filter,
        elsewhere_note,
        name_matcher,
        status_as_of,
    )
    from ...store import ContactQuery, fold_words

    seen: Counter[str] = Counter()
    number = _phone_search(phone, ameyo.settings.phone_region)
    statuses = set(statuses_of(status)) if status else set()
    dispositions = disposition or []
    keep = contact_filter(number, search, statuses, dispositions, seen)
    finder = Finder(ameyo, lambda: state_of(ctx).store)
    index: CampaignIndex | None = None
    result: Found | None = None
    words = fold_words(search) if search else []
    async with explained(ameyo, info):
        if skipped and not lead_ids:  # every lead asked for is disabled: nothing to read
            matches, looked = [], None
        elif customer_ids:
            found = await ameyo.get_contacts(request)
            matches, looked = [c for c in found if keep(c)], None
        elif number is not None:
            # The index found them by the phone rule; the text, when given too, is checked live.
            result = await finder.by_phone(request, number, keep)
            matches, looked = result.matches, result.looked
        elif not order_by and not enabled_leads_only:
            # The index holds each contact's name words, lead, status and disposition as of its
            # sync: it counts the matches and finds the page, which Ameyo's answer checks again. A
            # live scan (no index) also matches the text anywhere in the customer's fields.
            names, rest = name_matcher(search or ""), contact_filter(None, None, statuses, dispositions, seen)
            for lead_id in dict.fromkeys(lead_ids or ()):
                # Refused as Ameyo's live read refuses it: the index alone would say "0 match".
                await ameyo.lead(info, lead_id)
            query = ContactQuery(
                info.campaign_id,
                words=tuple(words),
                statuses=tuple(sorted(statuses)),
                dispositions=tuple(d.strip() for d in dispositions if d.strip()),
                lead_ids=tuple(lead_ids or ()),
            )
            result = await finder.listing(
                request,
                query,
                (lambda c: names(c) and rest(c)) if search else keep,
                offset=offset,
                limit=limit,
                scan_keep=(lambda c: keep(c) or (names(c) and rest(c))) if search else keep,
            )
            matches, looked = result.matches, result.looked
        elif search:
            # An order or the enabled leads asked for: the index's candidates by name (in its
            # order), checked and ordered by Ameyo's answer.
            names, rest = name_matcher(search), contact_filter(None, None, statuses, dispositions, seen)
            result = await finder.by_name(
                request,
                search,
                lambda c: names(c) and rest(c),
                want=offset + limit + 1,
                scan_keep=lambda c: keep(c) or (names(c) and rest(c)),
            )
            matches, looked = result.matches, result.looked
        else:
            index, why = await finder.index(info.campaign_id)
            if index is not None:
                why = LISTING
            result = await finder.scan(request, keep, why)
            matches, looked = result.matches, result.looked
        login = ameyo.session.info
    if result is not None and result.total is not None:
        # One page, found and counted (by status, as of the sync) by the index.
        page, total, index_look = matches, result.total, result.looked
        shown = [_contact_out(c, info, login, detail, number, extra) for c in page]
        out = ContactsOut(
            campaign=campaign_out(info),
            matched=total,
            scanned=index_look.scanned,
            scan_capped=False,
            looked_in=index_look.where(),
            not_ruled_out=index_look.not_ruled_out(bool(total)),
            more=True if index_look.partial else None,
            by_status={data_text(k, 30): n for k, n in result.by_status.items()},
            as_of=index_look.synced_ago(),
            changed_since_sync=result.changed or None,
            offset=offset,
            next_offset=offset + limit if result.more else None,
            timezone=str(ameyo.settings.zone),
            contacts=shown,
        )
    else:
        by_status = Counter(data_text(c.extra_data.get("status") or UNKNOWN_STATUS, 30) for c in matches)
        page = matches[offset : offset + limit]
        shown = [_contact_out(c, info, login, detail, number, extra) for c in page]
        out = ContactsOut(
            campaign=campaign_out(info),
            matched=len(matches),
            scanned=looked.scanned if looked else len(matches),
            scan_capped=bool(looked and looked.scan_capped),
            looked_in=looked.where() if looked else _unread(skipped) if skipped else "Ameyo, by customer id",
            not_ruled_out=looked.not_ruled_out(bool(matches)) if looked else None,
            more=True if looked and looked.partial else None,
            by_status=dict(by_status.most_common()),
            offset=offset,
            next_offset=offset + len(shown)
            if offset + len(shown) < len(matches) or (looked and looked.candidates_capped and shown)
            else None,
            timezone=str(ameyo.settings.zone),
            contacts=shown,
        )
    if index is not None:
        out.campaign_by_status = status_as_of(index)
        out.campaign_contacts = index.synced_contacts
        out.as_of = Looked(index=index).synced_ago()
    criteria = _criteria(
        number, phone, search, status, disposition, customer_ids, asked_leads, enabled_leads_only
    )
    text = contacts_text(out, criteria)
    if disposition and not matches and not out.matched:
        # Dispositions are free text per deployment: say which exist rather than a bare zero.
        text += "\n" + dispositions_seen_note(result.dispositions if result and result.dispositions else seen)
    if skipped:
        # "0 contacts of lead 35" read as an empty lead, and a disabled lead asked for beside an
        # enabled one was left out without a word.
        n = len(skipped)
        text += (
            f"\n{_disabled(skipped)}, and enabled_leads_only leaves disabled leads out: nothing of "
            f"{agreeing(n, 'it', 'them')} was read. Leave enabled_leads_only out to see "
            f"{agreeing(n, 'its', 'their')} contacts."
        )
    only = status or disposition or asked_leads or enabled_leads_only
    if not matches and (number is not None or customer_ids or search) and not only:
        # Not in this campaign is not "not in Ameyo": another campaign's index may hold them.
        hits = await finder.elsewhere(
            info.campaign_id,
            phone=number,
            customer_ids=[int(i) for i in customer_ids or ()],
            name=search if number is None and not customer_ids else None,
        )
        if hits:
            text += "\n" + elsewhere_note(hits)
    # Detail mode can be wide: show fewer contacts rather than cut the answer mid-record.
    while len(out.contacts) > 1 and (
        len(text) > MAX_ANSWER_CHARS or len(out.model_dump_json(exclude_none=True)) > MAX_STRUCTURED_CHARS
    ):
        out.contacts = out.contacts[: max(1, len(out.contacts) * 3 // 4)]
        out.next_offset = offset + len(out.contacts)
        text = contacts_text(out, criteria) + "\n" + _fewer_note(len(out.contacts), len(shown))
    if out.matched == 1 and len(out.contacts) == 1:
        said, out.last_pushed_call = await last_call_note(ctx, page[0], info.campaign_id)
        text += said + await _callbacks_note(ctx, page[0], info.campaign_id, out)
    return answer(text, out)


CALLBACKS_SHOWN = 100


async def _callbacks_note(
    ctx: Context[Any, Any], contact: Contact, campaign_id: int, out: ContactsOut
) -> str:
    """For an answer about one customer: the callbacks to any of their numbers that this server
    scheduled, or may have, and those agents set on their calls, still to come
    (`still_to_come_note`), said and put in `out`; nothing when there are none."""
    from ...writes.plans import StillToCome

    state = state_of(ctx)
    found = await state.writes.callbacks_still_to_come(campaign_id, phone_values(contact))
    still = StillToCome.of_all(found.values())
    set_on_calls = await callbacks_set_on_calls(ctx, contact, campaign_id)
    if not still.scheduled and not still.maybe and not set_on_calls:
        return ""
    # The soonest of each, within what an answer's data may hold whatever their number.
    out.callbacks_scheduled = still.scheduled[:CALLBACKS_SHOWN] or None
    out.callbacks_maybe_scheduled = still.maybe[:CALLBACKS_SHOWN] or None
    out.callbacks_set_on_calls = set_on_calls[:CALLBACKS_SHOWN] or None
    return "\n" + still_to_come_note(still.scheduled, still.maybe, set_on_calls)


def _unread(skipped: Sequence[int]) -> str:
    """Where a listing looked when every lead it asked for is disabled and enabled_leads_only skips
    them: nowhere, and why."""
    them = agreeing(len(skipped), "it", "them")
    return f"nothing: {_disabled(skipped).lower()}, and enabled_leads_only skips {them}"


def _disabled(leads: Sequence[int]) -> str:
    """'Lead 35 is disabled', 'Leads 35, 36 are disabled'."""
    n, listed = len(leads), ", ".join(str(i) for i in leads)
    return f"{agreeing(n, 'Lead', 'Leads')} {listed} {agreeing(n, 'is', 'are')} disabled"


def _fewer_note(shown: int, asked: int) -> str:
    return (
        f"Shown {shown:,} of the {asked:,} asked for: with every field (detail) they fill what an answer "
        f"may hold ({MAX_ANSWER_CHARS:,} characters of text, {MAX_STRUCTURED_CHARS:,} of data). The offset "
        "above continues."
    )


def _columns(names: list[str]) -> list[str]:
    cleaned = [n.strip().lower().removeprefix(CAMPAIGN_COLUMN_PREFIX) for n in names]
    unknown = [n for n in cleaned if n not in CAMPAIGN_COLUMNS]
    if unknown:
        # Quoted as the other arguments are, capped and cleaned: whole, five long names made an
        # error of 20,000 characters, and escape or bidirectional characters reached the model.
        shown = ", ".join(repr(data_text(n, 40)) for n in unknown[:5])
        more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        raise ToolError(f"Unknown column(s) {shown}{more}: the columns are {', '.join(CAMPAIGN_COLUMNS)}")
    return cleaned


def _order_by(text: str | None) -> str | None:
    if not text:
        return None
    match = re.fullmatch(r"\s*([A-Za-z_][\w.]*)\s*(asc|desc)?\s*", text, re.IGNORECASE)
    if match is None:
        raise ToolError(f"order_by must be a column name with optional asc/desc, not {data_text(text, 40)!r}")
    column, direction = match.group(1), (match.group(2) or "").upper()
    bare = column.lower().removeprefix(CAMPAIGN_COLUMN_PREFIX)
    if bare in CAMPAIGN_COLUMNS:
        column = CAMPAIGN_COLUMN_PREFIX + bare
    elif column not in ("customerId", "leadId"):
        raise ToolError(
            f"order_by column {column!r} is unknown: use customerId or one of {', '.join(CAMPAIGN_COLUMNS)}"
        )
    return f"{column} {direction}".strip()


def _phone_search(phone: str | None, region: str) -> phones.PhoneSearch | None:
    try:
        return phones.search(phone, region) if phone is not None else None
    except PhoneError as exc:
        raise ToolError(f"phone: {exc}") from None


def _contact_out(
    contact: Contact,
    campaign: CampaignInfo,
    login: LoginInfo | None,
    detail: bool,
    number: phones.PhoneSearch | None = None,
    columns: Sequence[str] = (),
) -> ContactOut:
    data, extra = contact.customer_data, contact.extra_data
    masked = login is not None and login.masks_phone(campaign.campaign_id)
    phone = data.get("phone1")
    matched: str | None = None
    if number is not None and not masked and not (phone and number.matches(str(phone))):
        # Found by another of their numbers: phone1 alone would not show why they match.
        field = next((k for k, v in data.items() if is_phone_key(k) and v and number.matches(str(v))), None)
        matched = f"{data_text(field, 30)} {data_text(data[field], 24)}" if field else None
    same: bool | None = None
    if number is not None and number.whole:
        same = any(number.is_given(v) for v in phone_values(contact) if number.matches(v))
    if masked and phone:
        phone = login.mask_value(campaign.campaign_id) if login else None
    attempts = extra.get("attempts")
    full: dict[str, str | None] | None = None
    if detail:
        merged = {k: v for k, v in data.items() if not (masked and is_phone_key(k))}
        merged.update({k: v for k, v in extra.items() if k not in SUMMARY_COLUMNS})
        full = {inert(k): inert(v) for k, v in clean_mapping(merged).items()}
    elif columns:  # asked for by name: shown without every other field
        asked = {c: extra[c] for c in columns if c not in SUMMARY_COLUMNS and extra.get(c) not in (None, "")}
        full = {inert(k): inert(v) for k, v in clean_mapping(asked).items()} or None
    if columns:
        # Ameyo leaves a column without a value out of its answer: one asked for by name says so,
        # rather than being missing as if it had not been asked for.
        unset: dict[str, str | None] = {
            c: None for c in columns if c not in SUMMARY_COLUMNS and extra.get(c) in (None, "")
        }
        full = {**(full or {}), **unset} or None
    name = display_name(data)
    return ContactOut(
        customer_id=contact.customer_id,
        lead_id=contact.lead_id,
        name=data_text(name, 60) if name else None,
        phone=data_text(phone, 24) if phone else None,
        matched_phone=matched,
        same_number=same,
        status=data_text(extra["status"], 30) if extra.get("status") else None,
        attempts=int(str(attempts)) if str(attempts).isdigit() else None,
        disposition=data_text(extra["disposition"], 40) if extra.get("disposition") else None,
        last_dialed=data_text(extra["last_dialed_time"], 25) if extra.get("last_dialed_time") else None,
        data=full,
    )


def _criteria(
    number: phones.PhoneSearch | None,
    given: str | None,
    search: str | None,
    status: list[str] | None,
    disposition: list[str] | None,
    customer_ids: list[int] | None,
    lead_ids: list[int] | None,
    enabled_only: bool,
) -> str | None:
    parts = []
    if number is not None:
        # A whole number is found in any spelling (shown as given: "+91 98178 70362", not its
        # digits run together); last digits at the end of any number.
        if number.whole:
            parts.append(f"phone {data_text(given or number.digits, 30)} (any spelling)")
        else:
            parts.append(f"phone ending …{number.digits[-15:]}")
    if search:
        parts.append(f"text {data_text(search, 40)!r}")
    if status:
        parts.append("status " + "/".join(data_text(s.upper(), 30) for s in status[:10]))
    if disposition:
        parts.append("disposition " + "/".join(data_text(d, 30) for d in disposition[:10]))
    if customer_ids:
        # An id given twice is one customer: "1 contact matches 3 customer ids" read as two missing.
        repeats = len(customer_ids) - len(set(customer_ids))
        again = f" ({counted(repeats, 'repeat')} taken once)" if repeats else ""
        parts.append(counted(len(customer_ids) - repeats, "customer id") + again)
    if lead_ids:
        parts.append("lead " + "/".join(str(i) for i in lead_ids[:10]))
    if enabled_only:
        parts.append("enabled leads")
    return ", ".join(parts) if parts else None
