"""Finding a campaign's customers by phone or name: candidates from the index, their current state
from Ameyo (one `getContacts` by customer ids, beside the read of those added since the sync), and
where the lookup looked, in words.

Without an index (never synced, or the store unusable: unreachable, damaged, restarting) a bounded
live scan stands in, and its limit and the reason are said: an answer never reads as "not found"
for a customer it did not look at. A lookup by phone or name reads live the customers added since
the sync too, newest first (`added`), whether the index finds someone or not: a second customer with
the same last digits or name, added since, is in the answer beside the indexed one.
The store is synchronous: it is called through a worker thread, and only when first needed
(importing it, or the phone library, is not paid at start-up). No MCP types here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar, cast

import anyio

from ..ameyo.customers import phone_values
from ..ameyo.models import Contact, GetContactsRequest
from ..errors import StoreError, as_clause
from ..rules import phones
from ..rules.outcomes import UNKNOWN_STATUS, outcome_key
from ..rules.sanitize import fence, fold
from .added import Added, Reach, Since, beyond_newest
from .catch_up import read_keeping

if TYPE_CHECKING:
    from ..ameyo.service import Ameyo
    from ..config import Settings
    from ..store import CampaignIndex, ContactQuery, IndexedContact, Store
    from .held import NewestSeen

log = logging.getLogger(__name__)

SCAN_CAP = 5000
"""Most contacts a live scan reads when there is no index."""
CANDIDATES = 500
"""Most index candidates fetched live at once (one getContacts by customer ids)."""
COUNT_CAP = 100_000
"""Most matches a listing through the index counts (a walk of the campaign's contacts)."""
SYNC_ADVICE = "run ameyo-mcp sync"
NO_INDEX = "the campaign has no index yet"
UNREADABLE = "the local index could not be read"
RULE_BEFORE = (
    "the index was synced before names in Indian scripts kept their vowel signs and virama, and finds "
    "no such name until its next sync"
)
ELSEWHERE = 5
"""Most customers of other campaigns named when a lookup found none in its own."""
LISTING = "a listing in an order, or of the enabled leads only, reads Ameyo itself"
"""Why a listing scans even where the campaign has an index. Where its counts by status come from
is said once, by the status line: those read when the scan read every contact ("By status now"),
else the whole campaign's as of the index's sync."""

Keep = Callable[[Contact], bool]
A = TypeVar("A")
B = TypeVar("B")


def sync_advice(settings: Settings, *, again: bool = False) -> str:
    """What builds a campaign's index (`again`: brings it up to date), in words an answer ends with."""
    if not settings.demo:
        return "sync again (ameyo-mcp sync)" if again else SYNC_ADVICE
    # The demo's index is throwaway and the demo reads no settings file: `ameyo-mcp sync` would
    # fill another throwaway index, never the demo server's.
    if settings.sync_interval_s <= 0:
        return "AMEYO_SYNC_INTERVAL_S=0 keeps a demo server from building its own throwaway index"
    if again:
        return "wait for the demo server's next sync of its index (AMEYO_SYNC_INTERVAL_S)"
    return "a demo server builds its own throwaway index a few seconds after it starts"


def beyond_note(what: str, beyond: str, settings: Settings) -> str:
    """That `what` ("3 records were") went unchecked for do-not-call against the customers added since
    the index's sync that `beyond` names (`held.Customers.beyond`): a sync puts them in the index."""
    return (
        f"Note: {what} not checked against the customers added in Ameyo since the index's sync "
        f"{beyond}, whether they asked not to be called: {sync_advice(settings, again=True)}, and check "
        "again."
    )


@dataclass(frozen=True)
class Looked:
    """Where a lookup looked: the campaign's index (and the newest contacts), or a live scan."""

    index: CampaignIndex | None = None
    why_no_index: str | None = None
    # What brings the index up to date (`sync_advice`).
    again: str = "sync again (ameyo-mcp sync)"
    scanned: int = 0
    scan_capped: bool = False
    newest: int | None = None  # newest contacts read live (the customers added since the sync)
    reach: Reach | None = None  # how far that read went (`added.Reach`)
    # The index had more candidates than were fetched: more may match beyond those shown.
    candidates_capped: bool = False
    # What a live scan read: the campaign, or the leads its request asked Ameyo for.
    of: str = "the campaign"

    def where(self, now: datetime | None = None) -> str:
        """E.g. "index of 412,000 contacts, synced 14 min ago"."""
        if self.index is not None:
            text = f"index of {self.index.contacts:,} contacts, synced {self.synced_ago(now)}"
            if self.newest is not None:
                text += f", and the {self.newest:,} newest contacts in Ameyo, read live"
            return text
        why = self.why_no_index or NO_INDEX
        if why.startswith(UNREADABLE):
            which = "the first" if self.scan_capped else "all"
            return f"{why}; searched Ameyo directly, {which} {self.scanned:,} contacts of {self.of}"
        if self.scan_capped:
            return f"the first {self.scanned:,} contacts of {self.of}, read live ({why})"
        return f"all {self.scanned:,} contacts of {self.of}, read live ({why})"

    def synced_ago(self, now: datetime | None = None) -> str:
        from .sync import age_text  # with the store: loaded on the first lookup, not at start-up

        return age_text(self.index.synced_at if self.index else None, now)

    def unread(self) -> str:
        """That the customers added since the sync were read only down to a cap, so an answer that
        found some may not have found them all; empty otherwise."""
        if self.index is None or self.reach != "cap":
            return ""
        return (
            f"Customers added in Ameyo since the sync {beyond_newest(self.newest or 0)} were not looked "
            f"at, so more may match: {self.again}."
        )

    def not_ruled_out(self, found: bool) -> str | None:
        """What an answer cannot rule out: with nothing `found`, `missed`; with some, `unread`."""
        return (self.unread() if found else self.missed()) or None

    @property
    def partial(self) -> bool:
        """Whether more may match than the look found: it stopped at a cap (the index's candidates,
        a live scan, or the read of the customers added since the sync)."""
        return self.candidates_capped or self.scan_capped or bool(self.unread())

    def missed(self) -> str:
        """What an empty answer cannot rule out; empty when the look was complete."""
        if self.index is not None:
            if self.reach == "campaign":
                return ""  # the newest read covered the whole campaign
            if self.reach == "sync":  # every customer added since the sync was read
                return (
                    "A customer whose number or name changed in Ameyo since the sync, outside this "
                    f"server, may not be among them: give customer_id, or {self.again}."
                )
            if self.reach == "cap":
                return (
                    f"Customers added in Ameyo since the sync {beyond_newest(self.newest or 0)} were not "
                    "looked at, so this is not a 'not found' (a customer whose number or name changed "
                    f"since, outside this server, may be missed too): give customer_id, or {self.again}."
                )
            return (
                "A customer added in Ameyo after the sync, or whose number or name changed since, "
                f"outside this server, may not be among them: give customer_id, or {self.again}."
            )
        if self.scan_capped:
            why = self.why_no_index or NO_INDEX
            return (
                f"Contacts beyond the first {self.scanned:,} were not looked at, so this is not a "
                "'not found'. Give customer_id, or narrow with lead_ids"
                + (f"; {why}." if why != LISTING else ".")
            )
        return ""


@dataclass
class Found:
    """Contacts as Ameyo holds them now, and where the lookup looked. A listing through the index
    (`Finder.listing`) finds one page: `total` then counts the index's matches (as of its sync, up
    to COUNT_CAP + 1) by status in `by_status`, and `changed` the page's index matches that Ameyo
    no longer holds as matching."""

    matches: list[Contact] = field(default_factory=list)
    looked: Looked = field(default_factory=Looked)
    total: int | None = None
    by_status: dict[str, int] = field(default_factory=dict)
    changed: int = 0
    # A disposition filter that matched nothing in the index: the dispositions it does hold.
    dispositions: Counter[str] = field(default_factory=Counter)
    # The index holds more matches past this page (found by the walk itself, not by the count).
    more: bool = False


class Finder:
    """Finds a campaign's customers through its index, else by a bounded live scan. `newest`: where
    the customers added since the sync that a lookup of the whole campaign reads are kept, for the
    do-not-call check that follows it (`held.NewestSeen`), which would read the same pages again."""

    def __init__(self, ameyo: Ameyo, store: Callable[[], Store], newest: NewestSeen | None = None) -> None:
        self.ameyo = ameyo
        self._store = store
        self._seen = newest

    async def index(
        self, campaign_id: int, name: str | None = None
    ) -> tuple[CampaignIndex | None, str | None]:
        """The campaign's index when a full pass of it completed, and it can find `name` (a search by
        name words); else None and why not."""
        try:
            store = self._store()
            known = await anyio.to_thread.run_sync(store.campaign, campaign_id)
        except (StoreError, OSError) as exc:
            return None, unreadable(exc)
        if known is None or known.synced_at is None:
            return None, f"{NO_INDEX}: {sync_advice(self.ameyo.settings)}"
        from ..store import NAME_RULE, keyed_otherwise  # loaded with the store, above

        if name and known.name_rule != NAME_RULE and keyed_otherwise(name):
            # Its words for such names are another rule's: the index would answer "0 match".
            return None, f"{RULE_BEFORE}: {sync_advice(self.ameyo.settings, again=True)}"
        return known, None

    async def by_phone(self, request: GetContactsRequest, phone: phones.PhoneSearch, keep: Keep) -> Found:
        """Contacts with a number that `phone` finds (`phones.search`): their keys end with its key
        or its digits. `keep` is applied to what Ameyo answers now (it must check the number too:
        `phone.matches`)."""
        tails = list(phone.tails)

        def find(store: Store, campaign_id: int) -> list[IndexedContact]:
            found: dict[int, IndexedContact] = {}
            for tail in tails:
                for contact in store.find_by_tail(campaign_id, tail, limit=CANDIDATES):
                    found.setdefault(contact.customer_id, contact)
            return sorted(found.values(), key=lambda c: c.customer_id)[:CANDIDATES]

        return await self._through_index(request, find, keep)

    async def elsewhere(
        self,
        campaign_id: int,
        *,
        phone: phones.PhoneSearch | None = None,
        customer_ids: Collection[int] = (),
        name: str | None = None,
    ) -> list[tuple[CampaignIndex, IndexedContact]]:
        """The customers of the other indexed campaigns that `phone` (as `by_phone` finds them),
        `customer_ids` or `name` (as `by_name` finds them) name, for a lookup that found none in its
        own campaign: Ameyo keeps each campaign's customers apart, and "not in this campaign" is not
        "not in Ameyo". From the index alone; nothing when it cannot be read."""
        tails = list(phone.tails) if phone else []
        ids = list(customer_ids)[:ELSEWHERE]

        def find(store: Store) -> list[tuple[CampaignIndex, IndexedContact]]:
            hits: dict[tuple[int, int], tuple[CampaignIndex, IndexedContact]] = {}
            for index in store.campaigns():
                if index.campaign_id == campaign_id or index.synced_at is None:
                    continue
                found = [
                    c
                    for tail in tails
                    for c in store.find_by_tail(index.campaign_id, tail, limit=ELSEWHERE)
                    if phone is not None and any(phone.holds(k) for k in c.phones)
                ]
                found += [c for i in ids if (c := store.contact(index.campaign_id, i)) is not None]
                if name:
                    found += store.search_names(index.campaign_id, name, limit=ELSEWHERE)
                for contact in found:
                    hits.setdefault((index.campaign_id, contact.customer_id), (index, contact))
            return list(hits.values())[:ELSEWHERE]

        try:
            return await anyio.to_thread.run_sync(find, self._store())
        except (StoreError, OSError):
            return []

    async def by_name(
        self,
        request: GetContactsRequest,
        text: str,
        keep: Keep,
        *,
        want: int = CANDIDATES,
        scan_keep: Keep | None = None,
    ) -> Found:
        """Contacts whose name words start with the words of `text` (case and accents ignored), the
        first `want` of them: a common name has thousands, and each costs the index a join. Without
        an index, a live scan keeps what `scan_keep` (default `keep`) accepts."""
        want = max(1, min(want, CANDIDATES))

        def find(store: Store, campaign_id: int) -> list[IndexedContact]:
            return store.search_names(campaign_id, text, limit=want)

        return await self._through_index(request, find, keep, scan_keep, want, name=text)

    async def listing(
        self,
        request: GetContactsRequest,
        query: ContactQuery,
        keep: Keep,
        *,
        offset: int,
        limit: int,
        scan_keep: Keep | None = None,
    ) -> Found:
        """The page from `offset` of the contacts the index holds as matching `query`, as Ameyo holds
        them now (`keep` checks them again), and how many match in the index by status. With name
        words, the customers added since the sync are read first (`_added`), which keeps them in the
        index: it counts and pages them with the others. Those it could not keep (past a cap, a read
        of some leads, a failed write) come first, counted with them.
        Without an index, a live scan keeps what `scan_keep` (default `keep`) accepts."""
        index, why = await self.index(request.campaign_id, " ".join(query.words))
        if index is None:
            return await self.scan(request, scan_keep or keep, why)
        added = await self._added(request, index) if query.words else None
        new = [c for c in added.contacts if keep(c)] if added is not None else []
        held: Counter[str] = Counter()

        def unheld(store: Store) -> list[Contact]:
            if not new:
                return []
            kept = store.held_ids(query.campaign_id, [c.customer_id for c in new])
            return sorted((c for c in new if c.customer_id not in kept), key=lambda c: c.customer_id)

        def indexed(store: Store, skip: int, take: int) -> tuple[list[IndexedContact], dict[str | None, int]]:
            asked = query
            if query.dispositions:
                # Dispositions are matched by the one rule of the live filter (`outcome_key`: case,
                # accents and "_" for a space): the spellings the index holds that it accepts, then
                # those exactly.
                wanted = {outcome_key(d) for d in query.dispositions}
                every = store.dispositions(query.campaign_id)
                exact = tuple(sorted(d for d in every if outcome_key(d) in wanted))
                if not exact:
                    held.update(every)
                    return [], {}
                asked = replace(query, dispositions=exact)
            if not (asked.words or asked.dispositions or asked.lead_ids):
                # The campaign is counted by status (by the sync, and kept up by the calls and
                # uploads since): a listing by status alone reads that, as its walk reads the rows.
                counts: dict[str | None, int] = {
                    (None if s == UNKNOWN_STATUS else s): n
                    for s, n in store.status_counts(query.campaign_id).items()
                    if not asked.statuses or s in asked.statuses
                }
            else:
                counts = store.count_contacts(asked, cap=COUNT_CAP)
            return store.list_contacts(asked, offset=skip, limit=take + 1), counts

        def find(store: Store) -> tuple[list[Contact], list[IndexedContact], dict[str | None, int]]:
            extra = unheld(store)
            first = extra[offset : offset + limit]
            return extra, *indexed(store, max(offset - len(extra), 0), limit - len(first))

        try:
            extra, candidates, counts = await anyio.to_thread.run_sync(find, self._store())
        except (StoreError, OSError) as exc:
            return await self.scan(request, scan_keep or keep, unreadable(exc))
        first = extra[offset : offset + limit]
        take = limit - len(first)
        page = candidates[:take]
        live = await self._now(request, [c.customer_id for c in page], added.contacts if added else ())
        order = {c.customer_id: i for i, c in enumerate(page)}
        matches = sorted((c for c in live if keep(c)), key=lambda c: order.get(c.customer_id, 0))
        by_status = Counter({(status or UNKNOWN_STATUS): n for status, n in counts.items()})
        by_status.update(str(c.extra_data.get("status") or UNKNOWN_STATUS) for c in extra)
        total = sum(counts.values()) + len(extra)
        capped = total - len(extra) > COUNT_CAP
        return Found(
            [*first, *matches],
            self._looked(index, added, capped=capped, scanned=total),
            total=total,
            by_status=dict(by_status.most_common()),
            changed=len(page) - len(matches),
            dispositions=held,
            more=len(candidates) > take or len(extra) > offset + limit,
        )

    async def scan(self, request: GetContactsRequest, keep: Keep, why_no_index: str | None) -> Found:
        """The bounded live scan that stands in for a missing index."""
        scan = await self.ameyo.scan_contacts(request, keep, cap=SCAN_CAP)
        looked = Looked(
            why_no_index=why_no_index, scanned=scan.scanned, scan_capped=scan.capped, of=_read_of(request)
        )
        return Found(scan.matches, looked)

    async def _through_index(
        self,
        request: GetContactsRequest,
        find: Callable[[Store, int], list[IndexedContact]],
        keep: Keep,
        scan_keep: Keep | None = None,
        want: int = CANDIDATES,
        *,
        name: str | None = None,
    ) -> Found:
        index, why = await self.index(request.campaign_id, name)
        if index is None:
            return await self.scan(request, scan_keep or keep, why)
        try:
            candidates = await anyio.to_thread.run_sync(find, self._store(), request.campaign_id)
        except (StoreError, OSError) as exc:
            return await self.scan(request, scan_keep or keep, unreadable(exc))
        ids = [c.customer_id for c in candidates]
        if request.order_by:
            # Ameyo orders what it answers: the customers added since are read again with the
            # index's, in one getContacts, rather than put after them out of order.
            added = await self._added(request, index)
            new = [c for c in added.contacts if keep(c)]
            live = await self._now(request, [*ids, *(c.customer_id for c in new)])
            matches = list({c.customer_id: c for c in live if keep(c)}.values())
        else:
            # Asked at once: the lookup waits for one answer from Ameyo, as it did when it read the
            # index's customers alone.
            added, live = await _together(self._added(request, index), self._now(request, ids))
            new = [c for c in added.contacts if keep(c)]
            found = {c.customer_id: c for c in live if keep(c)}
            for contact in new:
                found.setdefault(contact.customer_id, contact)
            matches = sorted(found.values(), key=lambda c: c.customer_id)
        return Found(matches, self._looked(index, added, capped=len(candidates) >= want))

    async def _now(
        self, request: GetContactsRequest, ids: Collection[int], read: Collection[Contact] = ()
    ) -> list[Contact]:
        """The customers `ids` as Ameyo holds them now, in Ameyo's order: one getContacts by customer
        ids (none for no id) for those that `read` (the newest contacts, read just now) does not hold,
        then those it does, as it read them."""
        got = {c.customer_id: c for c in read}
        wanted = list(dict.fromkeys(ids))
        asked = [str(i) for i in wanted if i not in got]
        live = []
        if asked:
            live = await self.ameyo.get_contacts(request.model_copy(update={"customer_ids": asked}))
        return [*live, *(got[i] for i in wanted if i in got)]

    async def _added(self, request: GetContactsRequest, index: CampaignIndex) -> Added:
        """The customers added in Ameyo since `index`'s sync (`added.read_added`), newest first:
        kept in the index (`catch_up`), and in the run's newest (`held.NewestSeen`) for the check
        that follows a lookup of the whole campaign."""
        at = self._seen.clock() if self._seen is not None else 0.0
        try:
            store: Store | None = self._store()
        except (StoreError, OSError):
            store = None  # read as before, and kept nowhere
        added = await read_keeping(self.ameyo, store, request, Since.sync_of(index))
        if self._seen is not None and not (request.lead_ids or request.choose_enabled_leads):
            self._seen.keep(added, at)
        return added

    def _looked(self, index: CampaignIndex, added: Added | None, *, capped: bool, scanned: int = 0) -> Looked:
        return Looked(
            index=index,
            newest=len(added.contacts) if added is not None else None,
            reach=added.reach if added is not None else None,
            candidates_capped=capped,
            again=sync_advice(self.ameyo.settings, again=True),
            scanned=scanned,
        )


async def _together(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both awaited at once. A failure is raised as itself (a tool's answer names it; a group of
    them would reach the model as a bare error), at once: the other is cancelled, not waited for."""
    done: dict[int, object] = {}
    failed: list[Exception] = []

    async with anyio.create_task_group() as group:

        async def run(at: int, step: Awaitable[object]) -> None:
            try:
                done[at] = await step
            except Exception as exc:
                failed.append(exc)
                group.cancel_scope.cancel()

        group.start_soon(run, 0, first)
        group.start_soon(run, 1, second)
    if failed:
        raise failed[0]
    return cast("A", done[0]), cast("B", done[1])


def contact_filter(
    phone: phones.PhoneSearch | None,
    text: str | None,
    statuses: Collection[str],
    dispositions: Collection[str],
    seen: Counter[str],
) -> Keep:
    """Whether a contact has the number searched for, `text` anywhere in its fields (case and
    accents ignored, and the apostrophes inside words too, as the index reads names: "obrien" is in
    "O'Brien"), one of the `statuses` (upper case) and one of the `dispositions` (one outcome
    however spelt: `outcome_key`); an empty criterion keeps every contact. The dispositions it meets
    are counted in `seen`."""
    from ..store import without_apostrophes

    needle = fold(text) if text else ""
    wanted = {outcome_key(d) for d in dispositions if d.strip()}

    def has_text(value: str) -> bool:
        if needle in fold(value):
            return True
        plain = without_apostrophes(value)
        return plain is not None and needle in fold(plain)

    def keep(contact: Contact) -> bool:
        data, extra = contact.customer_data, contact.extra_data
        if phone is not None and not any(phone.matches(p) for p in phone_values(contact)):
            return False
        if needle and not any(has_text(str(v)) for v in data.values() if v is not None):
            return False
        if wanted:
            given = str(extra.get("disposition") or "")
            seen[given] += 1
            if outcome_key(given) not in wanted:
                return False
        return not statuses or str(extra.get("status") or "").upper() in statuses

    return keep


def unreadable(exc: StoreError | OSError) -> str:
    """Why a lookup scans Ameyo instead of its index, in the words `Looked` shows; the database's
    own next step goes to the log (and so to the client as a notice), for whoever runs the server."""
    log.warning("%s; lookups search Ameyo directly meanwhile. %s", UNREADABLE, exc)
    reason = exc.message if isinstance(exc, StoreError) else exc.strerror or type(exc).__name__
    return f"{UNREADABLE}: {as_clause(reason[:300])}"


def name_matcher(text: str) -> Keep:
    """Whether each word of `text` starts a word of a contact's name fields, folded as the index
    folds them: what `by_name` finds, checked on the contact as Ameyo holds it now."""
    from ..store import fold_words, name_words

    wanted = fold_words(text)

    def keep(contact: Contact) -> bool:
        names = (str(v) for k, v in contact.customer_data.items() if v and "name" in k.lower())
        words = name_words(*names)
        return bool(wanted) and all(any(w.startswith(x) for w in words) for x in wanted)

    return keep


def status_as_of(index: CampaignIndex) -> dict[str, int]:
    """The campaign's counts by status as of its last complete sync, most first."""
    return dict(sorted(index.status_counts.items(), key=lambda kv: (-kv[1], kv[0])))


def elsewhere_note(hits: Collection[tuple[CampaignIndex, IndexedContact]]) -> str:
    """Where a customer a lookup did not find in its campaign is, in other campaigns' indexes (empty
    when nowhere): names and numbers are customer text, fenced below the sentence."""
    if not hits:
        return ""
    lines = [
        f"customer {c.customer_id} in {i.name or 'campaign'} ({i.campaign_id}): "
        + ", ".join(part for part in (c.shown_name, *c.phones) if part)
        for i, c in hits
    ]
    return "\n".join(
        [
            "Not in this campaign, but in the contacts index of another (Ameyo keeps each campaign's "
            "customers apart): give that campaign if it is the one meant.",
            *fence(lines),
        ]
    )


def _read_of(request: GetContactsRequest) -> str:
    """What a getContacts request reads of its campaign, as a scan's answer names it."""
    if request.lead_ids:
        leads = ", ".join(request.lead_ids[:10]) + (", …" if len(request.lead_ids) > 10 else "")
        return f"lead{'s' if len(request.lead_ids) > 1 else ''} {leads}"
    return "its enabled leads" if request.choose_enabled_leads else "the campaign"
