"""Writing the contacts index: a sync's passes and their pages, with the campaign's sync lease;
an upload's contacts between syncs; the lookup keys kept with them."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..errors import StoreError, SyncBusy, SyncLeaseLost
from ..rules.outcomes import UNKNOWN_STATUS
from . import sync_leases
from .backends import Tx
from .connection import Connection
from .contact_rows import (
    column_phones,
    count_changes,
    lock_statuses,
    names_column,
    phone_keys,
    phones_column,
    reverse,
)
from .fold import NAME_RULE, name_words
from .records import ContactRow, SyncLease, SyncPass, to_epoch

# Contacts written together (the ids of a chunk are looked up in one statement, within that limit
# too): a sync's page of 500, and the row before it, in one go.
_WRITE_CHUNK = 900
# Characters of a contact's name kept to show.
_NAME_CAP = 200
# Most customer field names kept of a campaign (a deployment has a few dozen columns); past it,
# none are, and uploads cannot tell a field none of its customers has.
MAX_FIELDS = 200
# A contact's columns as the sync writes them; an indexed contact takes the new values of all but its key.
_CONTACT_ROW = (
    "campaign_id",
    "customer_id",
    "lead_id",
    "phones",
    "names",
    "status",
    "disposition",
    "attempts",
    "dialled_at",
    "seen_pass",
    "name",
)
# The columns of each lookup-key table.
_KEY_COLUMNS = {
    "contact_phones": ("campaign_id", "rkey", "customer_id"),
    "contact_words": ("campaign_id", "word", "customer_id"),
}
_REPLACE_CONTACT = "ON CONFLICT (campaign_id, customer_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _CONTACT_ROW[2:]
)


class ContactWrites(Connection):
    """The store's writes of the contacts index."""

    # -- sync passes -----------------------------------------------------------------------------

    def begin_pass(
        self,
        campaign_id: int,
        *,
        name: str | None = None,
        restart: bool = False,
        now: datetime,
        lease: SyncLease | None = None,
    ) -> SyncPass:
        """Start a full pass over a campaign, or resume the one an interrupted sync left open
        (`restart=True` abandons it and starts afresh). With `lease`, take the campaign's sync lease
        first, in the same transaction: SyncBusy, and nothing begun, while another process holds it."""
        with self._tx() as tx:
            if lease is not None:
                held = sync_leases.take(tx, campaign_id, lease)
                if held is not None:
                    raise SyncBusy(campaign_id, sync_leases.shown(held.holder), held.since)
            self._ensure_campaign(tx, campaign_id, name)
            number, started, cursor = tx.one(
                "SELECT pass_no, pass_started_at, cursor FROM campaigns WHERE campaign_id = ?",
                (campaign_id,),
            )
            if started is not None and not restart:
                return SyncPass(campaign_id, number, cursor, resumed=True)
            number += 1
            # The index's name rule holds over this pass only if the pass before was this version's
            # too: an earlier version's pass left its pages keyed by the rule before (migration 21).
            tx.run(
                "UPDATE campaigns SET pass_no = ?, pass_started_at = ?, cursor = NULL, name_rule_pass = ?, "
                "name_rule = CASE WHEN name_rule_pass = pass_no THEN name_rule END WHERE campaign_id = ?",
                (number, to_epoch(now), number, campaign_id),
            )
            return SyncPass(campaign_id, number, None, resumed=False)

    def save_cursor(self, campaign_id: int, number: int, cursor: str | None) -> None:
        with self._tx() as tx:
            self._set_cursor(tx, campaign_id, number, cursor)

    def load_cursor(self, campaign_id: int) -> str | None:
        """Where the open pass of a campaign stopped; None when there is none or it is at its start."""
        row = self._reading(
            lambda tx: tx.first(
                "SELECT cursor FROM campaigns WHERE campaign_id = ? AND pass_started_at IS NOT NULL",
                (campaign_id,),
            )
        )
        return None if row is None else row[0]

    def finish_pass(
        self,
        campaign_id: int,
        number: int,
        *,
        now: datetime,
        lease: SyncLease | None = None,
        customer_fields: Iterable[str] = (),
        through: int | None = None,
    ) -> int:
        """Close a complete pass: contacts it did not see are gone from Ameyo and are removed, the
        counts by status are kept as of `now`, and the campaign's count of contacts is counted
        afresh from its rows; the `customer_fields` this process saw in it are added to those kept
        (a resumed pass sees only its part), and `through`, the highest customer id the pass read,
        is kept (`CampaignIndex.synced_through`). Returns how many contacts were removed (0 when
        another process syncing the same pass closed it first). With `lease`: SyncLeaseLost, and
        nothing changed, when another process has taken the campaign's sync over."""
        with self._tx() as tx:
            self._renew(tx, campaign_id, lease)
            row = tx.first(
                "SELECT pass_no, pass_started_at, synced_at FROM campaigns WHERE campaign_id = ?",
                (campaign_id,),
            )
            if row is not None and row[0] == number and row[1] is None:
                return 0  # another sync of the same pass finished it first: nothing is left to do
            if row is None or row[0] != number:
                raise StoreError(
                    f"Sync pass {number} of campaign {campaign_id} was replaced by a newer one that "
                    "another sync started meanwhile (--restart); run the sync again if needed"
                )
            first = row[2] is None  # the campaign's first pass: its keys are built below
            stale = tx.all(
                "SELECT customer_id, phones, names FROM contacts WHERE campaign_id = ? AND seen_pass < ?",
                (campaign_id, number),
            )
            self._drop_keys(tx, campaign_id, stale, keys=not first)
            tx.delete_rows(
                "contacts",
                ("campaign_id", "customer_id"),
                [(campaign_id, r[0]) for r in stale],
            )
            if first:
                self._build_keys(tx, campaign_id)
            (total,) = tx.one("SELECT COUNT(*) FROM contacts WHERE campaign_id = ?", (campaign_id,))
            # The count kept page by page can drift (writers at the same moment each counting a
            # contact new): the rows say how many there are.
            kept = tx.first("SELECT fields FROM campaigns WHERE campaign_id = ?", (campaign_id,))
            seen = {*(json.loads(kept[0]) if kept and kept[0] else ()), *customer_fields}
            # More than a deployment has: none kept, rather than some (a cut would drop real ones).
            known = sorted(seen) if len(seen) <= MAX_FIELDS else []
            tx.run(
                "UPDATE campaigns SET pass_started_at = NULL, cursor = NULL, synced_at = ?, "
                "synced_contacts = ?, contacts = ?, fields = ?, synced_through = ?, "
                "name_rule = CASE WHEN name_rule_pass = pass_no THEN ? END WHERE campaign_id = ?",
                (
                    to_epoch(now),
                    total,
                    total,
                    json.dumps(known) if known else None,
                    through,
                    NAME_RULE,
                    campaign_id,
                ),
            )
        # Counted apart, under the campaign's lock: pushes wait for a count, not for the whole
        # pass's end (its removals and keys took seconds at 200,000 contacts).
        with self._tx() as tx:
            lock_statuses(tx, [campaign_id])  # no push's change lands between the count and the clearing
            counts = dict(
                tx.all(
                    f"SELECT COALESCE(status, '{UNKNOWN_STATUS}'), COUNT(*) FROM contacts "
                    f"WHERE campaign_id = ? GROUP BY COALESCE(status, '{UNKNOWN_STATUS}')",
                    (campaign_id,),
                )
            )
            tx.run(
                "UPDATE campaigns SET status_counts = ? WHERE campaign_id = ?",
                (json.dumps(counts, sort_keys=True), campaign_id),
            )
            # The counts just made from the rows hold every change written to them until now.
            tx.run("DELETE FROM status_changes WHERE campaign_id = ?", (campaign_id,))
        if self._open()[1].name == "postgresql":
            # A pass may have loaded a million rows before autovacuum looks: without fresh
            # statistics PostgreSQL hash-joins every word row of a common name.
            with self._tx() as tx:
                tx.run("ANALYZE contacts, contact_words, contact_phones")
        return len(stale)

    def release_sync_lease(self, campaign_id: int, holder: str) -> None:
        """Let the campaign's sync lease go, if `holder` still has it."""
        with self._tx(durable=False) as tx:
            sync_leases.release(tx, campaign_id, holder)

    def sync_lease(self, campaign_id: int) -> sync_leases.LeaseHeld | None:
        """Who holds the campaign's sync lease (it may have run out)."""
        return self._reading(lambda tx: sync_leases.held(tx, campaign_id))

    def _renew(self, tx: Tx, campaign_id: int, lease: SyncLease | None) -> None:
        if lease is not None and not sync_leases.renew(tx, campaign_id, lease):
            held = sync_leases.held(tx, campaign_id)
            who = f" ({sync_leases.shown(held.holder)})" if held is not None else ""
            raise SyncLeaseLost(
                f"The sync of campaign {campaign_id} stopped: another process{who} took it over after "
                "this one went longer than its lease without a page"
            )

    # -- contacts --------------------------------------------------------------------------------

    def upsert_contacts(
        self,
        campaign_id: int,
        rows: Iterable[ContactRow],
        *,
        pass_number: int | None = None,
        cursor: str | None = None,
        campaign_name: str | None = None,
        durable: bool = True,
        lease: SyncLease | None = None,
        read_at: datetime | None = None,
    ) -> int:
        """Add or replace contacts of a campaign, in one transaction, and (with `cursor`) move the
        open pass's resume point with them. Without `pass_number` they count as seen by the
        campaign's current pass (an upload between syncs). Returns how many were new. With `lease`
        (a sync's page), the campaign's sync lease is renewed in the same transaction: SyncLeaseLost,
        and nothing written, when another process has taken the sync over.

        `read_at`: when the rows' call outcomes (status, disposition, attempts, last dial) were read
        (None: now). A contact's outcome that a push recorded since stays: it is newer.

        `durable=False` (a sync's pages) skips the disk flush of each commit on SQLite: a power cut
        may lose the last pages, and their cursor with them, so the sync reads them again."""
        read = time.time() if read_at is None else read_at.timestamp()
        with self._tx(durable=durable) as tx:
            return self._upsert(tx, campaign_id, rows, pass_number, cursor, campaign_name, lease, read)

    def keep_added(
        self,
        campaign_id: int,
        rows: Iterable[ContactRow],
        *,
        above: int | None,
        through: int,
        read_at: datetime,
    ) -> bool:
        """The customers a read of those added since the sync found (`index.catch_up`): every one
        above `above` (None: the campaign's every one) up to `through`, written as an upload's are,
        seen by the campaign's current pass (a pass under way, which may end before them, keeps them).
        The campaign's bound (`synced_through`) is raised to `through` when every customer up to it
        is then in the index: when the bound is at least `above` (those up to it are). Never lowered.
        Nothing is written when the campaign has no synced index. Whether the bound was raised.
        `read_at`: when the read began, as `upsert_contacts` takes it.

        Not durable (as a sync's page): a power cut may lose it, and the next read reads them again."""
        with self._tx(durable=False) as tx:
            lock_statuses(tx, [campaign_id])
            row = tx.first("SELECT synced_at FROM campaigns WHERE campaign_id = ?", (campaign_id,))
            if row is None or row[0] is None:
                return False
            self._upsert(tx, campaign_id, rows, None, None, None, None, read_at.timestamp())
            # One statement, its conditions read with the row it changes: a sync's end and another
            # read's raise, here or in another process, come before or after it, never between.
            if above is None:
                tx.run(
                    "UPDATE campaigns SET synced_through = ? WHERE campaign_id = ? "
                    "AND (synced_through IS NULL OR synced_through < ?)",
                    (through, campaign_id, through),
                )
            else:
                tx.run(
                    "UPDATE campaigns SET synced_through = ? WHERE campaign_id = ? "
                    "AND synced_through >= ? AND synced_through < ?",
                    (through, campaign_id, above, through),
                )
            return bool(tx.cur.rowcount)

    def _upsert(
        self,
        tx: Tx,
        campaign_id: int,
        rows: Iterable[ContactRow],
        pass_number: int | None,
        cursor: str | None,
        campaign_name: str | None,
        lease: SyncLease | None,
        read_at: float,
    ) -> int:
        """`upsert_contacts` within `tx` (`read_at` in seconds since the epoch)."""
        latest: dict[int, ContactRow] = {}
        for row in rows:
            latest[row.customer_id] = row
        lock_statuses(tx, [campaign_id])  # (again, for `keep_added`: a transaction's lock is its own)
        self._renew(tx, campaign_id, lease)
        if pass_number is None:
            self._ensure_campaign(tx, campaign_id, campaign_name)
        number, synced_at = tx.one(
            "SELECT pass_no, synced_at FROM campaigns WHERE campaign_id = ?", (campaign_id,)
        )
        # The pages of a campaign's first pass write no keys: `finish_pass` builds them at once.
        keys = pass_number is None or synced_at is not None or pass_number != number
        # Every change of a status is counted as it is written, a sync's page's as an upload's:
        # the counts then agree with the rows while a pass is open (its end counts them afresh).
        changes: Counter[str] = Counter()
        if pass_number is None:
            pass_number = number
        new = 0
        items = list(latest.values())
        for start in range(0, len(items), _WRITE_CHUNK):
            chunk = items[start : start + _WRITE_CHUNK]
            new += self._upsert_chunk(
                tx, campaign_id, chunk, pass_number, read_at, keys=keys, changes=changes
            )
        if changes:
            count_changes(tx, {campaign_id: changes})
        if new:
            tx.run("UPDATE campaigns SET contacts = contacts + ? WHERE campaign_id = ?", (new, campaign_id))
        if cursor is not None:
            self._set_cursor(tx, campaign_id, pass_number, cursor)
        return new

    def _upsert_chunk(
        self,
        tx: Tx,
        campaign_id: int,
        items: list[ContactRow],
        number: int,
        read_at: float,
        *,
        keys: bool,
        changes: Counter[str],
    ) -> int:
        """Write contacts; with `keys`, also the lookup keys that changed (a first pass leaves them
        to `_build_keys`). Adds to `changes` how the counts by status change (`count_changes`). The
        rows read here are those the write replaces, the campaign's statuses being locked (no push
        lands before the write): a contact's call outcome that a push recorded since `read_at` is
        written back as it is held, with its stamp left as it was for a later read to find."""
        among, ids = tx.among("customer_id", [i.customer_id for i in items])
        old = {
            r[0]: r[1:]
            for r in tx.all(
                "SELECT customer_id, phones, names, status, status_at, dialled_at, disposition, attempts "
                f"FROM contacts WHERE campaign_id = ? AND {among}",
                (campaign_id, *ids),
            )
        }
        # The call outcome each keeps, by customer: (status, disposition, attempts, last dial).
        kept: dict[int, tuple[Any, ...]] = {}
        for item in items:
            earlier = old.get(item.customer_id)
            if earlier is None:
                changes[item.status or UNKNOWN_STATUS] += 1
            elif _held_is_newer(earlier[3], earlier[4], read_at, to_epoch(item.dialled_at)):
                kept[item.customer_id] = (earlier[2], earlier[5], earlier[6], earlier[4])
            elif earlier[2] != item.status:
                changes[item.status or UNKNOWN_STATUS] += 1
                changes[earlier[2] or UNKNOWN_STATUS] -= 1
        drop_phones: list[tuple[int, str, int]] = []
        add_phones: list[tuple[int, str, int]] = []
        drop_words: list[tuple[int, str, int]] = []
        add_words: list[tuple[int, str, int]] = []
        values: list[tuple[Any, ...]] = []
        for item in items:
            cid = item.customer_id
            phones = phone_keys(item.phones)
            words = name_words(*item.names)
            phones_text, names_text = phones_column(phones), names_column(words)
            before = old.get(cid) if keys else None
            if keys and (before is None or before[0] != phones_text):
                had = set(column_phones(before[0])) if before else set()
                drop_phones += [(campaign_id, reverse(p), cid) for p in had - set(phones)]
                add_phones += [(campaign_id, reverse(p), cid) for p in phones if p not in had]
            if keys and (before is None or before[1] != names_text):
                had_words = set(before[1].split()) if before else set()
                drop_words += [(campaign_id, w, cid) for w in had_words - set(words)]
                add_words += [(campaign_id, w, cid) for w in words if w not in had_words]
            values.append(
                (
                    campaign_id,
                    cid,
                    item.lead_id,
                    phones_text,
                    names_text,
                    *kept.get(cid, (item.status, item.disposition, item.attempts, to_epoch(item.dialled_at))),
                    number,
                    item.name[:_NAME_CAP] if item.name else None,
                )
            )
        for table, drop, add in (
            ("contact_phones", drop_phones, add_phones),
            ("contact_words", drop_words, add_words),
        ):
            tx.delete_rows(table, _KEY_COLUMNS[table], drop)
            tx.insert_rows(table, _KEY_COLUMNS[table], add, "ON CONFLICT DO NOTHING")
        tx.insert_rows("contacts", _CONTACT_ROW, values, _REPLACE_CONTACT)
        return len(items) - len(old)

    def _build_keys(self, tx: Tx, campaign_id: int) -> None:
        """The lookup keys of a campaign, made afresh from its contacts and added in key order.

        A first pass leaves them out: added a page at a time, every phone key lands on a random
        page of the key b-tree, which at a million contacts cost three times the rest of the
        page's write. Made here by the database from the contacts' own columns (whose words are
        the keys as the key tables hold them) and sorted, they are appended instead (about 3 s
        for a million contacts)."""
        for table, column, source, key in (
            ("contact_phones", "rkey", "c.phones", "j.value"),
            ("contact_words", "word", "c.names", "j.value"),
        ):
            tx.run(f"DELETE FROM {table} WHERE campaign_id = ?", (campaign_id,))
            tx.run(
                f"INSERT INTO {table} (campaign_id, {column}, customer_id) "
                f"SELECT c.campaign_id, {key}, c.customer_id FROM contacts c "
                f"CROSS JOIN {tx.dialect.words_of.format(source)} "
                f"WHERE c.campaign_id = ? AND {source} <> '' AND j.value <> '' "
                "ORDER BY 2, 3 ON CONFLICT DO NOTHING",
                (campaign_id,),
            )

    def _ensure_campaign(self, tx: Tx, campaign_id: int, name: str | None) -> None:
        tx.run(
            "INSERT INTO campaigns (campaign_id, name, contacts) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
            (campaign_id, name),
        )
        if name is not None:
            tx.run("UPDATE campaigns SET name = ? WHERE campaign_id = ?", (name, campaign_id))

    def _set_cursor(self, tx: Tx, campaign_id: int, number: int, cursor: str | None) -> None:
        tx.run(
            "UPDATE campaigns SET cursor = ? WHERE campaign_id = ? AND pass_no = ? "
            "AND pass_started_at IS NOT NULL",
            (cursor, campaign_id, number),
        )

    def _drop_keys(
        self, tx: Tx, campaign_id: int, rows: Sequence[Sequence[Any]], *, keys: bool = True
    ) -> None:
        if keys:
            tx.delete_rows(
                "contact_phones",
                _KEY_COLUMNS["contact_phones"],
                [(campaign_id, reverse(p), r[0]) for r in rows for p in column_phones(r[1])],
            )
            tx.delete_rows(
                "contact_words",
                _KEY_COLUMNS["contact_words"],
                [(campaign_id, w, r[0]) for r in rows for w in r[2].split()],
            )
        if rows:
            tx.run(
                "UPDATE campaigns SET contacts = contacts - ? WHERE campaign_id = ?", (len(rows), campaign_id)
            )


def _held_is_newer(
    held_at: float | None, held_dial: int | None, read_at: float, read_dial: int | None
) -> bool:
    """Whether the call outcome the index holds stays over one read at `read_at`: a push recorded
    it at `held_at` (None: no push since this version), at or after the read, of a call no older
    than the last dial the read holds (`read_dial`). A late push of an earlier call is newer to the
    index only: Ameyo had the later call when it was read."""
    return (
        held_at is not None
        and held_at >= read_at
        and (read_dial is None or (held_dial is not None and held_dial >= read_dial))
    )
