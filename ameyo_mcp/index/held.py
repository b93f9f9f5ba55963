"""The customers a campaign's index finds by an upload's numbers, as Ameyo holds them now: so that
a number sent in another spelling than Ameyo's updates its customer rather than adding a second
record, and whom a callback to a number would ring, for the do-not-call check. Every upload asks
here, from the record tools, the file tool and the CLI alike. The index is an aid: when it cannot be
read or is not built, nothing is found; when Ameyo cannot be asked, the numbers whose customers it
found are named, so that a check can hold them back rather than pass them unread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ..ameyo.customers import PRIMARY_COLUMN, phone_values
from ..ameyo.models import Contact, GetContactsRequest
from ..errors import AmeyoError, StoreBusy, StoreError
from ..rules import phones
from .added import Added, Since, left_unread, unreadable
from .catch_up import read_keeping

if TYPE_CHECKING:
    from ..ameyo.service import Ameyo
    from ..store import CampaignIndex, Store

# Customers asked of Ameyo at once: one getContacts by customer ids, as a lookup's candidates.
_PER_REQUEST = 500
_LEFT_OUT = "its answer left the customer out: deleted since the index's last sync, or an answer cut short"


async def synced_index(store: Store, campaign_id: int) -> CampaignIndex | None:
    """The campaign's index once a first complete sync made it, else None. One row read on the
    event loop (a worker thread per batch of a file upload cost more than the read), unless
    another thread has the store: then it is read off the loop."""
    try:
        known = store.campaign(campaign_id, wait=False)
    except StoreBusy:
        known = await anyio.to_thread.run_sync(store.campaign, campaign_id)
    return known if known is not None and known.synced_at is not None else None


def index_hits(
    store: Store, campaign_id: int, numbers: Sequence[str], region: str
) -> tuple[CampaignIndex | None, dict[int, list[int]]]:
    """The campaign's index (None: never synced) and the customers it finds by `numbers`, each with
    the positions of the numbers that found it."""
    index = store.campaign(campaign_id)
    if index is None or index.synced_at is None:
        return None, {}
    return index, _hits(store, campaign_id, numbers, region)


def _hits(store: Store, campaign_id: int, numbers: Sequence[str], region: str) -> dict[int, list[int]]:
    keys = [phones.key(number, region) for number in numbers]
    customers = store.customers_by_phone(campaign_id, [k for k in keys if k])
    found: dict[int, list[int]] = {}
    for position, key in enumerate(keys):
        for customer_id in customers.get(key, ()) if key else ():
            found.setdefault(customer_id, []).append(position)
    return found


T = TypeVar("T")


async def _when_synced(
    store: Store, campaign_id: int, read: Callable[..., T], *args: Any
) -> tuple[CampaignIndex, T] | None:
    """The campaign's synced index as it was before `read(*args)` ran in a worker thread, and what
    that read; None when it has none, or the store fails (that failure is said by the write that
    follows)."""
    try:
        # An upload's every batch asks: a campaign never synced costs it no worker thread.
        if (index := await synced_index(store, campaign_id)) is None:
            return None
        return index, await anyio.to_thread.run_sync(read, *args)
    except (StoreError, OSError):
        return None


@dataclass
class Customers:
    """What `indexed_customers` found: each customer with the positions of the numbers that are
    theirs, and the positions whose candidates Ameyo could not be asked for, or its answer left out
    (`failure`: why). `beyond` (`newest_customers`): which of the customers added since the sync
    were not read, so not checked ("": none): those `added.left_unread` names, or any when Ameyo
    could not be asked for them."""

    found: list[tuple[Contact, list[int]]] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)
    failure: str = ""
    beyond: str = ""
    # (`indexed_customers`) The campaign's index as read before it was asked: how far down the
    # customers added since its sync must be read for the same numbers (`newest_customers`). Its
    # bound read afterwards may cover a customer kept (another read, a sync's page) since it was
    # asked, which neither read would then find.
    index: CampaignIndex | None = None


async def indexed_customers(
    ameyo: Ameyo,
    store: Store,
    campaign_id: int,
    numbers: Sequence[str],
    *,
    columns: dict[str, str] | None = None,
    any_number: bool = False,
) -> Customers | None:
    """The customers the index finds by `numbers` (phone1 of records), as Ameyo holds them now
    (with `columns`), each with the positions of the numbers that are its phone1 under the phone
    rule (with `any_number`, any of its numbers: whom a call to that number rings); None when the
    campaign has no synced index, or the store cannot say (nothing could be found)."""
    if not numbers:
        return Customers()
    region = ameyo.settings.phone_region
    synced = await _when_synced(store, campaign_id, _hits, store, campaign_id, numbers, region)
    if synced is None:
        return None
    index, candidates = synced
    out = await _read_live(ameyo, campaign_id, numbers, candidates, columns=columns, any_number=any_number)
    out.index = index
    return out


async def _read_live(
    ameyo: Ameyo,
    campaign_id: int,
    numbers: Sequence[str],
    candidates: dict[int, list[int]],
    *,
    columns: dict[str, str] | None,
    any_number: bool,
) -> Customers:
    """`candidates` (customer id → the positions of `numbers` thought theirs) as Ameyo holds them
    now, each kept with the positions of the numbers that are still theirs (`indexed_customers`)."""
    region = ameyo.settings.phone_region
    ids = list(candidates)
    contacts: list[Contact] = []
    try:
        for start in range(0, len(ids), _PER_REQUEST):
            request = GetContactsRequest(
                campaign_id=campaign_id,
                customer_ids=[str(i) for i in ids[start : start + _PER_REQUEST]],
                other_columns=columns,
            )
            contacts += await ameyo.get_contacts(request)
    except AmeyoError as exc:
        unread = sorted({p for positions in candidates.values() for p in positions})
        return Customers(unread=unread, failure=exc.message)
    returned = {contact.customer_id for contact in contacts}
    # A customer the index found that Ameyo's answer left out was not read either.
    left_out = sorted({p for i, positions in candidates.items() if i not in returned for p in positions})
    out = Customers(unread=left_out, failure=_LEFT_OUT if left_out else "")
    for contact in contacts:
        stored = (
            phone_values(contact) if any_number else [str(contact.customer_data.get(PRIMARY_COLUMN) or "")]
        )
        same = [
            position
            for position in candidates.get(contact.customer_id, ())
            if any(s and phones.same_number(s, numbers[position], region) for s in stored)
        ]
        if same:
            out.found.append((contact, same))
    return out


NEWEST_AGAIN_S = 10.0
"""How long a run's read of the newest contacts stands for its later batches (`NewestSeen`)."""


@dataclass
class NewestSeen:
    """The customers added since the sync that one run (a file upload) has read, for its later
    batches. Each batch read the newest contacts again, a 500-contact getContacts a batch for a file
    of new people (bench/bench_upload_checks.py), while the upload's own additions soon filled
    them. The customers each read finds stay known for the run, by their numbers; a batch's numbers
    that are theirs have their customers read live by id (their disposition now). The newest are
    read again once the last read is NEWEST_AGAIN_S old, down to the highest customer id the run
    read (`top`) only, not to the sync's customers again: those below it were read. A customer added
    by someone else after that read is not seen until the next: they would have to be given a
    do-not-call disposition within those seconds too."""

    region: str
    clock: Callable[[], float] = time.monotonic
    read_at: float | None = None
    top: int | None = None  # the highest customer id the run's reads went down from
    # Which customers added since the sync a read left unread (`added.left_unread`): no later read
    # goes down to them (they go down to `top`, or read one page again).
    beyond: str = ""
    numbers: dict[int, tuple[str, ...]] = field(default_factory=dict)  # customer id → their numbers
    by_identity: dict[str, set[int]] = field(default_factory=dict)
    # Customers with another country's number, by its last digits (`phones.tail`): a batch's run of
    # digits that ends so may be read as theirs.
    foreign: dict[str, set[int]] = field(default_factory=dict)
    # By their numbers' last digits (`phones.tail`): those a batch's foreign number may be the
    # foreign reading of.
    by_tail: dict[str, set[int]] = field(default_factory=dict)

    def due(self) -> bool:
        return self.read_at is None or self.clock() - self.read_at >= NEWEST_AGAIN_S

    def keep(self, latest: Added, at: float) -> None:
        self.read_at = at
        if latest.top is not None:
            self.top = latest.top if self.top is None else max(self.top, latest.top)
        self.beyond = self.beyond or left_unread(latest)
        home = phones.home_prefix(self.region)
        for contact in latest.contacts:
            # A number they no longer hold stays in the lookups below: a batch that finds them by
            # it reads them live, and their numbers then, before counting them as found.
            numbers = self.numbers[contact.customer_id] = tuple(s for s in phone_values(contact) if s)
            for number in numbers:
                self.by_tail.setdefault(phones.tail(number), set()).add(contact.customer_id)
                if (one := phones.identity(number, self.region)) is not None:
                    self.by_identity.setdefault(one, set()).add(contact.customer_id)
                    if not one.startswith(home):
                        self.foreign.setdefault(phones.tail(one), set()).add(contact.customer_id)

    def candidates(self, positions: phones.Positions) -> dict[int, list[int]]:
        """Customer id → the positions of a batch's numbers that `positions` finds among theirs:
        those of their identity, and where either side is foreign, as `same_number` reads it."""
        ids = {i for one in positions.by_identity for i in self.by_identity.get(one, ())}
        ids |= {i for end in positions.foreign_tails for i in self.by_tail.get(end, ())}
        # Every foreign customer was matched to every batch (a sixth of the simulator's newest 500):
        # only a number that ends as theirs can be read as their number.
        if self.foreign:
            ids |= {i for end in positions.tails() if end in self.foreign for i in self.foreign[end]}
        found: dict[int, list[int]] = {}
        for customer_id in sorted(ids):
            if same := sorted({p for s in self.numbers[customer_id] for p in positions(s)}):
                found[customer_id] = same
        return found


async def newest_customers(
    ameyo: Ameyo,
    store: Store,
    campaign_id: int,
    numbers: Sequence[str],
    *,
    columns: dict[str, str] | None = None,
    seen: NewestSeen | None = None,
    known: Collection[int] = (),
    index: CampaignIndex | None = None,
) -> Customers:
    """Among the customers added since the index's sync, read live (`added.read_added`), those with
    any of `numbers` (each with their positions): the index cannot find them; `ameyo_add_callback`
    finds them so. With `seen`, a run's earlier reads stand for it meanwhile (`NewestSeen`): their
    customers that hold one of `numbers` are read live by id, and those Ameyo could not be asked for
    are `unread`, as `indexed_customers` says. The customers `known` (already read by the caller)
    are left out; `index`: the campaign's index as the caller's `indexed_customers` read it, whose
    bound the read goes down to. When Ameyo cannot be asked for the customers added since, nothing
    is found among them, and `beyond` says so."""
    if not numbers:
        return Customers()
    positions = phones.Positions(numbers, ameyo.settings.phone_region)
    added, failure = None, ""
    if seen is None or seen.due():
        try:
            added = await _newest(ameyo, store, campaign_id, columns, seen, index)
        except AmeyoError as exc:
            failure = unreadable(exc.message)
    latest = added.contacts if added is not None else []
    read = seen.beyond if seen is not None else left_unread(added) if added is not None else ""
    out = Customers(beyond=failure or read)
    for contact in latest:
        if contact.customer_id in known:
            continue
        if same := sorted({p for s in phone_values(contact) if s for p in positions(s)}):
            out.found.append((contact, same))
    if seen is None:
        return out
    just_read = {contact.customer_id for contact in latest}
    earlier = {i: p for i, p in seen.candidates(positions).items() if i not in just_read and i not in known}
    if earlier:
        live = await _read_live(ameyo, campaign_id, numbers, earlier, columns=columns, any_number=True)
        out.found += live.found
        out.unread, out.failure = live.unread, live.failure
    return out


async def _newest(
    ameyo: Ameyo,
    store: Store,
    campaign_id: int,
    columns: dict[str, str] | None,
    seen: NewestSeen | None,
    index: CampaignIndex | None = None,
) -> Added | None:
    """The customers added since the campaign's index (read from `store` unless given) was synced,
    and above those `seen` read, read live (and kept in `seen`); None when there is no index to say
    which they are. AmeyoError when Ameyo cannot be asked (`seen` is then due still)."""
    try:
        index = index or await synced_index(store, campaign_id)
    except (StoreError, OSError):
        index = None  # (the check that follows says the store failed)
    if index is None:
        return None
    since = Since.sync_of(index)
    request = GetContactsRequest(campaign_id=campaign_id, other_columns=columns)
    at = seen.clock() if seen is not None else 0.0
    latest = await read_keeping(ameyo, store, request, since.above(seen.top) if seen is not None else since)
    if seen is not None:
        seen.keep(latest, at)
    return latest


async def newest_before_run(
    ameyo: Ameyo, store: Store, campaign_id: int, seen: NewestSeen, *, columns: dict[str, str] | None = None
) -> bool:
    """Read the newest contacts into `seen` before a run adds anyone, when the campaign has a synced
    index (the checks that use them need one), and say whether it has: a run sends the rows it
    does not check as it reads them, and its first check came after those had filled the window,
    so a customer added since the sync was found by the dry run and missed by the run."""
    if (index := await synced_index(store, campaign_id)) is None:
        return False
    # Unread, the run's first check reads them (and says so if it cannot either).
    with suppress(AmeyoError):
        await _newest(ameyo, store, campaign_id, columns, seen, index)
    return True


async def held_spellings(
    ameyo: Ameyo, store: Store, campaign_id: int, numbers: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """phone1 as Ameyo holds it, by identity (`phones.identity`), for the (identity, phone1) of an
    upload whose number the campaign's index knows as a customer's phone1."""
    held: dict[str, str] = {}
    spelt = [phone for _, phone in numbers]
    customers = await indexed_customers(ameyo, store, campaign_id, spelt)
    for contact, positions in customers.found if customers is not None else ():
        stored = str(contact.customer_data.get(PRIMARY_COLUMN) or "")
        for position in positions:
            held.setdefault(numbers[position][0], stored)
    return held


def _endings(
    store: Store, campaign_id: int, numbers: Sequence[str], region: str, cap: int
) -> dict[int, list[int]]:
    """By position, the customers whose number is longer than one of `numbers` and ends with it,
    for those numbers no customer holds as such."""
    keys = [phones.key(number, region) for number in numbers]
    held = store.customers_by_phone(campaign_id, [k for k in keys if k])
    unheld = [k for k in keys if k and k not in held]
    endings = store.customers_ending_with(campaign_id, unheld, limit=cap) if unheld else {}
    found: dict[int, list[int]] = {}
    for position, key in enumerate(keys):
        if key in endings and len(found) < cap:
            found[position] = endings[key]
    return found


async def lookalikes(
    ameyo: Ameyo, store: Store, campaign_id: int, numbers: Sequence[str], *, cap: int = 5
) -> list[tuple[int, Contact]]:
    """For an upload's numbers (phone1 of records) that are no indexed customer's: the customers
    whose phone1 ends with one yet is another number under the phone rule (`0458681166572` for
    `8681166572`), as Ameyo holds them now, with the record's position; up to `cap` records.
    A lookup by the number finds them, but Ameyo matches phone1 exactly: the record adds a new
    customer beside them, whatever update_existing says. Nothing when the index cannot tell."""
    if not numbers:
        return []
    region = ameyo.settings.phone_region
    synced = await _when_synced(store, campaign_id, _endings, store, campaign_id, numbers, region, cap)
    candidates = synced[1] if synced is not None else {}
    if not candidates:
        return []
    ids = sorted({i for found in candidates.values() for i in found})
    if not ids:
        return []
    try:
        request = GetContactsRequest(campaign_id=campaign_id, customer_ids=[str(i) for i in ids])
        live = {c.customer_id: c for c in await ameyo.get_contacts(request)}
    except AmeyoError:
        return []
    out: list[tuple[int, Contact]] = []
    for position, found in sorted(candidates.items()):
        number = numbers[position]
        for customer_id in found:
            contact = live.get(customer_id)
            stored = str(contact.customer_data.get(PRIMARY_COLUMN) or "") if contact else ""
            ending = stored and phones.ends_with(stored, number, region)
            if contact is not None and ending and not phones.same_number(stored, number, region):
                out.append((position, contact))
    return out
