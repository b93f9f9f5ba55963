"""ameyo_call_history: what Ameyo pushed after each call ("did we reach Priya today?"), from the store."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent
from pydantic import BaseModel, Field

from ...ameyo.columns import id_in
from ...ameyo.customers import display_name, phone_values
from ...ameyo.models import parse_ameyo_time
from ...answers.call_chart import CHART_HEAD, MAX_PERIODS, CallCounts, chart_png, chart_text, periods
from ...answers.results import CallOut
from ...answers.summaries import cell
from ...errors import AmeyoError, PhoneError, StoreError, as_clause, with_step
from ...index.lookup import RULE_BEFORE, sync_advice
from ...rules import phones
from ...rules.counts import agreeing, counted
from ...rules.outcomes import outcome_counts
from ...rules.sanitize import data_text, fence
from ...rules.times import CLOCK_SKEW, NoSuchMoment, date_alone, day_so_far, iso_moment, show
from .common import ameyo_of, answer, explained, filter_given, hints, store_of, tool_error, words_given
from .session_tools import AmeyoId, PhoneSearchArg

if TYPE_CHECKING:
    from ...ameyo.models import Contact
    from ...ameyo.service import Ameyo
    from ...config import Settings
    from ...store import CallEvent, CallHistory, CallQuery, CampaignIndex, Store, StoredCall

log = logging.getLogger(__name__)

# Read from our own store, not from Ameyo: a closed world.
HISTORY_READ = hints(read_only=True, destructive=False, idempotent=True, open_world=False)
MAX_LINES = 100
# How long a zero for a lead waits for Ameyo's lead lists to say whether it is a lead at all: the
# history itself is the store's, and answers in milliseconds whatever Ameyo's state.
LEAD_CHECK_S = 1.0
MAX_OUTCOMES = 10


class CallHistoryOut(BaseModel):
    since: str
    until: str
    timezone: str
    matched: int
    by_outcome: dict[str, int]
    calls: list[CallOut]
    # With chart=true: the calls of each hour (or day) the chart draws.
    by_period: dict[str, int] | None = None
    # The oldest call the history holds: nothing before it was pushed to this server (or kept).
    history_starts: str | None = None


async def ameyo_call_history(
    ctx: Context[Any, Any],
    phone: PhoneSearchArg = None,
    name: Annotated[str | None, Field(max_length=80, description="Customer's name, e.g. 'pri sha'")] = None,
    customer_id: Annotated[AmeyoId | None, Field(description="Customer id")] = None,
    campaign: Annotated[str | None, Field(max_length=80, description="Campaign name or id")] = None,
    lead_id: Annotated[AmeyoId | None, Field(description="Lead id")] = None,
    agent: Annotated[str | None, Field(max_length=80, description="Agent's userId")] = None,
    disposition: Annotated[str | None, Field(max_length=80, description="Disposition code")] = None,
    system_disposition: Annotated[
        str | None, Field(max_length=40, description="System disposition, e.g. BUSY")
    ] = None,
    since: Annotated[str | None, Field(max_length=40, description="ISO 8601; default today 00:00")] = None,
    until: Annotated[str | None, Field(max_length=40, description="ISO 8601; default now")] = None,
    limit: Annotated[int, Field(ge=1, le=MAX_LINES, description="Calls to list")] = 20,
    chart: Annotated[bool, Field(description="Add a PNG chart by hour and outcome")] = False,
) -> Annotated[CallToolResult, CallHistoryOut]:
    """Calls as Ameyo pushed them, newest first: counts by outcome, then each call's time, customer,
    number, outcome, agent and talk time. Times in the server's zone."""
    from ...store import CallQuery  # here: start-up does not pay for the store

    phone, campaign, agent, disposition, system_disposition, since, until = (
        filter_given(text) for text in (phone, campaign, agent, disposition, system_disposition, since, until)
    )
    name = words_given(name, "name")
    store = store_of(ctx)
    ameyo = ameyo_of(ctx)
    zone = ameyo.settings.zone
    start, end = _window(since, until, zone)
    # A span that ends now is shown ending now: it counts calls Ameyo's clock dated a few minutes
    # ahead too (`day_so_far`), which "to 09:48" at 09:43 would read as a time to come; unless it
    # starts after now (within that skew): "09:45 to 09:43" would end before it starts.
    now = datetime.now(zone)
    shown_end = min(end, now) if until is None and start < now else end
    campaign_id: int | None = None
    if campaign is not None:
        # An id is taken as it is (the history is read while Ameyo is away); a name is Ameyo's.
        campaign_id = id_in(campaign)
        if campaign_id is None:
            async with explained(ameyo):
                campaign_id = (await ameyo.campaign(campaign)).campaign_id
    keys: tuple[str, ...] = ()
    tails: tuple[str, ...] = ()
    if phone is not None:
        try:
            wanted = phones.search(phone, ameyo.settings.phone_region)
        except PhoneError as exc:
            raise ToolError(f"phone: {exc}") from None
        # The store keeps calls' numbers as keys: a valid number is its keys, in any spelling; any
        # other, the keys that end with it (849059005 is the end of 917849059005).
        keys, tails = (wanted.keys, ()) if wanted.valid else ((), wanted.tails)
    query = CallQuery(
        since=start,
        until=end,
        phones=keys,
        phone_tails=tails,
        customer_id=customer_id,
        # A name is looked up in the contacts index first (`_read`): its customers' ids.
        customer_ids=() if name is not None else None,
        campaign_id=campaign_id,
        lead_id=lead_id,
        agent=agent.strip() if agent else None,
        disposition=disposition.strip() if disposition else None,
        system_disposition=system_disposition.strip().upper() if system_disposition else None,
        limit=limit,
    )
    criteria = _criteria(phone, name, customer_id, campaign, lead_id, agent, disposition, system_disposition)
    charted = (
        (f"Calls pushed by Ameyo, {show(start, zone)} to {show(shown_end, zone)}, {criteria}", zone)
        if chart
        else None
    )
    try:
        read = await anyio.to_thread.run_sync(_read, store, query, name, ameyo.settings, charted)
    except StoreError as exc:
        # Only the store has the history: there is nothing else to look in.
        raise ToolError(
            with_step(f"The call history cannot be read: {as_clause(exc.message)}", exc.next_step)
        ) from None
    history, counts = read.history, read.counts
    if counts is not None:
        # The counts of the text are the chart's, read in the same pass.
        history = replace(history, total=counts.total, by_outcome=counts.raw_total())
    out = history_out(history, start, shown_end, zone, read.names)
    if counts is not None:
        out.by_period = dict(zip(counts.labels, counts.totals(), strict=True))
    if read.held is not None:
        out.history_starts = show(read.held[0], zone)
    if read.named is not None and read.named.capped:
        # Said with the count, not after it: "name Priya: 3" alone read as every Priya's calls.
        shown = f"name {data_text(name or '', 40)}"
        criteria = criteria.replace(
            shown,
            f"{shown} (its first {counted(len(read.named.ids), 'customer')} only, of more in the index)",
            1,
        )
    unknown = (
        await _unknown_lead(ameyo, lead_id, campaign_id) if lead_id is not None and not out.matched else None
    )
    text = "\n".join(
        [
            history_text(out, criteria),
            *([unknown] if unknown else []),
            *coverage(read, query, zone, demo=ameyo.settings.demo),
        ]
    )
    if read.named is not None:
        text += "\n" + read.named.note(name or "")
    if not chart:
        return answer(text, out)
    if counts is None:
        text += f"\nNo chart: a chart draws at most {MAX_PERIODS} days; narrow since and until."
    elif not counts.total:
        text += "\nNo chart: no call matches."
    else:
        text += "\n" + chart_text(counts)
    result = answer(text, out)
    if counts is not None and counts.total:
        result.content.append(await chart_image(counts))
    return result


async def _unknown_lead(ameyo: Ameyo, lead_id: int, campaign_id: int | None) -> str | None:
    """After a zero: that the lead asked for is no lead of the campaign (of any campaign, none
    given), as ameyo_get_contacts refuses it; a bare zero read as a lead nobody called. Nothing when
    Ameyo cannot say within `LEAD_CHECK_S`: the history itself is read without it, and waits neither
    on one known down nor on a slow one."""
    if ameyo.ready() is not None:
        return None
    with anyio.move_on_after(LEAD_CHECK_S):
        try:
            campaign = await ameyo.campaign(campaign_id) if campaign_id is not None else None
            return await ameyo.unknown_lead(lead_id, campaign)
        except AmeyoError as exc:
            log.info("could not read the leads to check lead %s: %s", lead_id, exc.message)
            return None
    log.info("Ameyo did not list its leads within %s s to check lead %s", LEAD_CHECK_S, lead_id)
    return None


async def todays_chart(ctx: Context[Any, Any], campaign: str | None, lead: str | None) -> list[ContentBlock]:
    """For a prompt: the chart of today's calls in `campaign` (and `lead`) and its text, as the call
    history draws it; a sentence instead when there is none."""
    lead_id = id_in(lead) if lead else None
    if lead and lead_id is None:
        return [
            TextContent(
                type="text", text=f"No chart of today's calls: lead {data_text(lead, 40)!r} is not an id."
            )
        ]
    try:
        result = await ameyo_call_history(ctx, campaign=campaign, lead_id=lead_id, chart=True, limit=1)
    except Exception as exc:
        return [
            TextContent(type="text", text=f"No chart of today's calls: {tool_error(exc, tool='the chart')}")
        ]
    text = next(b.text for b in result.content if isinstance(b, TextContent))
    said = text[text.index(CHART_HEAD) :] if CHART_HEAD in text else text[text.rindex("No chart: ") :]
    # The calls no campaign counts are said beside the chart too: it had shown 35 of 40 without a word.
    said += "".join(f"\n{line}" for line in text.splitlines() if UNFILED in line)
    return [TextContent(type="text", text=said), *(b for b in result.content if isinstance(b, ImageContent))]


async def chart_image(counts: CallCounts) -> ImageContent:
    """The chart of `counts` as an image block, drawn in a worker thread."""
    png = await anyio.to_thread.run_sync(chart_png, counts)
    return ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png")


# How a span's calls that no campaign counts are named, in the history's answer and beside its chart.
UNFILED = "pushed without a campaignId"

NAMESAKES = 200
"""Most customers a name's calls are read for: the index's first, in customer id order."""


@dataclass(frozen=True)
class Named:
    """The customers a name found in the contacts index, and where it looked."""

    ids: tuple[int, ...]
    capped: bool
    indexes: tuple[CampaignIndex, ...]

    def note(self, name: str) -> str:
        from ...index.sync import age_text  # with the store: loaded only when a name is given

        where = "; ".join(
            f"{i.name or 'campaign'} ({i.campaign_id}), synced {age_text(i.synced_at)}" for i in self.indexes
        )
        if not self.ids:
            return (
                f"No customer in the contacts index ({where}) has a name matching {data_text(name, 40)!r}; "
                "one added in Ameyo since the sync is not in it: give their phone or customer_id."
            )
        if self.capped:
            return (
                f"The name matches more than {counted(len(self.ids), 'customer')} in the contacts index "
                f"({where}): only the calls of the first {len(self.ids):,} are counted; give more of the "
                "name, the campaign, or the phone."
            )
        # A customer added in Ameyo since the sync is in no index yet, whatever name their calls'
        # pushes carried: "Priya: 0" read as "Priya was not called" when a new Priya was.
        return (
            f"The name matches {counted(len(self.ids), 'customer')} in the contacts index ({where}); the "
            "calls of a customer added in Ameyo since the sync, whom the index does not hold yet, and "
            "calls pushed without a customer id are not among them: give the phone to find those."
        )


@dataclass(frozen=True)
class _Read:
    history: CallHistory
    names: dict[int, str]  # customer names by call row id
    named: Named | None
    counts: CallCounts | None = None
    held: tuple[datetime, datetime] | None = None  # the oldest and newest call the history holds
    # When nothing matched: who had calls in the span (an agent was asked for), and its outcomes
    # (a disposition was).
    agents: tuple[tuple[str, int], ...] = ()
    outcomes: Mapping[str, int] | None = None
    # Asked by campaign: the span's calls pushed without a campaignId, which no campaign counts.
    unfiled: int = 0
    # Calls dated after now, when the span ends now: no span up to now counts them.
    ahead: Ahead | None = None
    # When nothing matched a system disposition: the span's system dispositions.
    systems: tuple[tuple[str, int], ...] = ()


def _read(
    store: Store,
    query: CallQuery,
    name: str | None,
    settings: Settings,
    charted: tuple[str, ZoneInfo] | None = None,
) -> _Read:
    """The calls `query` finds (for `name`: of the customers the contacts index finds by it), and
    the names of their customers: as the push gave them, else as the index holds them. With
    `charted` (the chart's heading and zone), also their counts by hour and outcome."""

    indexes: list[CampaignIndex] | None = None

    def indexed() -> list[CampaignIndex]:
        nonlocal indexes
        if indexes is None:
            wanted = (
                [store.campaign(query.campaign_id)] if query.campaign_id is not None else store.campaigns()
            )
            indexes = [i for i in wanted if i is not None and i.synced_at is not None]
        return indexes

    named: Named | None = None
    if name is not None:
        if not indexed():
            which = (
                f"campaign {query.campaign_id} has" if query.campaign_id is not None else "no campaign has"
            )
            raise ToolError(
                f"A name is looked up in the contacts index, and {which} one yet ({sync_advice(settings)}): "
                "give the customer's phone or customer_id."
            )
        from ...store import NAME_RULE, keyed_otherwise

        if keyed_otherwise(name) and any(i.name_rule != NAME_RULE for i in indexed()):
            # Its words for such names are another rule's: "no customer has that name" would mislead.
            raise ToolError(
                f"A name is looked up in the contacts index, and {RULE_BEFORE} "
                f"({sync_advice(settings, again=True)}): give the customer's phone or customer_id."
            )
        ids: dict[int, None] = {}
        for index in indexed():
            for contact in store.search_names(index.campaign_id, name, limit=NAMESAKES + 1):
                ids.setdefault(contact.customer_id)
        found = sorted(ids)
        named = Named(tuple(found[:NAMESAKES]), len(found) > NAMESAKES, tuple(indexed()))
        query = replace(query, customer_ids=named.ids)
    history = store.call_history(query)
    names = call_names(store, history.calls, [i.campaign_id for i in indexed()])
    counts = period_counts(store, query, *charted) if charted is not None else None
    agents: tuple[tuple[str, int], ...] = ()
    outcomes: Mapping[str, int] | None = None
    if not history.total and query.agent is not None:
        agents = tuple(store.agents(query))
    if not history.total and query.disposition is not None:
        outcomes = store.call_history(replace(query, disposition=None, limit=0)).by_outcome
    systems: tuple[tuple[str, int], ...] = ()
    if not history.total and query.system_disposition is not None:
        systems = tuple(store.system_dispositions(query))
    unfiled = 0
    if query.campaign_id is not None:
        # Those the rest of the question matches: the span's every one, asked by phone or agent,
        # told a model that found none of the number's calls that there were more to be seen.
        unfiled = store.call_history(replace(query, campaign_id=None, no_campaign=True, limit=0)).total
    kept = store.calls_held()
    ahead = dated_ahead(store, query.until, kept)
    return _Read(history, names, named, counts, kept, agents, outcomes, unfiled, ahead, systems)


@dataclass(frozen=True)
class Ahead:
    """Calls pushed with a time after now (`CLOCK_SKEW` past it), and the latest one's time."""

    calls: int
    latest: datetime

    def note(self, zone: ZoneInfo) -> str:
        n = self.calls
        return (
            f"{counted(n, 'call')} pushed to this server {agreeing(n, 'is', 'are')} dated after now (the "
            f"latest at {show(self.latest, zone)}): the pushes' times, or the zone they are read in "
            f"(AMEYO_TIMEZONE), are off, and no span that ends now counts {agreeing(n, 'it', 'them')}."
        )

    def out(self, zone: ZoneInfo) -> dict[str, object]:
        """As the JSON of today's calls gives it, beside their count (ameyo://calls/today and the
        operator's page): how many, the latest one's time, and the note."""
        latest = self.latest.astimezone(zone).isoformat()
        return {"calls": self.calls, "latest": latest, "note": self.note(zone)}


def dated_ahead(
    store: Store, until: datetime | None, held: tuple[datetime, datetime] | None = None
) -> Ahead | None:
    """For a span that ends now (`until`: None, or not past now): the calls dated after now, which it
    leaves out (a push's time, or the zone it was read in, is off). Said by every view of the calls
    up to now (the call history, ameyo://calls/today), or its count reads as every call there is.
    `held`: `Store.calls_held`, when the caller has read it."""
    from ...store import CallQuery  # loaded with the store, which the caller has opened already

    held = held if held is not None else store.calls_held()
    later = datetime.now(UTC) + CLOCK_SKEW
    if held is None or held[1] <= later or (until is not None and until > later):
        return None
    return Ahead(store.call_history(CallQuery(since=later, limit=0)).total, held[1])


def coverage(read: _Read, query: CallQuery, zone: ZoneInfo, *, demo: bool) -> list[str]:
    """What an answer's count is measured against: where the history starts when the span reaches
    before it (the history holds only what was pushed to this server), and when nothing matched
    an agent or a disposition, the ones the span does have. A model told "0" alone reports that
    nobody called."""
    lines: list[str] = []
    if read.held is None and demo:
        # The demo wires its simulator's dialer to its own receiver: nothing is for the person to
        # set up, and its first push comes within seconds of the start.
        lines.append(
            "No call outcome has been pushed to this demo server yet: its dialer pushes the simulator's "
            "calls to it from its first seconds; ask again shortly."
        )
    elif read.held is None:
        lines.append(
            "No call outcome has been pushed to this server yet: Ameyo sends them once its push URL "
            "points at this server's /ameyo/status (README: Call outcomes pushed by Ameyo)."
        )
    elif query.since is not None and query.since < read.held[0]:
        lines.append(
            f"The history starts at {show(read.held[0], zone)}, the oldest call pushed to this server "
            "and kept: calls before it are not in it, whatever Ameyo holds (ameyo_get_contacts shows "
            "Ameyo's own last dial of a customer)."
        )
    if read.unfiled:
        n = read.unfiled
        narrowed = bool(query.phones or query.phone_tails) or any(
            value is not None
            for value in (
                query.customer_id,
                query.customer_ids,
                query.lead_id,
                query.agent,
                query.disposition,
                query.system_disposition,
            )
        )
        them = agreeing(n, "it", "them")
        how = (
            f" (of those the rest of the question matches): ask the same without the campaign to see {them}"
            if narrowed
            else f": ask by lead_id, customer or phone, or without a campaign, to see {them}"
        )
        lines.append(
            f"{counted(n, 'call')} of this span {agreeing(n, 'was', 'were')} {UNFILED} "
            f"and {agreeing(n, 'is', 'are')} in no campaign's count{how}."
        )
    if read.ahead is not None and read.ahead.calls:
        lines.append(read.ahead.note(zone))
    if read.agents:  # read only when an agent was asked for and found nothing
        shown = ", ".join(f"{name} {calls:,}" for name, calls in read.agents)
        lines += [
            f"No call by agent {data_text(query.agent or '', 40)!r} (in any case); agents with calls here:",
            *fence([shown]),
        ]
    if read.systems:
        shown = ", ".join(f"{name} {calls:,}" for name, calls in read.systems)
        lines += [
            f"No call with system disposition {data_text(query.system_disposition or '', 40)!r} (in any "
            "case); the system dispositions of these calls:",
            *fence([shown]),
        ]
    if read.outcomes:
        shown = ", ".join(f"{k} {v:,}" for k, v in list(outcome_counts(read.outcomes).items())[:MAX_OUTCOMES])
        lines += [
            "Outcomes these calls do have (a disposition's code or name, in any case):",
            *fence([shown]),
        ]
    return lines


def period_counts(store: Store, query: CallQuery, heading: str, zone: ZoneInfo) -> CallCounts | None:
    """The calls `query` finds from its `since` to its `until`, counted by hour (or by day) and
    outcome, one count of the store per period; None when the range has too many days to draw."""
    assert query.since is not None and query.until is not None
    found = periods(query.since, query.until, zone)
    if found is None:
        return None
    unit, spans = found
    raw = tuple(
        store.call_history(replace(query, since=p.start, until=p.end, limit=0)).by_outcome for p in spans
    )
    return CallCounts(heading, str(zone), unit, tuple(p.label for p in spans), raw)


def _window(
    since: str | None, until: str | None, zone: ZoneInfo, clock: datetime | None = None
) -> tuple[datetime, datetime]:
    """The span the call history reads: `since` (default today's midnight) to `until` (default
    now, a few minutes of Ameyo's clock ahead). `clock`: the time now, for tests."""
    midnight, now = day_so_far(zone, clock)
    if since:
        # Up to now from a given since, not to today's midnight: a span from a minute ahead, asked
        # at 23:59, would otherwise start after it ends.
        now = (clock or datetime.now(zone)) + CLOCK_SKEW
    start = _moment(since, "since", zone) if since else midnight
    end = _moment(until, "until", zone) if until else now
    if end > start:
        return start, end
    if until is None:
        raise ToolError(f"since ({show(start)}) is in the future: the history holds calls up to now.")
    if end == start and date_alone(until) is not None:
        day = start.date()
        # 9999-12-31 has no next midnight: working it out overflowed into 'something unexpected'.
        after = (day + timedelta(days=1)).isoformat() if day < date.max else f"{day}T23:59:59"
        raise ToolError(
            f"until is where the span ends, not its last day: a date means its midnight. For the whole "
            f"of {start.date().isoformat()} give until {after}, or leave until out for a day up to now."
        )
    if since is None:  # the model gave no since: say where the one it did not give comes from
        raise ToolError(
            f"until ({show(end)}) must be after since, which is today's midnight ({show(start)}) when not "
            "given: give since too, e.g. the day before until."
        )
    raise ToolError(f"until ({show(end)}) must be after since ({show(start)})")


def _moment(text: str, name: str, zone: ZoneInfo) -> datetime:
    raw = text.strip()
    try:
        moment = iso_moment(raw)
    except NoSuchMoment as exc:
        raise ToolError(exc.said(name, f" {data_text(raw, 40)!r}")) from None
    except ValueError:
        today = f"{datetime.now(zone):%Y-%m-%d}"
        raise ToolError(
            f"{name} {data_text(raw, 40)!r} is not an ISO 8601 time: send a date or a date and time, e.g. "
            f"{today} or {today}T09:00 (read in {zone})"
        ) from None
    try:
        return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
    except OverflowError:  # year 1 or 9999 moved across a zone
        raise ToolError(f"{name} {data_text(raw, 40)!r} is too far from now: check the year") from None


def history_out(
    history: CallHistory,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    names: Mapping[int, str] | None = None,
) -> CallHistoryOut:
    return CallHistoryOut(
        since=show(start, zone),
        until=show(end, zone),
        timezone=str(zone),
        matched=history.total,
        by_outcome=outcome_counts(history.by_outcome),
        calls=[call_out(c, zone, (names or {}).get(c.id)) for c in history.calls],
    )


def call_names(
    store: Store, calls: Sequence[StoredCall], campaigns: Sequence[int] | None = None
) -> dict[int, str]:
    """The names of the calls' customers, by call: as the push gave it, else as the contacts index
    holds it, in the call's campaign (a call pushed without one: in `campaigns`, or every indexed
    one), read in one go. The call history, today's calls and the operator's page name them alike."""
    names: dict[int, str] = {}
    unnamed: dict[int, list[tuple[int, int]]] = {}  # by call: where its customer may be indexed
    for call in calls:
        event = call.event
        given = display_name(dict(event.raw))
        if given:
            names[call.id] = given
        elif event.customer_id is not None:
            if event.campaign_id is None and campaigns is None:
                campaigns = [i.campaign_id for i in store.campaigns() if i.synced_at is not None]
            where = [event.campaign_id] if event.campaign_id is not None else list(campaigns or ())
            unnamed[call.id] = [(campaign_id, event.customer_id) for campaign_id in where]
    held = store.contacts_at([pair for pairs in unnamed.values() for pair in pairs]) if unnamed else {}
    for call_id, pairs in unnamed.items():
        shown = next((c.shown_name for pair in pairs if (c := held.get(pair)) and c.shown_name), None)
        if shown:
            names[call_id] = shown
    return names


def call_out(call: StoredCall, zone: ZoneInfo, name: str | None = None) -> CallOut:
    event = call.event
    return CallOut(
        # With their zone, as every time an answer gives: the data is read without the text's head.
        at=show(event.at, zone, seconds=True),
        customer_id=event.customer_id,
        name=data_text(name, 40) if name else None,
        phone=data_text(_dialled(event.raw) or event.phone, 24) if event.phone else None,
        outcome=data_text(event.outcome, 60),
        system_disposition=data_text(event.system_disposition, 30) if event.system_disposition else None,
        agent=data_text(event.agent, 40) if event.agent else None,
        talk_s=event.talk_s,
        campaign_id=event.campaign_id,
        lead_id=event.lead_id,
        callback_at=show(event.callback_at, zone, seconds=True) if event.callback_at else None,
        inbound=True if "inbound" in (event.call_type or "").lower() else None,
    )


def _dialled(raw: Mapping[str, Any]) -> str | None:
    """The number as Ameyo sent it: the stored key drops a country code (0034640849423 is kept as
    640849423), and a person needs the number that was dialled."""
    value = raw.get("phone")
    return str(value).strip() or None if value is not None else None


def talk(seconds: float | None) -> str:
    if seconds is None:
        return "talk ?"
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def call_line(c: CallOut, zone: str, *, with_date: bool) -> str:
    """One call as a line of a table whose head names its `zone`: its time without it."""
    when = c.at.removesuffix(f" {zone}")
    when = when if with_date else when[11:]
    outcome = c.outcome
    if c.system_disposition and c.system_disposition != c.outcome:
        outcome += f" ({c.system_disposition})"
    who = f"#{c.customer_id}" if c.customer_id is not None else "#?"
    if c.name:
        who += f" {c.name}"
    if c.callback_at:
        outcome += f", callback {c.callback_at}"
    if c.inbound:
        outcome = f"inbound: {outcome}"
    cells = [when, who, c.phone or "(no number)", outcome, c.agent or "(no agent)", talk(c.talk_s)]
    return " | ".join(map(cell, cells))


def history_text(out: CallHistoryOut, criteria: str) -> str:
    head = f"Calls pushed by Ameyo, {out.since} to {out.until}, {criteria}: {out.matched:,}."
    if not out.matched:
        return head + " (Ameyo pushes each call's outcome to the receiver; none match.)"
    ranked = list(out.by_outcome.items())
    shown = ", ".join(f"{k} {v:,}" for k, v in ranked[:MAX_OUTCOMES])
    rest = sum(v for _, v in ranked[MAX_OUTCOMES:])
    # Outcome names are what the pushes said: customer text, fenced like the calls.
    if rest:
        shown += f", {counted(len(ranked) - MAX_OUTCOMES, 'other outcome')}: {counted(rest, 'call')}"
    lines = [head, "By outcome (the agent's disposition, else Ameyo's system disposition):", *fence([shown])]
    one_day = out.since[:10] == out.until[:10]
    lines.append(
        f"{'time' if one_day else 'when'} ({out.timezone}) | customer | number | outcome | agent | talk"
    )
    lines.extend(fence(call_line(c, out.timezone, with_date=not one_day) for c in out.calls))
    if any(c.talk_s is None for c in out.calls):
        lines.append("talk ?: the push gave no talk time (0s: it gave zero, the call was not talked on).")
    more = out.matched - len(out.calls)
    if more > 0:
        lines.append(
            f"{more:,} more: narrow the filters or the time range, or raise limit (at most {MAX_LINES})."
        )
    return "\n".join(lines)


def _criteria(*values: Any) -> str:
    names = ("phone", "name", "customer", "campaign", "lead", "agent", "disposition", "system disposition")
    parts = [f"{n} {data_text(v, 40)}" for n, v in zip(names, values, strict=True) if v is not None]
    return ", ".join(parts) if parts else "all calls"


async def last_call_note(
    ctx: Context[Any, Any], contact: Contact, campaign_id: int
) -> tuple[str, CallOut | None]:
    """For an answer about one customer: their last call as Ameyo pushed it, said and as data, or
    nothing. Never an error: the contact's answer stands without it when the store cannot be read."""
    store = store_of(ctx)
    settings = ameyo_of(ctx).settings
    zone = settings.zone
    numbers = _keys(contact, settings)
    try:
        last = await anyio.to_thread.run_sync(newest_call, store, contact.customer_id, campaign_id, numbers)
    except StoreError as exc:  # said in full by the lookup, or by the call history when asked
        log.info("could not read the last pushed call of customer %s: %s", contact.customer_id, exc.message)
        return "", None
    except Exception:
        log.warning("could not read the last pushed call of customer %s", contact.customer_id, exc_info=True)
        return "", None
    if last is None:
        return "", None
    out = call_out(last, zone)
    line = call_line(out, str(zone), with_date=True)
    note = ["", f"Last call pushed by Ameyo ({zone}):", *fence([line])]
    dialled = _last_dialled(contact, zone)
    pushed = last.event.dialled_at or last.event.at
    if dialled is not None and dialled > pushed + DIAL_TO_START:
        note.append(
            f"Ameyo's own record above is newer (last dialled {show(dialled, zone)}): the push of that "
            "later call has not reached the receiver, so the status above is the current one."
        )
    return "\n".join(note), out


async def callbacks_set_on_calls(ctx: Context[Any, Any], contact: Contact, campaign_id: int) -> list[str]:
    """For an answer about one customer: the callbacks agents set on their calls in the campaign
    (a push's `callbackTime`) that are still to come, soonest first, each as answers list a
    callback (`callback_words`: its time in the Ameyo server's zone, with the agent whose call set it
    when the push names one); one a time and agent, however many pushes said it. Never an error:
    empty when the store cannot be read."""
    from ...writes.plans import callback_words  # loaded with the write path, not at start-up

    store = store_of(ctx)
    settings = ameyo_of(ctx).settings
    numbers = _keys(contact, settings)
    try:
        calls = await anyio.to_thread.run_sync(
            callbacks_ahead, store, contact.customer_id, campaign_id, numbers, datetime.now(UTC)
        )
    except StoreError as exc:  # said in full by the lookup, or by the call history when asked
        log.info(
            "could not read the callbacks set on customer %s's calls: %s", contact.customer_id, exc.message
        )
        return []
    except Exception:
        log.warning(
            "could not read the callbacks set on customer %s's calls", contact.customer_id, exc_info=True
        )
        return []
    zone = settings.zone
    return list(
        dict.fromkeys(
            callback_words(call.event.callback_at, call_out(call, zone).agent, zone, set_by=True)
            for call in calls
            if call.event.callback_at
        )
    )


def _keys(contact: Contact, settings: Settings) -> list[str]:
    """The customer's numbers as the store keeps calls' numbers (`phones.key`)."""
    return [n for n in (phones.key(v, settings.phone_region) for v in phone_values(contact)) if n]


# Ameyo's "last dialled" is when the number was dialled, a push's time when the call began: the
# ringing between them is not a later call.
DIAL_TO_START = timedelta(minutes=2)
_NEWER_LOOK = 20


def newest_call(
    store: Store, customer_id: int, campaign_id: int, numbers: Sequence[str]
) -> StoredCall | None:
    """A customer's newest pushed call in a campaign. Any field of a push may be missing: a push
    without a campaignId is theirs by customer id, one without a customerId by one of their numbers
    (phone keys), unless it names another campaign or customer."""
    from ...store import CallQuery

    found = store.last_call(customer_id, campaign_id=campaign_id)
    since = found.event.at if found is not None else None
    candidates = [found] if found is not None else []
    queries = [CallQuery(customer_id=customer_id, since=since, limit=_NEWER_LOOK)]
    queries += [CallQuery(phones=(number,), since=since, limit=_NEWER_LOOK) for number in numbers]
    for query in queries:
        for call in store.call_history(query).calls:
            if _theirs(call.event, customer_id, campaign_id):
                candidates.append(call)
                break
    return max(candidates, key=lambda c: (c.event.at, c.id), default=None)


# Most calls setting a callback still to come read for a customer, and for each of their numbers.
CALLBACKS_AHEAD = 100


def callbacks_ahead(
    store: Store, customer_id: int, campaign_id: int, numbers: Sequence[str], now: datetime
) -> list[StoredCall]:
    """A customer's pushed calls in a campaign whose outcome set a callback after `now`, the soonest
    callback first: theirs as `newest_call` finds their calls, by customer id and by each of their
    numbers (phone keys)."""
    from ...store import CallQuery

    queries = [CallQuery(customer_id=customer_id, callback_after=now, limit=CALLBACKS_AHEAD)]
    queries += [CallQuery(phones=(number,), callback_after=now, limit=CALLBACKS_AHEAD) for number in numbers]
    found = {
        call.id: call
        for query in queries
        for call in store.callbacks_set(query)
        if _theirs(call.event, customer_id, campaign_id)
    }
    return sorted(found.values(), key=lambda c: (c.event.callback_at or now, c.id))


def _theirs(event: CallEvent, customer_id: int, campaign_id: int) -> bool:
    """Whether a call found by a customer's id or number is theirs in the campaign: any field of a
    push may be missing, so one without a campaignId is theirs by customer id, one without a
    customerId by their number, unless it names another campaign or customer."""
    return event.campaign_id in (None, campaign_id) and event.customer_id in (None, customer_id)


def _last_dialled(contact: Contact, zone: ZoneInfo) -> datetime | None:
    """When Ameyo says it last dialled the contact (its `last_dialed_time`), or None."""
    raw = contact.extra_data.get("last_dialed_time")
    try:
        moment = parse_ameyo_time(raw)
    except ValueError:
        return None
    if moment is None:
        return None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
