"""The store: the contacts index and the call history, the only code that speaks SQL.

SQLite by default (a file in the state folder, owner-only, WAL), PostgreSQL when
`AMEYO_DATABASE_URL=postgresql://…` (`pip install 'ameyo-mcp[postgres]'`). Nothing is imported or
opened until the first call, and the schema is migrated forward then. The store holds nothing
secret in clear: no password or token is ever passed to it, and the shared Ameyo session (the
session lease, `lease.py`) reaches it only sealed by the ameyo layer.

    store = open_store(settings)            # or Store("sqlite:///path.db" | "postgresql://…")

The contacts index, per campaign (phone keys come from the phone rule, `phones.key`; names are
folded here, case and accents ignored):

    begin_pass(campaign_id, name=, restart=False, now=) -> SyncPass   # new pass, or the open one
    upsert_contacts(campaign_id, rows: Iterable[ContactRow], pass_number=, cursor=, campaign_name=,
                    read_at=) -> int new   # one transaction: the page and the resume cursor together;
                                           # a call outcome pushed since `read_at` stays (it is newer)
    save_cursor(campaign_id, pass_number, cursor) / load_cursor(campaign_id) -> str | None
    finish_pass(campaign_id, pass_number, now=, through=) -> int removed   # contacts the pass did
                                           # not see go; the campaign's count is counted afresh from
                                           # its rows; `through`: the highest customer id it read
    # With `lease=SyncLease(...)`, begin_pass takes the campaign's sync lease (SyncBusy when another
    # process holds it), upsert_contacts renews it and finish_pass checks it (SyncLeaseLost):
    release_sync_lease(campaign_id, holder) / sync_lease(campaign_id) -> LeaseHeld | None
    keep_added(campaign_id, rows, above=, through=, read_at=) -> bool   # a live read of those added
                                           # since the sync: written, and the bound raised to `through` when
                                           # every customer up to it is then held (never lowered)
    held_ids(campaign_id, customer_ids) -> set[int]   # which of them the index holds
    contact(campaign_id, customer_id) -> IndexedContact | None
    contacts(campaign_id, after=None, limit=1000) -> list[IndexedContact]   # by customer id, paged
    find_by_phone(campaign_id, key, limit=20) -> list[IndexedContact]       # whole key, indexed
    find_by_tail(campaign_id, digits, limit=20) -> list[IndexedContact]     # last digits, indexed
    search_names(campaign_id, text, limit=20, contains=False) -> list[IndexedContact]
    campaign(campaign_id) -> CampaignIndex | None; campaigns() -> list[CampaignIndex]
        # contacts now, last complete pass (synced_at), counts by status as of it (no status:
        # "UNKNOWN"), the open pass and its cursor
    status_counts(campaign_id) -> {status: n}   # as of the sync, with the changes pushed calls and
                                           # uploads made since (a pushed call's status and
                                           # disposition update its indexed contact)

Upserts without `pass_number` (an upload between syncs) count as seen by the current pass. The
call history (pushed by Ameyo):

    add_call(event: CallEvent) -> bool     # False: the same call and outcome were already kept
    call_history(CallQuery(...)) -> CallHistory   # newest first up to a limit; counts by outcome
    calls_held() -> (oldest, newest) | None   # the span the history holds
    agents(CallQuery(...)) -> [(agent, calls)]   # who the query's calls were by, whatever its agent
    last_call(customer_id, campaign_id=None) -> StoredCall | None
    day_tallies(since, until) -> DayTally  # in all, by outcome, by campaign, hour by hour
    prune_calls(older_than_days=, now=) -> int
    call_marker(since) -> (count, newest row id)   # changes when a call of that time is stored
    calls_changed(wait_s) -> bool          # stored by any process since the last look (a store of its
                                           # own: PostgreSQL LISTEN waits, SQLite's data version is read)

The operator page's sign-outs (`sign_outs.py`: a digest of a cookie's id, never the cookie):

    revoke_page_cookie(digest, expires=, now=)   # refused by every process until it expires
    page_cookie_revoked(digest) -> bool

The calls are counted as they are stored (`tally.py`: by quarter hour, campaign and disposition),
so that today's figures, the call marker and a day's tallies read a day's counts, never its calls;
each hot read has an index in its own order (see `schema.py`, migration 7), whatever the
statistics say. `explain.explaining()` shows how the database runs the store's reads.

Every method is synchronous and thread-safe; async code calls them through a worker thread
(`anyio.to_thread.run_sync`). Times are aware datetimes in, aware UTC datetimes out, whole seconds.
Every failure of the database is a `StoreError` (`ameyo_mcp.errors`), with a message that says
what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .core import Store
from .fold import NAME_RULE, fold_words, keyed_otherwise, name_words, without_apostrophes
from .records import (
    CallEvent,
    CallHistory,
    CallQuery,
    CampaignIndex,
    ContactQuery,
    ContactRow,
    DayTally,
    HourTally,
    IndexedContact,
    StoredCall,
    SyncLease,
    SyncPass,
)

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "NAME_RULE",
    "CallEvent",
    "CallHistory",
    "CallQuery",
    "CampaignIndex",
    "ContactQuery",
    "ContactRow",
    "DayTally",
    "HourTally",
    "IndexedContact",
    "Store",
    "StoredCall",
    "SyncLease",
    "SyncPass",
    "fold_words",
    "keyed_otherwise",
    "name_words",
    "open_store",
    "without_apostrophes",
]


def open_store(settings: Settings) -> Store:
    """The store the settings name; opened on first use."""
    return Store(settings.resolved_database_url())
