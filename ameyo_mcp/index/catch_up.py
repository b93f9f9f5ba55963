"""A read of the customers added since the sync (`added`) that got down to the index's bound, kept:
its customers written into the campaign's index and the bound (`synced_through`) raised over them,
so that the next read goes down to them only. Without it every lookup and every do-not-call check
read again every page above the bound until the next sync, and the customers this server uploads
are above it (after a file of 20,000 rows: 20 pages a check, then a note that the rest went
unchecked, to sync again).

The index must never drop or miss a customer for it: the bound is raised only where every customer
up to it is then in the index (`Store.keep_added`), the rows count as seen by the pass under way, if
any, so its end keeps them, and a pass's end sets the bound to what it read. A failure to write costs
the next read only: the lookup or check goes on with what it read.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from ..ameyo.columns import index_columns
from ..errors import StoreError, SyncError
from .added import Added, Since, read_added

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence

    from ..ameyo.models import Contact, GetContactsRequest
    from ..ameyo.service import Ameyo
    from ..config import Settings
    from ..store import Store

log = logging.getLogger(__name__)


async def read_keeping(ameyo: Ameyo, store: Store | None, request: GetContactsRequest, since: Since) -> Added:
    """`read_added` of the campaign of `request`, kept in the index of `store` when it read every
    customer down to `since` (or the whole campaign). A read of some leads, or some customers, reads
    as before: it says nothing of the others."""
    if store is None or request.lead_ids or request.choose_enabled_leads or request.customer_ids:
        return await read_added(ameyo, request, since)
    campaign_id = request.campaign_id
    # The index's columns whatever the caller asked for: the rows are made from this read.
    asked = request.model_copy(update={"other_columns": {**(request.other_columns or {}), **index_columns()}})

    # Before the first page: every row read is as of then or later (`Store.keep_added`).
    read_at = datetime.now(UTC)

    async def held(ids: Sequence[int]) -> Collection[int]:
        try:
            return await anyio.to_thread.run_sync(store.held_ids, campaign_id, ids)
        except (StoreError, OSError):
            return ()  # counted as not held: the read stops at ADDED_CAP, as without an index

    added = await read_added(ameyo, asked, since, held)
    if added.reach in ("sync", "campaign"):
        await _keep(ameyo.settings, store, campaign_id, added, since, read_at)
    return added


async def _keep(
    settings: Settings, store: Store, campaign_id: int, added: Added, since: Since, read_at: datetime
) -> None:
    # Those at or below the floor are in the index already, unless a run's floor (`held.NewestSeen`)
    # is above the index's bound: then the bound stays (`keep_added`). A read that found nobody
    # added writes nothing (most lookups and checks).
    fresh = [c for c in added.contacts if since.floor is None or c.customer_id > since.floor]
    if not fresh:
        return
    through = max(c.customer_id for c in fresh)

    def write() -> bool:
        from .sync import contact_rows  # with the store: on the first write, not at start-up

        rows = contact_rows([_as_sent(c) for c in fresh], settings)
        return store.keep_added(campaign_id, rows, above=since.floor, through=through, read_at=read_at)

    try:
        await anyio.to_thread.run_sync(write)
    except (StoreError, OSError, SyncError) as exc:
        log.info(
            "The customers added since campaign %s's sync were not kept in its index: %s", campaign_id, exc
        )


def _as_sent(contact: Contact) -> dict[str, object]:
    """A contact as getContacts sent it, which `sync.contact_rows` reads."""
    return {
        "customerId": contact.customer_id,
        "leadId": contact.lead_id,
        "customerData": contact.customer_data,
        "extraData": contact.extra_data,
    }
