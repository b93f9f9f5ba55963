"""The customers added in Ameyo since a campaign's index was synced, read live: the index cannot
find them. Read newest first (customer id descending), a page at a time, down to the customers its
last sync read, or a read since raised its bound over (`catch_up`). Every lookup (`lookup.Finder`)
and every upload's do-not-call check (`held`) reads them here.

What this takes of customer ids is what the sync's pass already takes, and the simulator does too
(`simulator.table.ContactTable.add`): Ameyo gives a new customer an id above every one the campaign
holds, so those added since the sync are above the highest id its pass read. Nothing else: not that
a campaign's ids are contiguous (they are not where other campaigns' customers were added between
them), nor where they start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Literal

from ..ameyo.models import Contact, GetContactsRequest

if TYPE_CHECKING:
    from ..ameyo.service import Ameyo
    from ..store import CampaignIndex

PAGE = 500
"""Contacts a page of the read asks for; all that is read for an index that keeps no bound."""
FIRST_PAGE = 50
"""Contacts the first page asks for, when the index keeps its bound: every lookup reads the newest
contacts, and most find nobody added since the sync (or the few added by hand that day), which one
page of 500 read in full. The next page reads on to PAGE, and those after it are of PAGE."""
ADDED_CAP = 10_000
"""Most contacts the index does not hold that one read goes through before it stops short of the
sync's customers: 21 pages, which a lookup or an upload's check waits for one after the other (a few
seconds on a loaded Ameyo). A campaign with more added since its sync wants syncing again, and the
answers say so."""
READ_CAP = 50_000
"""Most contacts one read goes through in all, those the index holds included (`Held`): the
customers this server uploaded since the bound are in the index already, and a read that gets past
them raises the bound over them (`catch_up`), so they are read once, not by every check until the
next sync; past this many (100 pages) a read stops as at ADDED_CAP."""

Held = Callable[[Sequence[int]], Awaitable[Collection[int]]]
"""Which of some customer ids the campaign's index holds (`catch_up`): none when it cannot say."""


def unreadable(failure: str) -> str:
    """Which of them a check did not read when Ameyo could not be asked (`failure`: why): any."""
    return f"(none could be read from Ameyo: {failure.rstrip('.')})"


Reach = Literal["campaign", "sync", "cap", "page"]
"""How far a read went: the campaign's every contact ("campaign"); down to the customers the index
held as of its sync, so every customer added since ("sync"); stopped at ADDED_CAP or READ_CAP before
those ("cap"); the newest PAGE alone, for an index that keeps no bound ("page")."""


def beyond_newest(read: int) -> str:
    """Which of the customers added since the sync a read of the `read` newest contacts left."""
    return f"beyond the newest {read:,} contacts"


def left_unread(added: Added) -> str:
    """Which of the customers added since the sync `added` did not read ("": none): those past where
    it stopped (a cap), or past the newest PAGE for an index that keeps no bound, where nothing says
    there are none (`held.Customers.beyond`)."""
    if added.reach == "cap":
        return beyond_newest(len(added.contacts))
    return beyond_newest(PAGE) if added.reach == "page" else ""


@dataclass(frozen=True)
class Since:
    """Which customers a read looks for: those with an id above `floor` (None: every customer, the
    campaign held none at the sync). Not `known`: an index synced by a version that did not keep its
    highest customer id, for which the newest PAGE alone are read, as that version read them."""

    floor: int | None
    known: bool = True

    @classmethod
    def sync_of(cls, index: CampaignIndex) -> Since:
        """The customers added since `index`'s last complete pass."""
        if index.synced_through is not None:
            return cls(index.synced_through)
        # A pass that read nobody keeps no id: everyone the campaign holds was added since.
        return cls(None, known=index.synced_contacts == 0)

    def above(self, top: int | None) -> Since:
        """Those of them above `top` too: the customers up to it were read already."""
        if top is None or not self.known:
            return self
        return Since(top if self.floor is None else max(self.floor, top))


@dataclass(frozen=True)
class Added:
    """What a read found: the contacts read, newest first (some at or below its floor: the page that
    reached it), how far it went, and the highest customer id read (None: none)."""

    contacts: list[Contact]
    reach: Reach
    top: int | None


async def read_added(
    ameyo: Ameyo, request: GetContactsRequest, since: Since, held: Held | None = None
) -> Added:
    """The campaign's newest contacts (with `request`'s columns) down to the first at or below
    `since.floor`, at most ADDED_CAP of them; with `held`, at most ADDED_CAP that the index does not
    hold, and READ_CAP in all. The first page is of FIRST_PAGE where there is a floor to reach, the
    next reads on to PAGE, the others are of PAGE. Each page after the first asks for one row before
    its position too, as the sync's pages do: a row not read yet there means contacts above were
    deleted meanwhile, and the read steps back (contacts added meanwhile only repeat rows already
    read). AmeyoError when Ameyo cannot be asked."""
    found: dict[int, Contact] = {}
    lowest: int | None = None
    at = 0
    most = ADDED_CAP if held is None else READ_CAP
    unheld = 0  # contacts read that the index does not hold, of those asked about
    unasked: list[int] = []  # contacts read that `held` was not asked about yet
    # At most this many requests, step-backs included (contacts deleted above the read's position).
    for _ in range(2 * most // PAGE + 1):
        start = max(at - 1, 0)
        # The pages after a small first one end at multiples of PAGE, as they did: the caps count
        # whole pages, and what a read left unread is said in round figures.
        size = FIRST_PAGE if since.known and not at else PAGE - at % PAGE
        limit = size + at - start
        page = await ameyo.get_contacts(
            request.model_copy(
                update={"order_by": "customerId desc", "limit_offset": f"LIMIT {limit} OFFSET {start}"}
            )
        )
        if at and lowest is not None and (not page or page[0].customer_id < lowest):
            at = max(at - PAGE, 0)
            continue
        for contact in page:
            if contact.customer_id not in found:
                unasked.append(contact.customer_id)
            found[contact.customer_id] = contact
        if page:
            least = min(contact.customer_id for contact in page)
            lowest = least if lowest is None else min(lowest, least)
        at = start + len(page)
        reach = _reach(page, limit, lowest, since)
        if reach is None and unheld + len(unasked) >= ADDED_CAP:
            # Asked only now: a read of fewer contacts than the cap costs the store nothing.
            unheld += len(unasked) - (len(await held(unasked)) if held is not None else 0)
            unasked = []
            reach = "cap" if unheld >= ADDED_CAP else None
        if reach is None and len(found) >= most:
            reach = "cap"
        if reach is not None:
            return Added(list(found.values()), reach, max(found, default=None))
    return Added(list(found.values()), "cap", max(found, default=None))


def _reach(page: list[Contact], limit: int, lowest: int | None, since: Since) -> Reach | None:
    """Where a read stops after `page` (None: it goes on, unless a cap stops it)."""
    if len(page) < limit:
        return "campaign"
    if not since.known or any(a.customer_id <= b.customer_id for a, b in pairwise(page)):
        # No bound, or an order not honoured: nothing says where the customers added since end.
        return "page"
    if since.floor is not None and lowest is not None and lowest <= since.floor:
        return "sync"
    return None
