"""Sync: the index of each campaign kept in step with Ameyo, by paging through `getContacts`.

A pass reads a campaign in customer id order (`orderBy`, `limitOffset`: nothing else Ameyo offers
pages) through the `Ameyo` service, a few pages in flight and at a bounded request rate, and
writes each page to the store together with its resume cursor, so that a killed sync resumes
where it stopped. Memory holds the pages in flight, never the campaign. Only a complete pass
removes contacts: those it did not see are gone from Ameyo.

One process syncs a campaign at a time, whichever it is (a CLI run, a server's background sync, on
any replica on the store): a pass holds the campaign's sync lease, renewed with every page; another
sync of it skips it and says who holds it. A holder that stops renewing (killed, frozen) lets go when
its lease runs out, or at once on its own host when its process is gone; the next sync resumes.

Offsets shift when Ameyo deletes or adds contacts during a pass, so each page asks for one row
before its position too: that row must be one already seen. When it is not, rows before the
position were deleted and the pass steps back until it overlaps again; rows already seen are
skipped. No contact is missed, whatever changes under the pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import anyio

from ..ameyo.columns import index_columns
from ..ameyo.customers import display_name, is_phone_key
from ..ameyo.models import CampaignInfo, GetContactsRequest, parse_ameyo_time
from ..ameyo.service import Ameyo
from ..config import Settings
from ..errors import StoreError, SyncBusy, SyncError
from ..rules import phones
from ..rules.counts import counted
from ..rules.owners import new_owner, owner_alive
from ..rules.times import ago_text, show
from ..store import CampaignIndex, ContactRow, Store, SyncLease, SyncPass
from ..store.sync_leases import shown

log = logging.getLogger(__name__)

ORDER_BY = "customer_id"


@dataclass
class SyncProgress:
    """How far a campaign's pass is: contacts read in this pass (resumed ones included), and the
    size of the campaign at its last complete pass, when known (for a progress bar)."""

    campaign: CampaignInfo
    seen: int
    expected: int | None
    pages: int
    resumed: bool
    done: bool = False
    # Every page is read; the pass is being closed (a first pass builds its lookup keys then).
    closing: bool = False


@dataclass(frozen=True)
class SyncReport:
    campaign: CampaignInfo
    contacts: int
    new: int
    removed: int
    seconds: float
    resumed: bool
    requests: int
    # Why this sync skipped the campaign ("another process (host:pid) is syncing it since …").
    skipped: str | None = None

    def line(self) -> str:
        if self.skipped is not None:
            return f"{self.campaign.campaign_name} ({self.campaign.campaign_id}): {self.skipped}; skipped"
        how = "resumed and completed" if self.resumed else "synced"
        return (
            f"{self.campaign.campaign_name} ({self.campaign.campaign_id}): {how}, "
            f"{counted(self.contacts, 'contact')} indexed ({self.new:,} new, {self.removed:,} removed) in "
            f"{self.seconds:.1f} s, {counted(self.requests, 'request')}"
        )


Progress = Callable[[SyncProgress], None]


class Pacer:
    """At most `rate` request starts per second (0: no limit), spaced evenly."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class _Position:
    """Where a pass stands: the offset of the next unseen contact, the last customer id seen, and
    how many contacts the pass has read. Saved as the cursor with every page."""

    offset: int = 0
    last: int | None = None
    seen: int = 0

    def dump(self) -> str:
        return json.dumps({"offset": self.offset, "last": self.last, "seen": self.seen})

    @classmethod
    def load(cls, text: str | None) -> _Position:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            last = None if data["last"] is None else int(data["last"])
            return cls(int(data["offset"]), last, int(data["seen"]))
        except (ValueError, KeyError, TypeError):
            return cls()  # a cursor from another version: start the pass again


def contact_row(contact: Mapping[str, Any], settings: Settings) -> ContactRow:
    """What the index keeps of a contact (a dict as getContacts sent it): every phone column keyed
    by the phone rule, the name fields, and the campaign columns of its last call.

    Raises SyncError when the contact has no customer id."""
    return contact_rows((contact,), settings)[0]


def contact_rows(
    contacts: Iterable[Mapping[str, Any]], settings: Settings, shapes: set[tuple[str, ...]] | None = None
) -> list[ContactRow]:
    """`contact_row` of each contact of a page. One loop with the settings read once: a sync turns
    a million contacts into rows, about half of its event loop's time. `shapes` gathers the sets
    of customer field names the contacts have."""
    region, zone = settings.phone_region, settings.zone
    key = phones.key
    new_row = tuple.__new__
    rows: list[ContactRow] = []
    last: _Shape | None = None  # the shape last gathered (a page's contacts mostly share one)
    for contact in contacts:
        try:
            customer_id = contact["customerId"]
            if type(customer_id) is not int:
                customer_id = int(customer_id)
        except (KeyError, TypeError, ValueError):
            raise SyncError("Ameyo answered getContacts with a contact that has no customer id") from None
        keys: list[str] = []
        names: list[str] = []
        name: str | None = None
        data = contact.get("customerData")
        if data and isinstance(data, dict):
            shape = _fields(data)
            if shape is not last and shapes is not None:
                shapes.add(shape.names)
                last = shape
            _, phone_fields, name_fields = shape
            for field in phone_fields:
                value = data[field]
                if value is not None and value != "":
                    found = key(value if type(value) is str else str(value), region)
                    if found:
                        keys.append(found)
            if name_fields:
                names = [str(data[field]) for field in name_fields if data[field] not in (None, "")]
                name = display_name(data)
        extra = contact.get("extraData") or _NOTHING
        if not isinstance(extra, dict):
            extra = _NOTHING
        attempts = extra.get("attempts")
        lead = contact.get("leadId")
        dialled = extra.get("last_dialed_time")
        status = extra.get("status")
        disposition = extra.get("disposition")
        # The row made as the tuple it is, without the named tuple's own `__new__`, and its texts
        # cut here: calls a contact are much of this loop's time. The status in upper case, as the
        # live filter compares it and the document lists them.
        rows.append(
            new_row(
                ContactRow,
                (
                    customer_id,
                    lead if type(lead) is int else _digits(lead),
                    keys,
                    names,
                    None if status in (None, "") else str(status)[:100].upper(),
                    None if disposition in (None, "") else str(disposition)[:100],
                    attempts if type(attempts) is int else _digits(attempts),
                    None if dialled is None else _when(dialled, zone),
                    name,
                ),
            )
        )
    return rows


_NOTHING: dict[str, Any] = {}


class _Shape(NamedTuple):
    """A set of customer field names, and which of them hold phones and which names."""

    names: tuple[str, ...]
    phones: tuple[str, ...]
    name_fields: tuple[str, ...]


_FIELDS: dict[tuple[str, ...], _Shape] = {}


def _fields(data: dict[str, Any]) -> _Shape:
    """Which of a contact's customer fields hold phones and which hold names; worked out once per
    set of field names, since a deployment's contacts share a few of them (the same object for
    each contact of one shape, so that a page's shapes are gathered by identity, not hashing)."""
    names = tuple(data)
    found = _FIELDS.get(names)
    if found is None:
        found = _Shape(
            names,
            tuple(f for f in names if is_phone_key(f)),
            tuple(f for f in names if not is_phone_key(f) and "name" in f.lower()),
        )
        if len(_FIELDS) < 10_000:
            _FIELDS[names] = found
    return found


def _digits(value: Any) -> int | None:
    """A whole number sent as a number or as text (0 included); None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isascii() and text.isdigit() else None


def _when(value: Any, zone: ZoneInfo) -> int | None:
    """A contact's last dial as whole seconds since the epoch; Ameyo's times without a zone are in
    AMEYO_TIMEZONE."""
    try:
        # Ameyo's usual `2026-11-17 08:34:06` at C speed (a tenth of a page's time otherwise).
        moment = datetime.fromisoformat(value) if isinstance(value, str) else parse_ameyo_time(value)
    except ValueError:
        try:
            moment = parse_ameyo_time(value)
        except ValueError:
            return None
    if moment is None:
        return None
    if moment.tzinfo is not None:
        return int(moment.timestamp())
    # The zone's offset at that wall time (as replace(tzinfo=zone) would take it), without making
    # an aware datetime: a third of the cost, for most contacts of a campaign.
    offset = zone.utcoffset(moment)
    return int((moment - _EPOCH).total_seconds() - (offset.total_seconds() if offset else 0))


_EPOCH = datetime(1970, 1, 1)


def lease_seconds(settings: Settings) -> float:
    """How long a sync holds its campaign without a page before another process may take it over:
    a page waits at most for a login and its request, twice, each within the timeout."""
    return 4 * (settings.timeout_s or 30.0) + 30


# The sync leases this process holds now: another owner of this process's id is an earlier life.
_HOLDING: set[str] = set()


def _alive(holder: str) -> bool:
    """Whether the holder of a campaign's sync lease may still be syncing it."""
    return owner_alive(holder, here=_HOLDING.__contains__)


def page_request(campaign_id: int) -> GetContactsRequest:
    """The request every page of a pass is cut from (with its `limitOffset`)."""
    return GetContactsRequest(
        campaign_id=campaign_id,
        order_by=ORDER_BY,
        other_columns=index_columns(),
    )


async def sync_campaign(
    ameyo: Ameyo,
    store: Store,
    campaign: CampaignInfo,
    *,
    restart: bool = False,
    progress: Progress | None = None,
    on_loop: bool = False,
) -> SyncReport:
    """One full pass over a campaign (or the rest of an interrupted one), then the removal of
    contacts Ameyo no longer has; or, while another process syncs the campaign, a report that says
    so (`skipped`) and nothing else.

    `on_loop`: turn each page into index rows on the event loop itself, for a loop that serves the
    sync alone (`ameyo-mcp sync`). Doing it in a worker thread keeps a server's loop free for tool
    calls, but the two threads then take turns at the interpreter lock, which cost a fifth of the
    rate. Either way the rows are written by a worker thread, while the next page is read."""
    settings = ameyo.settings
    started = time.monotonic()
    lease = SyncLease(new_owner(), lease_seconds(settings), alive=_alive)
    _HOLDING.add(lease.holder)
    try:
        opened = await anyio.to_thread.run_sync(
            lambda: store.begin_pass(
                campaign.campaign_id,
                name=campaign.campaign_name,
                restart=restart,
                now=datetime.now(UTC),
                lease=lease,
            )
        )
    except SyncBusy as busy:
        _HOLDING.discard(lease.holder)
        return SyncReport(
            campaign=campaign,
            contacts=0,
            new=0,
            removed=0,
            seconds=time.monotonic() - started,
            resumed=False,
            requests=0,
            skipped=f"another process ({busy.holder}) is syncing it {_since(busy.since, settings)}",
        )
    except BaseException:
        _HOLDING.discard(lease.holder)
        raise
    try:
        return await _run_pass(ameyo, store, campaign, opened, lease, started, progress, on_loop)
    finally:
        _HOLDING.discard(lease.holder)
        # Let go at once, whatever ended the pass (a cancelled server task included): the next
        # sync, here or elsewhere, need not wait for the lease to run out.
        with anyio.CancelScope(shield=True), suppress(StoreError):
            await anyio.to_thread.run_sync(store.release_sync_lease, campaign.campaign_id, lease.holder)


async def _run_pass(
    ameyo: Ameyo,
    store: Store,
    campaign: CampaignInfo,
    opened: SyncPass,
    lease: SyncLease,
    started: float,
    progress: Progress | None,
    on_loop: bool,
) -> SyncReport:
    """The pages of a pass `sync_campaign` has opened, holding its lease, then its end."""
    settings = ameyo.settings
    known = await anyio.to_thread.run_sync(store.campaign, campaign.campaign_id)
    expected = known.synced_contacts if known else None
    position = _Position.load(opened.cursor)
    size = settings.sync_page_size
    pacer = Pacer(settings.sync_rate)
    request = page_request(campaign.campaign_id)
    requests = 0
    pages = 0
    new = 0

    def window(at: int) -> tuple[int, int]:
        """The offset and limit of the page for position `at`: one row before it too, which must
        be one the pass has seen (see the module's note)."""
        start = max(at - 1, 0)
        return start, size + (at - start)

    async def fetch(at: int) -> tuple[datetime, list[dict[str, Any]]]:
        """The page at position `at`, and when it was asked for: what Ameyo answers is as of then
        or later (the store keeps a push's outcome recorded after it, `upsert_contacts`)."""
        nonlocal requests
        await pacer.wait()
        requests += 1
        start, limit = window(at)
        asked = datetime.now(UTC)
        answer = await ameyo.get_contact_dicts(
            request.model_copy(update={"limit_offset": f"LIMIT {limit} OFFSET {start}"})
        )
        return asked, answer

    shapes: set[tuple[str, ...]] = set()  # the sets of customer field names seen (`contact_rows`)

    def take(at: int, answer: list[dict[str, Any]]) -> tuple[list[ContactRow], str] | None:
        """A page read at offset `at` as the rows to index and the cursor to save with them, the
        position moved past it; None when the pass must step back instead. Nothing else touches
        `position` until this returns (in a worker thread the event loop keeps reading the pages
        in flight meanwhile)."""
        nonlocal pages
        rows = contact_rows(answer, settings, shapes)
        if any(a.customer_id >= b.customer_id for a, b in pairwise(rows)):
            raise SyncError(
                f"Ameyo did not return campaign {campaign.campaign_name}'s contacts in customer id "
                f"order (orderBy {ORDER_BY!r}): the index cannot be synced from this server"
            )
        if at > 0 and position.last is not None and (not rows or rows[0].customer_id > position.last):
            return None  # contacts before the position were deleted: what was there moved back
        fresh = [c for c in rows if position.last is None or c.customer_id > position.last]
        if rows and (position.last is None or rows[-1].customer_id > position.last):
            position.last = rows[-1].customer_id
        position.offset = window(at)[0] + len(rows)
        position.seen += len(fresh)
        pages += 1
        return fresh, position.dump()

    def write(fresh: list[ContactRow], cursor: str, read_at: datetime) -> int:
        return store.upsert_contacts(
            campaign.campaign_id,
            fresh,
            pass_number=opened.number,
            cursor=cursor,
            durable=False,
            lease=lease,
            read_at=read_at,
        )

    pending: deque[tuple[int, asyncio.Task[tuple[datetime, list[dict[str, Any]]]]]] = deque()
    # The last page's write, in a worker thread: the store's time (SQLite's, PostgreSQL's round
    # trips) passes while the loop reads and converts the next page. One write at a time, in page
    # order, each with its own cursor: a killed sync resumes after the last page written.
    writing: asyncio.Future[int] | None = None

    async def written() -> None:
        nonlocal writing, new
        if writing is not None:
            try:
                new += await writing
            finally:
                writing = None

    def cancel_pending() -> None:
        while pending:
            pending.popleft()[1].cancel()

    try:
        next_at = position.offset
        while True:
            while len(pending) < settings.sync_pages_in_flight:
                pending.append((next_at, asyncio.ensure_future(fetch(next_at))))
                next_at += size
            at, task = pending.popleft()
            asked, answer = await task
            taken = take(at, answer) if on_loop else await anyio.to_thread.run_sync(take, at, answer)
            if taken is None:
                cancel_pending()
                next_at = max(at - size, 0)
                continue
            await written()
            writing = asyncio.ensure_future(anyio.to_thread.run_sync(write, *taken, asked))
            if progress is not None:
                progress(SyncProgress(campaign, position.seen, expected, pages, opened.resumed))
            if len(answer) < window(at)[1]:
                break
            if pending and pending[0][0] != position.offset:
                cancel_pending()
                next_at = position.offset
        await written()
    finally:
        cancel_pending()
        if writing is not None:
            # A write under way runs to its end in its thread whatever happens here; the pass ends
            # (and lets its lease go) only after it, with whatever error it met already on its way.
            with anyio.CancelScope(shield=True), suppress(Exception):
                await writing
    if progress is not None:
        progress(SyncProgress(campaign, position.seen, expected, pages, opened.resumed, closing=True))
    removed = await anyio.to_thread.run_sync(
        lambda: store.finish_pass(
            campaign.campaign_id,
            opened.number,
            now=datetime.now(UTC),
            lease=lease,
            customer_fields={str(name) for shape in shapes for name in shape},
            through=position.last,
        )
    )
    done = await anyio.to_thread.run_sync(store.campaign, campaign.campaign_id)
    if progress is not None:
        progress(SyncProgress(campaign, position.seen, expected, pages, opened.resumed, done=True))
    return SyncReport(
        campaign=campaign,
        contacts=done.contacts if done else position.seen,
        new=new,
        removed=removed,
        seconds=time.monotonic() - started,
        resumed=opened.resumed,
        requests=requests,
    )


async def campaigns_to_sync(ameyo: Ameyo, refs: Sequence[str | int] | None) -> list[CampaignInfo]:
    """The campaigns named (by name or id), or every campaign of the user."""
    if refs:
        return [await ameyo.campaign(ref) for ref in refs]
    found = await ameyo.campaigns()
    if not found:
        raise SyncError(
            "Ameyo lists no campaigns for this user (token authentication lists none): "
            "name the campaigns to sync by id, e.g. --campaign 12"
        )
    return found


async def sync_all(
    ameyo: Ameyo,
    store: Store,
    refs: Sequence[str | int] | None = None,
    *,
    restart: bool = False,
    progress: Progress | None = None,
    done: Callable[[SyncReport], None] | None = None,
    on_loop: bool = False,
) -> list[SyncReport]:
    """Sync the campaigns named (or all), one after the other; a campaign that fails stops the run
    with its error, the campaigns before it stay synced."""
    reports = []
    for campaign in await campaigns_to_sync(ameyo, refs):
        report = await sync_campaign(
            ameyo, store, campaign, restart=restart, progress=progress, on_loop=on_loop
        )
        reports.append(report)
        if done is not None:
            done(report)
    return reports


@dataclass(frozen=True)
class RunningSync:
    """A sync at work on a campaign: which process (`host:pid`), since when (seconds since the
    epoch), contacts its pass has read, and the campaign's size at its last complete pass."""

    process: str
    since: float
    seen: int
    expected: int | None


def sync_running(store: Store, campaign: CampaignIndex) -> RunningSync | None:
    """The sync at work on `campaign` now; None when none is (a pass left open by a sync that
    stopped is not running: the next sync resumes it)."""
    held = store.sync_lease(campaign.campaign_id)
    if held is None or held.until <= time.time() or not _alive(held.holder):
        return None
    seen = _Position.load(campaign.cursor).seen if campaign.pass_in_progress is not None else 0
    return RunningSync(shown(held.holder), held.since, seen, campaign.synced_contacts or None)


def running_sync(store: Store, campaign: CampaignIndex, settings: Settings) -> str | None:
    """`sync_running` in words ("process host:4242 since 2026-11-27 02:30 Asia/Kolkata (just now),
    12,000 of ~200,000 contacts read")."""
    running = sync_running(store, campaign)
    if running is None:
        return None
    expected = f" of ~{running.expected:,}" if running.expected else ""
    return (
        f"process {running.process} {_since(running.since, settings)}, {running.seen:,}{expected} "
        "contacts read"
    )


def _since(epoch: float, settings: Settings) -> str:
    since = datetime.fromtimestamp(epoch, UTC)
    return f"since {show(since, settings.zone)} ({age_text(since)})"


def age_text(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago a sync was, for people: "never", "just now", "14 min ago", "3 h ago", "2 days ago"."""
    if when is None:
        return "never"
    return ago_text(((now or datetime.now(UTC)) - when).total_seconds())
