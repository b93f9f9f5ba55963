"""The sync leases' SQL: one row per campaign naming the process that syncs it, and until when.

A sync takes its campaign's lease in the transaction that opens (or resumes) its pass, renews it in
the transaction of every page, checks it in the one that closes the pass, and lets it go at the end.
Taking it runs in a transaction only one taker wins: SQLite's `BEGIN IMMEDIATE` and, on PostgreSQL,
an advisory lock taken for the transaction. A lease whose `until` has passed, or whose holder's
process is gone (seen on its own host), is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends import Tx
    from .records import SyncLease

# PostgreSQL: the advisory lock every take holds (the migrations use 7110451211, the ledger ...212).
_TAKE_LOCK = 7110451213


@dataclass(frozen=True)
class LeaseHeld:
    """Who holds a campaign's lease (an owner name, see rules/owners.py), since and until when (seconds
    since the epoch)."""

    holder: str
    since: float
    until: float


def take(tx: Tx, campaign_id: int, lease: SyncLease) -> LeaseHeld | None:
    """Take the campaign's lease for `lease.holder` (or keep it: the since stays); None when it is
    this holder's now, else who holds it."""
    now = lease.clock()
    if tx.dialect.name == "postgresql":
        tx.run("SELECT pg_advisory_xact_lock(?)", (_TAKE_LOCK,))
    found = held(tx, campaign_id)
    if found is None:
        tx.run(
            "INSERT INTO sync_leases (campaign_id, holder, since, until) VALUES (?, ?, ?, ?)",
            (campaign_id, lease.holder, now, now + lease.lease_s),
        )
        return None
    if found.holder != lease.holder and found.until > now and lease.alive(found.holder):
        return found
    since = found.since if found.holder == lease.holder else now
    tx.run(
        "UPDATE sync_leases SET holder = ?, since = ?, until = ? WHERE campaign_id = ?",
        (lease.holder, since, now + lease.lease_s, campaign_id),
    )
    return None


def renew(tx: Tx, campaign_id: int, lease: SyncLease) -> bool:
    """Extend the lease by `lease.lease_s` from now; False when another holder has it now."""
    tx.run(
        "UPDATE sync_leases SET until = ? WHERE campaign_id = ? AND holder = ?",
        (lease.clock() + lease.lease_s, campaign_id, lease.holder),
    )
    return tx.rowcount == 1


def release(tx: Tx, campaign_id: int, holder: str) -> None:
    tx.run("DELETE FROM sync_leases WHERE campaign_id = ? AND holder = ?", (campaign_id, holder))


def held(tx: Tx, campaign_id: int) -> LeaseHeld | None:
    row = tx.first("SELECT holder, since, until FROM sync_leases WHERE campaign_id = ?", (campaign_id,))
    return None if row is None else LeaseHeld(str(row[0]), float(row[1]), float(row[2]))


def shown(holder: str) -> str:
    """An owner name as people name a process: `host:pid`."""
    machine, _, rest = holder.partition(":")
    return f"{machine.split('/')[0]}:{rest.partition(':')[0]}"
