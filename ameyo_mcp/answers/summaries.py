"""Concise text for the model, rendered from the structured results.

Counts come before lists, names stand beside ids, every time names its zone, every list is capped
and says how to get the rest. Values that came from customer records are fenced inside
`<customer-data>` so that they read as data, never as the server's (or anyone's) instructions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..ameyo.models import campaign_label
from ..ameyo.result_types import IN_THE_LEAD, NOT_MOVED, UPDATED_AND_MOVED, UPDATED_IN_PLACE
from ..rules.counts import agreeing, at_least, counted, number
from ..rules.sanitize import data_text, fence

if TYPE_CHECKING:
    from ..ameyo.service import UploadTarget

from .results import (
    SENT_EARLIER,
    CallbackOut,
    ContactOut,
    ContactsOut,
    LeadsOut,
    LoginOut,
    PingOut,
    RecordOut,
    UploadOut,
    scheduled_now,
)

MAX_FAILURE_LINES = 25
MAX_IDS_SHOWN = 30
MAX_STATUSES = 8
# Past this many contacts a listing is a table: the columns that vary, values that every shown
# contact shares said once, contacts grouped by status (a page of 100 in a sixth of Ameyo's JSON).
COMPACT_OVER = 20


def login_text(out: LoginOut, unanswered: str | None = None) -> str:
    """`unanswered`: why Ameyo did not answer the ping that checks a session kept from before (a
    clause, after a colon); the session is then told as the one held, as its login gave it."""
    campaigns = ", ".join(f"{c.name} ({c.id}, {c.type or 'type unknown'})" for c in out.campaigns[:50])
    if unanswered is not None:
        state = (
            f"Ameyo could not confirm the session just now, so whether it is still live is not known: "
            f"{unanswered}\nThe session this server holds, as its login gave it: logged in"
        )
    else:
        state = "Started a new Ameyo session" if out.new_session else "Using the live Ameyo session"
    return "\n".join(
        [
            f"{state} as {out.user} ({out.user_type}).",
            f"Campaigns: {campaigns or 'none'}.",
            f"Limits: phone numbers up to {out.max_phone_length} characters; session times out after "
            f"{out.session_timeout_s:g} s idle (kept alive automatically); commands time out after "
            f"{out.command_timeout_s:g} s.",
        ]
    )


def ping_text(out: PingOut, idle_s: float) -> str:
    """`idle_s`: after how long without use the session is released (AMEYO_IDLE_LIMIT_S)."""
    if not out.alive:
        return "The Ameyo session is not alive; the next call logs in again."
    day = f"{out.weekday} " if out.weekday else ""
    idle = f"{idle_s / 60:g} minutes" if idle_s >= 60 else f"{idle_s:g} seconds"
    state = (
        "There was no live Ameyo session, so this ping logged in: the session holds a licensed seat "
        f"until ameyo_logout, or until it is released after {idle} without use."
        if out.new_session
        else "The Ameyo session is alive."
    )
    return f"{state} Ameyo server time: {day}{out.server_time}."


def leads_text(out: LeadsOut) -> str:
    count = len(out.leads)
    lines = [f"{campaign_label(out.campaign)} has {counted(count, 'lead')}:"]
    for lead in out.leads[:100]:
        state = "enabled" if lead.enabled else "DISABLED (not dialed)"
        extra = f", priority {lead.priority}" if lead.priority is not None else ""
        extra += f", max {lead.max_attempt} attempts" if lead.max_attempt is not None else ""
        lines.append(f"- lead {lead.lead_id}: {state}{extra}")
    if len(out.leads) > 100:
        lines.append(f"{len(out.leads) - 100} more leads not shown.")
    return "\n".join(lines)


def contact_line(c: ContactOut) -> str:
    tries = "" if c.attempts is None else f", {counted(c.attempts, 'attempt')}"
    parts = [
        f"#{c.customer_id} {c.name or '(no name)'}",
        _phone(c),
        f"lead {c.lead_id}" if c.lead_id is not None else "lead ?",
        f"{c.status or 'status ?'}{tries}",
    ]
    if c.disposition:
        parts.append(c.disposition)
    if c.last_dialed:
        parts.append(f"last {c.last_dialed[:16]}")
    if c.data:
        parts.append(_data_text(c.data))
    return " | ".join(map(cell, parts))


def _data_text(data: Mapping[str, str | None]) -> str:
    """A contact's other fields as a line: `k=v; …`, a column asked for without a value said so."""
    return "; ".join(f"{k}={'(not set)' if v is None else v}" for k, v in data.items())


def cell(text: str) -> str:
    """A cell of a line whose cells are joined by |: a | of its own (a name "Ravi | 9999999999"),
    or one of its look-alikes, is shown as ¦, so that no value can shift the cells after it and be
    read as another column."""
    if text.isascii():
        return text.replace("|", "¦") if "|" in text else text
    return text.translate(_BARS)


# | and what reads as it: full-width, divides, box drawing, the click letter, the vertical line
# extension, the light vertical bar, and the Latin letter dental click.
_BARS = str.maketrans(dict.fromkeys(map(ord, "|｜∣│┃ǀ⏐❘￨︱"), "¦"))


def _phone(c: ContactOut) -> str:
    phone = c.phone or "(no phone)"
    if c.same_number is False:
        phone += " (ends with the number searched for: another number)"
    return f"{phone} (matched {c.matched_phone})" if c.matched_phone else phone


_COLUMNS: dict[str, Callable[[ContactOut], str]] = {
    "id": lambda c: str(c.customer_id),
    "name": lambda c: c.name or "(no name)",
    "phone": _phone,
    "lead": lambda c: "?" if c.lead_id is None else str(c.lead_id),
    "attempts": lambda c: "?" if c.attempts is None else str(c.attempts),
    "disposition": lambda c: c.disposition or "",
    "last dialed": lambda c: (c.last_dialed or "")[:16],
    "data": lambda c: _data_text(c.data or {}),
}
# Said once when every shown contact has the same one ("all shown: lead 21, 0 attempts").
_SHAREABLE = ("lead", "attempts", "disposition", "last dialed", "data")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _lettered(column: list[str]) -> tuple[list[str], str] | None:
    """A column of a few values repeated down the table (dispositions) written as letters, and
    the legend that says each once ("a Sale; b DNC"), when that is shorter; else None."""
    distinct = list(dict.fromkeys(v for v in column if v))
    if not distinct or len(distinct) > len(_LETTERS):
        return None
    letters = dict(zip(distinct, _LETTERS, strict=False))
    legend = "; ".join(f"{letters[v]} {v}" for v in distinct)
    if len(legend) + sum(1 for v in column if v) >= sum(len(v) for v in column):
        return None
    return [letters.get(v, "") for v in column], legend


def _table(contacts: list[ContactOut], which: str, zone: str) -> list[str]:
    """Many contacts as a table grouped by status: one line each of the columns that vary, joined
    by |, empty cells at the end left off; a column every contact shares is said once."""
    values = {name: [cell(column(c)) for c in contacts] for name, column in _COLUMNS.items()}
    shared: list[str] = []
    for name in _SHAREABLE:
        column = values[name]
        if len(set(column)) == 1:
            del values[name]
            if column[0]:
                # A time says its zone, as the column's heading does.
                shared.append(f"{name} {column[0]}" + (f" ({zone})" if name == "last dialed" else ""))
    lettered = _lettered(values["disposition"]) if "disposition" in values else None
    legend = ""
    if lettered is not None:
        # The letters take the column's own place, so that the table's order stays as named.
        column, legend = lettered
        values = {("disposition (letter)" if k == "disposition" else k): v for k, v in values.items()}
        values["disposition (letter)"] = column
    year = ""
    dialed = values.get("last dialed")
    if dialed is not None and len({d[:4] for d in dialed if d}) == 1:
        year = next(d[:4] for d in dialed if d) + ", "
        values["last dialed"] = [d[5:] for d in dialed]
    columns = "|".join(values)
    if "last dialed" in values:
        columns += f" ({year}{zone})"
    head = f"{which}, grouped by status; columns: {columns}."
    groups: dict[str, list[int]] = {}
    for index, c in enumerate(contacts):
        groups.setdefault(c.status or "status ?", []).append(index)
    rows = [f"All shown: {', '.join(shared)}"] if shared else []
    if legend:
        rows.append(f"Dispositions by letter: {legend}")
    for status, members in sorted(groups.items(), key=lambda g: -len(g[1])):
        rows.append(f"{status} ({len(members)}):")
        rows.extend("|".join(v[i] for v in values.values()).rstrip("|") for i in members)
    return [head, *fence(rows)]


def _ranked(counts: Mapping[str, int]) -> str:
    ranked = list(counts.items())
    shown = ", ".join(f"{k} {v:,}" for k, v in ranked[:MAX_STATUSES])
    rest = sum(v for _, v in ranked[MAX_STATUSES:])
    return shown + (f", {len(ranked) - MAX_STATUSES} other statuses {rest:,}" if rest else "")


def contacts_text(out: ContactsOut, criteria: str | None) -> str:
    """`criteria` None: a listing of the campaign with no filter."""
    label = campaign_label(out.campaign)
    # A count is a count only when every candidate was looked at: a capped scan, or an index asked
    # for one page and one more, gives a floor.
    floor = bool(out.more)
    count = at_least(out.matched, "contact") if floor else counted(out.matched, "contact")
    if criteria is None:
        head = f"{label}: {count}, no filter"
    else:
        head = f"{label}: {count} {'matches' if out.matched == 1 and not floor else 'match'} {criteria}"
    indexed = out.as_of is not None and out.campaign_by_status is None
    if indexed and criteria is not None:
        head += " as the index holds them"  # its counts: status as of its sync, dispositions pushed
    elif floor and not out.scan_capped and not indexed:
        head += ", counted only as far as this page"
    lines = [head + f" (looked in: {out.looked_in})."]
    if out.not_ruled_out:
        lines.append(out.not_ruled_out)
    elif out.scan_capped:
        lines.append(
            f"More may match beyond the first {out.scanned:,} contacts: narrow with lead_ids or customer_ids."
        )
    lines.extend(_status_lines(out))
    if not out.contacts and out.matched and out.offset >= out.matched:
        among = f" among the first {out.scanned:,} read" if out.scan_capped else ""
        there = "" if out.more and not out.scan_capped else f": there are {out.matched:,}{among}"
        lines.append(f"No contacts at offset {out.offset:,}{there}.")
        return "\n".join(lines)
    if out.contacts:
        first, last = out.offset + 1, out.offset + len(out.contacts)
        which = f"Contact {first:,}" if first == last else f"Contacts {first:,}–{last:,}"
        if len(out.contacts) > COMPACT_OVER:
            lines.extend(_table(out.contacts, which, out.timezone))
        else:
            # The disposition is the last one an agent chose, not the last call's outcome (its status).
            columns = "id name | phone | lead | status, attempts | agent's last disposition | last dialed"
            lines.append(f"{which}: {columns} ({out.timezone})")
            lines.extend(fence(contact_line(c) for c in out.contacts))
    if others := [f"#{c.customer_id}" for c in out.contacts if c.same_number is False]:
        lines.append(_ends_only_note(others))
    if out.changed_since_sync:
        lines.append(
            f"Left out of this page: {counted(out.changed_since_sync, 'contact')} the index still holds as "
            "matching but Ameyo no longer does (changed or removed since the sync)."
        )
    if out.next_offset is not None:
        counted_all = not out.more and out.next_offset < out.matched
        left = f"{out.matched - out.next_offset:,} more" if counted_all else "More"
        lines.append(f"{left}: call again with offset={out.next_offset}.")
    return "\n".join(lines)


def _ends_only_note(ids: Sequence[str]) -> str:
    """For contacts a whole number found only because one of their numbers ends with it: the
    lookup finds them, yet Ameyo, which matches customers by phone1 exactly, would not. Read as
    the number's customer, an upload "correcting" them added a second customer."""
    who = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    one = len(ids) == 1
    return (
        f"Matched by its ending only: {who} {'has' if one else 'have'} no number that is the one "
        f"searched for, only a longer number ending with it, another number under the phone rule. "
        f"An upload of the number searched for (update_existing included) would add a new customer, "
        f"not update {'them' if one else 'any of them'}: to change {'them' if one else 'one'}, upload "
        f"{'their' if one else 'its'} phone1 as Ameyo holds it."
    )


def _status_lines(out: ContactsOut) -> list[str]:
    """One breakdown by status, the one that covers the most: the matches' own when every one was
    read, else the whole campaign's as the index counted it, else those read, said so."""
    whole = not out.more
    if out.as_of is not None and out.campaign_by_status is None and out.by_status:
        past = f"; the first {out.scanned:,} counted" if out.more else ""
        return [
            f"By status as the index holds them (synced {out.as_of}, with the calls and uploads since)"
            f"{past}: " + _ranked(out.by_status)
        ]
    if out.by_status and (whole or not out.campaign_by_status):
        among = ""
        if out.scan_capped:
            among = f", among the first {counted(out.scanned, 'contact')} read"
        elif not whole:
            among = f", of these {out.matched:,}"
        return [f"By status now{among}: " + _ranked(out.by_status)]
    if out.campaign_by_status:
        # The sync's count, not the index's now (which the other answers' "index of N contacts"
        # gives, with the uploads since): said so, or the two figures read as a contradiction.
        total = (
            f"{out.campaign_contacts:,} contacts at that sync; " if out.campaign_contacts is not None else ""
        )
        return [
            f"Whole campaign by status, as of the index's sync {out.as_of} ({total}the calls and uploads "
            f"since are not counted): {_ranked(out.campaign_by_status)}"
        ]
    return []


def answered_text(tally: Mapping[str, int], counts: Mapping[str, int]) -> str:
    """The counts of `records.answered` in words, leaving out a move nobody asked for; of the
    duplicates, those not moved (NOT_MIGRATED) are said apart: a move was asked for and did not
    happen; of the updated, those moved too (UPDATED_AND_MIGRATED), as a move was asked for."""
    not_moved = counts.get(NOT_MOVED, 0)
    words = [f"added {number(tally['added'])}", f"updated {number(tally['updated'])}"]
    if both := counts.get(UPDATED_AND_MOVED, 0):
        words[-1] += f" ({'all' if both == tally['updated'] else number(both)} also moved to this lead)"
    if tally.get("moved"):
        words.append(f"moved to this lead {number(tally['moved'])}")
    left = tally["duplicate"] - not_moved
    if not_moved:
        words.append(f"not moved to this lead {number(not_moved)}")
    if left or not not_moved:  # "duplicates left unchanged 0" is said unless moves stand in for it
        words.append(f"duplicates left unchanged {number(left)}")
    words.append(f"failed {number(tally['failed'])}")
    return ", ".join(words)


def dispositions_seen_note(seen: Mapping[str, int]) -> str:
    """After a disposition filter matched nothing: the dispositions the scanned contacts do have."""
    named = sorted(((n, d) for d, n in seen.items() if d.strip()), reverse=True)
    if not named:
        return "No scanned contact has any disposition."
    shown = ", ".join(f"{data_text(d, 40)} {n}" for n, d in named[:15])
    head = "No scanned contact has that disposition; the dispositions found are:"
    return "\n".join([head, *fence([shown])])


def failure_line(what: str, position: int, phone: str | None, reason: str) -> str:
    """A record or row that was not done, in the server's words: its position, its number (only
    ever one the phone rule accepted: digits, never free text) and why, with what to do. Not fenced,
    since the fence marks data and this is advice to follow; `data_text` keeps whatever a reason
    quotes (a field's name, Ameyo's message) from faking a fence."""
    # Without a number the phone rule accepted, the reason says what the number was: a label such as
    # "(no phone)" read as a missing number beside "phone1 has 4 digits".
    shown = f"{phone}: " if phone else ""
    return data_text(f"{what} {position}: {shown}{reason}", 400)


def _records(n: int) -> str:
    return counted(n, "record")


def _ids(label: str, ids: list[int], positions: Mapping[int, int] | None = None) -> str:
    """`label: 12521, 12522.`; with `positions` (a customer id's record), each as `12521 (record 1)`."""
    where = positions or {}
    shown = ", ".join(f"{i} (record {where[i]})" if i in where else str(i) for i in ids[:MAX_IDS_SHOWN])
    more = len(ids) - MAX_IDS_SHOWN
    return f"{label}: {shown}" + (f" and {more} more." if more > 0 else ".")


def scheduled_callback_text(callback_id: str | None, callback_time: str | None) -> str:
    """A callback Ameyo scheduled, in the words every upload answer uses for it."""
    text = f"callback {callback_id} scheduled" if callback_id else "callback scheduled"
    if callback_time:
        text += f" at {callback_time}"
    return text if callback_id else f"{text}; Ameyo gave it no id"


# A callback Ameyo put on the number alone, its customer not uploaded (4.8.2 5.b.iii): the record's
# reason says it, and its callback line too.
NUMBER_ALONE = "Ameyo put the callback on the number alone"


def number_alone(customer_id: int) -> str:
    return f"{NUMBER_ALONE}, not on customer {customer_id}'s record (its rule for a customer not uploaded)"


def assignee(agent: str | None, self_callback: bool | None) -> str:
    """Whom a callback goes to, in the words of every answer that schedules one."""
    to = agent or "any agent"
    return f"{to} only (self callback)" if self_callback else to


def _callback_line(r: RecordOut) -> str:
    if r.callback_id is None:
        line = f"record {r.position}: {scheduled_callback_text(None, r.callback_time)}"
    else:
        line = f"record {r.position}: {r.callback_id}" + (f" at {r.callback_time}" if r.callback_time else "")
    line += f", assigned to {assignee(r.assigned_to, r.self_callback)}"
    if r.reason and NUMBER_ALONE in r.reason and r.customer_id is not None:
        line += f"; {number_alone(r.customer_id)}"
    return line


def upload_text(out: UploadOut, positions: Mapping[int, int] | None = None) -> str:
    """An upload tool's answer. `positions`: each customer id's record, told beside the id (the
    structured records list only those not plainly done), for "which one is Asha?"."""
    label = campaign_label(out.campaign)
    refused = f"; {number(out.refused)} refused before sending (below)" if out.refused else ""
    if out.set_aside:  # not refusals: records other writes sent, or whose callbacks they hold
        refused += f"; {number(out.set_aside)} set aside, as other writes sent or hold them (below)"
    planned = [r for r in out.records if out.dry_run and r.ok and r.callback_time]
    if out.dry_run:
        with_callbacks = f" (with {counted(len(planned), 'callback')} to schedule)" if planned else ""
        lines = [
            f"Dry run, nothing written: would send {_records(out.would_send)}{with_callbacks} to {label}, "
            f"lead {out.lead_id}{refused.replace('refused', 'would be refused')}."
        ]
        if out.confirm_token:
            lines.append(
                f"Sending {_records(out.would_send)} needs the person's confirmation: show them this, and if "
                f'they agree call again without dry_run and with confirm="{out.confirm_token}".'
            )
    else:
        lines = [f"Sent {_records(out.sent)} to {label}, lead {out.lead_id}{refused}."]
        tally = {"added": out.added, "updated": out.updated, "moved": out.moved}
        tally |= {"duplicate": out.duplicate, "failed": out.failed}
        unknown = f", outcome unknown {number(out.outcome_unknown)}" if out.outcome_unknown else ""
        lines.append(f"Ameyo's answers: {answered_text(tally, out.counts)}{unknown}.")
    failures = [r for r in out.records if not r.ok or r.result == SENT_EARLIER]
    if failures:
        lines.append(f"Not done ({number(len(failures))}):")
        lines.extend(
            failure_line("record", r.position, r.phone, r.reason or r.result)
            for r in failures[:MAX_FAILURE_LINES]
        )
        if len(failures) > MAX_FAILURE_LINES:
            lines.append(f"{len(failures) - MAX_FAILURE_LINES} more failures are in the structured result.")
    if planned:
        # The time as the server reads it is what the person confirms: "3 pm" in which zone.
        lines.append("Callbacks it would schedule:")
        lines.extend(
            f"record {r.position}: {r.phone} at {r.callback_time}, assigned to "
            f"{assignee(r.assigned_to, r.self_callback)}"
            for r in planned[:MAX_FAILURE_LINES]
        )
        if len(planned) > MAX_FAILURE_LINES:
            lines.append(f"{len(planned) - MAX_FAILURE_LINES} more are in the structured result.")
    # (A record sent earlier tells the callback Ameyo scheduled then in its reason: none is new.)
    callbacks = [
        r for r in out.records if not out.dry_run and scheduled_now(r.result, r.callback_id, r.callback_time)
    ]
    if callbacks:
        lines.append(f"Callbacks scheduled: {number(out.callbacks)} ({out.timezone}):")
        lines.extend(_callback_line(r) for r in callbacks[:MAX_FAILURE_LINES])
        if len(callbacks) > MAX_FAILURE_LINES:
            lines.append(f"{len(callbacks) - MAX_FAILURE_LINES} more callbacks are in the structured result.")
        if any(r.callback_id is None for r in callbacks):
            lines.append(
                "A callback without an id is scheduled all the same (Ameyo's documented answer gives "
                "none): scheduling it again would ring the customer twice."
            )
    if out.added_customer_ids:
        lines.append(_ids("Added customer ids", out.added_customer_ids, positions))
    if out.moved_customer_ids:
        lines.append(_ids("Moved customer ids (fields left as they were)", out.moved_customer_ids, positions))
    if out.updated_customer_ids:
        lines.append(_ids("Updated customer ids", out.updated_customer_ids, positions))
        if out.counts.get(UPDATED_IN_PLACE):
            # "updated" in an upload to lead N reads as "now in lead N": Ameyo did not move them.
            lines.append(
                "An updated customer that was in another lead stays in it (migrate_existing=true moves it "
                f"into lead {out.lead_id})."
            )
    lines.extend(out.notes)
    return "\n".join(lines)


def known_customers_note(
    known: int, synced: str, target: UploadTarget, *, update: bool, migrate: bool, flags: tuple[str, str]
) -> str:
    """For a dry run: `known` of its numbers are customers the campaign's index (synced `synced`)
    holds, and what Ameyo would do with them: "would send 3" alone read as three new customers.
    `flags`: how the caller names the update and the move ("update_existing=true", …)."""
    migrate = migrate and target.lead_enabled  # Ameyo moves no customer into a disabled lead
    done = (
        "update them and move them into this lead"
        if update and migrate
        else "update them"
        if update
        else "move them into this lead"
        if migrate
        else "leave them as they are"
        + (
            f" ({flags[0]} updates them, {flags[1]} moves them)"
            if target.lead_enabled
            else f" (lead {target.lead_id} is disabled: {flags[0]} updates them where they are)"
        )
    )
    return (
        f"Note: {known:,} of these {agreeing(known, 'numbers is a customer', 'numbers are customers')} "
        f"the campaign's index holds (synced {synced}): Ameyo would {done}."
    )


def lookalikes_note(found: Sequence[tuple[int, str, int, object]], *, what: str = "record") -> str:
    """For a dry run: the records (position, phone1 as sent) whose number a customer's phone1
    (customer id, phone1 as Ameyo holds it) only ends with, another number under the phone rule.
    A lookup by the number finds that customer, so "update_existing" read as correcting them; but
    Ameyo matches phone1 exactly, and adds the record as a new customer beside them. `what`: how the
    upload names a record ("line" for a file's, whose positions are its lines)."""
    from ..rules.phones import is_number_text

    def theirs(customer_id: int, stored: object) -> str:
        # phone1 is the customer's text: shown only when it is a number, never words.
        text = str(stored or "").strip()
        held = f" {data_text(text, 24)}" if text and is_number_text(text) else ""
        return f"customer {customer_id}'s phone1{held}"

    said = "; ".join(
        f"{theirs(customer_id, stored)} only ends with {what} {position}'s {phone}"
        for position, phone, customer_id, stored in found
    )
    one = len(found) == 1
    return (
        f"Not an update: {said} ({'it is' if one else 'each is'} another number under the phone rule, "
        f"though ameyo_get_contacts finds {'that customer' if one else 'those customers'} by "
        f"{'it' if one else 'them'}). Ameyo matches customers by phone1 exactly: "
        f"{'this ' + what if one else 'these ' + what + 's'} would add a new customer, whatever "
        "update_existing says. To change an existing customer, upload phone1 as Ameyo holds it."
    )


def unknown_fields_note(
    given: Iterable[str], known: Sequence[str], synced: str, *, dry_run: bool, what: str = "field"
) -> str | None:
    """For an upload whose records hold customer fields that none of the campaign's contacts has
    (as its index, synced `synced`, saw them: `known`): a misspelt or miscased field ("Name" for
    "name") is a value Ameyo may not keep, and the upload's answer said nothing of it. `what`:
    how the caller names a field ("column" for a file). Names are fenced: they are the data's.
    None when every field is known, or none is."""
    if not known:
        return None
    kept = set(known)
    folded = {name.lower(): name for name in known}
    odd = [name for name in dict.fromkeys(given) if name not in kept]
    if not odd:
        return None
    shown = []
    for name in odd[:8]:
        twin = folded.get(name.strip().lower())
        shown.append(f"{name}" + (f" (the campaign's is {twin})" if twin else ""))
    more = len(odd) - len(shown)
    many = len(odd) > 1
    values = "their values" if many else "its values"
    if dry_run:
        step = f"Ameyo may not keep {values}; rename {'them' if many else 'it'} before sending"
    else:
        step = (
            f"Ameyo may not have kept {values}: check a customer in Ameyo, and if the values are "
            "missing upload again with the names corrected and update_existing=true (the customers "
            "exist now; it also gives them the upload's status and attempts)"
        )
    subject = f"{counted(len(odd), what)} {'are not fields' if many else 'is not a field'}"
    lines = [
        f"Note: {subject} this campaign's customers have (its index, synced {synced}, knows "
        f"{counted(len(known), 'field')}): {step}. The {what}{'s' if many else ''}, then the fields it "
        "knows:",
        *fence(["; ".join(shown) + (f"; and {more} more" if more > 0 else ""), ", ".join(known)]),
    ]
    return "\n".join(lines)


# The records `customer_id_note` names; an upload of a file keeps no more of its rows for it.
NAMED_SHOWN = 10


@dataclass(frozen=True, slots=True)
class NamedById:
    """A record of an upload that gives a customer id among its fields (`customer_id_note`)."""

    position: int
    field: str
    id: int | None  # the id the field's value spells (`columns.id_in`); other text is never shown
    result: str | None = None  # Ameyo's answer to the record (None before sending)
    customer_id: int | None = None  # the customer Ameyo's answer names


def customer_id_note(
    named: Sequence[NamedById],
    *,
    dry_run: bool,
    total: int | None = None,
    what: str = "record",
    update: str = "update_existing=true",
) -> str:
    """For an upload whose records give a customer id among their fields (`records.customer_id_field`):
    Ameyo matches the customer an upload adds or updates by phone1, not by id, so a model that meant
    the field to choose the customer (to correct customer 12001's number) is told that it did not,
    and what Ameyo did with each record instead. `named`: the first of them, of `total` (default:
    all of them); `what`: what the answer calls a record (a file's "line"); `update`: how it names
    update_existing=true."""
    total = len(named) if total is None else total
    shown = named[:NAMED_SHOWN]
    one = total == 1
    which = f"{what} {shown[0].position}" if one else f"{what}s " + ", ".join(str(n.position) for n in shown)
    which += f" and {total - len(shown)} more" if total > len(shown) else ""
    fields = "; ".join(f"{data_text(n.field, 20)} {n.id}" if n.id else data_text(n.field, 20) for n in shown)
    text = (
        f"Note: {which} {'gives' if one else 'give'} a customer id among {'its' if one else 'their'} fields "
        f"({fields}), but Ameyo matches an uploaded customer by phone1 (by default), and its uploads take no "
        "customer id to match on: "
        f"{'that field' if one else 'those fields'} {'would choose' if dry_run else 'chose'} no customer "
        f"({'it' if one else 'each'} {'would go' if dry_run else 'went'} as an ordinary field)."
    )
    done = []
    for n in shown:
        if n.result is None:
            continue
        did = f"{n.result} customer {n.customer_id}" if n.customer_id is not None else n.result
        other = n.id is not None and n.customer_id is not None and n.id != n.customer_id
        done.append(f"{what} {n.position} {did}" + (f", not customer {n.id}" if other else ""))
    if done:
        text += " Ameyo's answer: " + "; ".join(done) + "."
    return (
        text + " To change a customer by id, upload them with the phone1 Ameyo holds for them "
        f"(ameyo_get_contacts with customer_ids shows it) and {update}."
    )


def disabled_lead_note(lead_id: int, counts: Mapping[str, int] | None) -> str:
    """For an upload to a disabled lead: what that means for the records (`counts`: Ameyo's answers
    by result type; None before sending); empty when none of them is in the lead."""
    if counts is None:
        return (
            f"Note: lead {lead_id} is disabled: contacts added to it are not dialed until it is "
            "enabled, and Ameyo moves no existing customer into it."
        )
    placed = sum(n for result, n in counts.items() if result in IN_THE_LEAD)
    if not placed:
        return ""
    return (
        f"Note: lead {lead_id} is disabled, so the {counted(placed, 'contact')} now in it "
        f"{agreeing(placed, 'is', 'are')} not dialed until it is enabled."
    )


def requeued_note(status: str, attempts: int, updated: int | None) -> str:
    """For an upload with update_existing: Ameyo gives a customer it updates the upload's status and
    attempts, as it gives new ones (the document's "churn"), so an update puts them back in the
    dialling queue. `updated`: how many were (None before sending); empty when none was."""
    given = f"status {status} and {counted(attempts, 'attempt')}"
    keep = (
        "To correct a customer's fields without that, upload them alone with the status and attempts "
        "they have now."
    )
    fresh = status == "NOT_TRIED" and attempts == 0  # what the dialer takes for a contact never called
    if updated is None:
        then = (
            "they would be dialled again as if new"
            if fresh
            else "where a customer's own status and attempts differ, these replace them"
        )
        return (
            f"Note: with update_existing, each existing customer Ameyo updates gets this upload's {given}, "
            f"as new ones do: {then}. {keep}"
        )
    if not updated:
        return ""
    then = (
        f"{agreeing(updated, 'it is', 'they are')} dialled again as if new"
        if fresh
        # An upload that gives customers the status and attempts they had (as `keep` advises) changes
        # nothing: "are gone" told the person who followed the advice that they had lost them.
        else f"where {agreeing(updated, 'its', 'their')} own status and attempts differed, these replaced "
        "them"
    )
    return (
        f"Note: the {counted(updated, 'updated customer')} got this upload's {given}, as new ones do: "
        f"{then}. {keep}"
    )


def callback_text(out: CallbackOut) -> str:
    who = out.name or "(no name)"
    to = assignee(out.assigned_to, out.self_callback)
    lines = [
        f"Callback {out.callback_id} scheduled in {campaign_label(out.campaign)}:"
        if out.callback_id
        else f"Callback scheduled in {campaign_label(out.campaign)}; Ameyo gave it no id:",
        *fence([f"{who}, customer {out.customer_id}, phone {out.phone}"]),
        f"When: {out.time}. Assigned to: {to}.",
    ]
    return "\n".join(lines)


def also_scheduled_note(times: Sequence[str], whom: str, this: str) -> str:
    """What to do about the callbacks still to come that stay beside a new one: Ameyo's API can
    neither move nor cancel a callback ("make it 4 pm instead" adds one). `times`: as
    `plans.callback_words` gives them, each with its zone."""
    one = len(times) == 1
    return (
        f"Note: {whom} also has {'a callback' if one else counted(len(times), 'callback')} that this "
        "server scheduled "
        f"earlier, still to come at {_times(times)}, which {'stays' if one else 'stay'} "
        f"scheduled beside {this}: the Customer Manager API can neither move nor cancel a callback. If "
        f"{this} replaces {'it' if one else 'them'}, remove {'it' if one else 'them'} in Ameyo's own "
        "callback list (its web console)."
    )


def also_set_on_calls_note(times: Sequence[str], whom: str, this: str) -> str:
    """`also_scheduled_note` for the callbacks still to come that agents set on the customer's
    calls (from the pushed call outcomes): they stay beside a new one too, unless since dialled or
    removed. Listed below it, fenced: the agents' names came in the pushes."""
    one = len(times) == 1
    return "\n".join(
        [
            f"Note: {whom} also has {'a callback' if one else counted(len(times), 'callback')} that "
            f"{'an agent' if one else 'agents'} set on their calls (from the call outcomes Ameyo pushed), "
            f"still to come, which {'stays' if one else 'stay'} scheduled "
            f"beside {this}; {_set_on_calls_caveat(len(times))}. If {this} replaces "
            f"{'it' if one else 'them'}, remove {'it' if one else 'them'} in Ameyo's own callback list (its "
            "web console):",
            *_listed(times),
        ]
    )


def maybe_scheduled_note(times: Sequence[str], whom: str, this: str) -> str:
    """The callbacks to the customer still to come that this server may have scheduled: Ameyo's
    answer to them never came (outcome unknown), so only Ameyo's own list can say."""
    one = len(times) == 1
    return (
        f"Note: {whom} may also have {'a callback' if one else counted(len(times), 'callback')} still to "
        "come at "
        f"{_times(times)}: this server asked for {'it' if one else 'them'} earlier and Ameyo's "
        f"answer never came. Look in Ameyo's own callback list (its web console): whatever is there "
        f"stays scheduled beside {this}, as the Customer Manager API can neither move nor cancel a callback."
    )


def still_to_come_note(
    scheduled: Sequence[str], maybe: Sequence[str], set_on_calls: Sequence[str] = ()
) -> str:
    """For an answer about one customer: the callbacks to them this server scheduled, or may have,
    and those agents set on their calls (`set_on_calls`, from the pushed outcomes), that are still
    to come. Ameyo's API cannot list callbacks: "what callbacks does Priya have?" had no answer but
    to schedule another."""
    said = []
    # Counted, each listed: three at one time for three agents ring three times.
    if scheduled:
        said.append(f"{counted(len(scheduled), 'callback')} scheduled at {_times(scheduled, shown=20)}")
    if maybe:
        said.append(
            f"{counted(len(maybe), 'callback')} perhaps at {_times(maybe, shown=20)} (Ameyo's answer "
            "never came)"
        )
    lines = []
    if said:
        lines.append(
            f"Callbacks this server asked Ameyo for to this customer's numbers (for them or anyone who "
            f"shares a number), still to come: {'; '.join(said)}."
        )
    if set_on_calls:
        # The agents' names came in the pushes: customer text, fenced below the sentence.
        lines += [
            f"Callbacks agents set on this customer's calls (from the call outcomes Ameyo pushed), still to "
            f"come: {counted(len(set_on_calls), 'callback')}; "
            f"{_set_on_calls_caveat(len(set_on_calls))}:",
            *_listed(set_on_calls, shown=20),
        ]
    holds = (
        "is the full truth, with any made elsewhere" if set_on_calls else "holds these and any made elsewhere"
    )
    closing = (
        f"Ameyo's own callback list (its web console) {holds}: the Customer Manager API cannot list "
        "callbacks."
    )
    if set_on_calls:
        lines.append(closing)
    else:
        lines[-1] += " " + closing
    return "\n".join(lines)


def _set_on_calls_caveat(count: int) -> str:
    """What a callback an agent set on a call may have become since: the push said it was set, and
    nothing tells this server when it is dialled or removed."""
    return f"{'it' if count == 1 else 'any of them'} may since have been dialled or removed"


def _times(times: Sequence[str], shown: int = 5) -> str:
    """Some times of callbacks (`plans.callback_words`: each with its zone), with how many more: an
    answer about one customer shows more of them, as nothing else lists them."""
    more = f" and {len(times) - shown} more" if len(times) > shown else ""
    return ", ".join(times[:shown]) + more


def _listed(times: Sequence[str], shown: int = 5) -> list[str]:
    """`_times` as fenced lines, one a callback, for callbacks whose words hold customer text (the
    agent a push named), with how many more below the fence."""
    more = [f"and {len(times) - shown} more"] if len(times) > shown else []
    return [*fence(times[:shown]), *more]


def also_scheduled_by_record(shown: Sequence[str], *, unsure: bool) -> str:
    """`also_scheduled_note` for an upload's records: each record with its customer's callbacks;
    `unsure`: some of them are of unknown outcome (`maybe_scheduled_note`)."""
    return (
        "Note: still to come for these records' customers, scheduled earlier by this server and staying "
        "beside the new ones (the Customer Manager API can neither move nor cancel a callback): "
        + "; ".join(shown)
        + ". Remove any that a new one replaces in Ameyo's own callback list (its web console)"
        + (
            "; one of unknown outcome is there only if Ameyo scheduled it, which that list shows."
            if unsure
            else "."
        )
    )
