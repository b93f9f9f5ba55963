"""The write ledger's SQL: one row per key a write claims (its identity, and each callback it
schedules), shared by every tool, process and replica on the store.

A claim runs in one transaction that only one claimant can win: SQLite's `BEGIN IMMEDIATE` and, on
PostgreSQL, one advisory lock taken for the transaction, serialise claimants, so looking at the
keys and inserting them cannot interleave. Rows say who sent the write (`owner`) and until when
that owner vouches for it (`lease_until`); a row in flight whose owner is gone becomes an unknown
outcome, never a free key. The rows hold what a person needs to reconcile (the label, the call id,
where a file batch came from, the answer of a small write), nothing secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import _Tx

FLIGHT, ANSWERED, UNKNOWN = "flight", "answered", "unknown"
# PostgreSQL: the advisory lock every claim takes (the migrations use 7110451211).
_CLAIM_LOCK = 7110451212
_COLUMNS = (
    "key, write_id, state, owner, claimed_at, lease_until, settled_at, hold_until, call_id, label, "
    "note, answer, context"
)
_CHUNK = 400  # bound parameters per statement, under SQLite's oldest limit
ORPHANED = (
    "the process that sent it stopped, or did not settle it within its lease, before Ameyo's answer was "
    "recorded"
)


@dataclass(frozen=True)
class LedgerEntry:
    """One claimed key: what holds it, and since when."""

    key: str
    write_id: str  # the identity of the write that claimed it
    state: str  # flight | answered | unknown
    owner: str
    claimed_at: float
    lease_until: float
    settled_at: float | None
    hold_until: float | None  # a settled key stops standing in the way after this
    call_id: str
    label: str
    note: str
    answer: list[Any] | None
    context: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """A claim's outcome: won, or the entry that stands in the way (in flight, or settled)."""

    won: bool
    blocking: LedgerEntry | None = None
    # Numbers the write would send in another spelling than an earlier upload (committed first)
    # sent them in: phones.identity → that spelling. The write is planned again with them.
    respell: dict[str, str] | None = None


@dataclass(frozen=True)
class Settlement:
    """How a claimed write ended: `state` None when it was never sent (its keys are released)."""

    state: str | None
    note: str = ""
    answer: list[Any] | None = None
    # Each key's hold: until when it keeps standing in the way of the same write.
    holds: dict[str, float] | None = None


def claim(
    tx: _Tx,
    keys: Sequence[str],
    *,
    write_id: str,
    owner: str,
    now: float,
    lease_s: float,
    call_id: str,
    label: str,
    context: dict[str, Any],
    allow_repeat: bool,
    alive: Callable[[str], bool],
    orphan_hold_s: float,
    numbers: Sequence[tuple[str, int, str, str]] = (),
) -> Claim:
    """Claim `keys` for one write, or say what holds one of them. The write's own identity comes
    first in `keys`, so a settled copy of the same write is what a repeat is answered from."""
    if tx.dialect.name == "postgresql":
        tx.run("SELECT pg_advisory_xact_lock(?)", (_CLAIM_LOCK,))
    found = {e.key: e for e in _entries(tx, keys)}
    for key in keys:
        entry = found.get(key)
        if entry is None:
            continue
        if entry.state == FLIGHT:
            if entry.lease_until > now and alive(entry.owner):
                return Claim(False, entry)
            entry = _orphaned(tx, entry, now, orphan_hold_s)
        if entry.hold_until is not None and entry.hold_until <= now:
            continue  # settled long enough ago to be forgotten: the key is free
        if not allow_repeat:
            return Claim(False, entry)
    if numbers:
        # Looked at in the claim's own transaction: two uploads of one new person in two spellings
        # at the same moment are serialised here, and the second is told the first's spelling.
        server, campaign_id = numbers[0][0], numbers[0][1]
        held = spellings(tx, server, campaign_id, [n[2] for n in numbers])
        respell = {n[2]: held[n[2]] for n in numbers if held.get(n[2], n[3]) != n[3]}
        if respell:
            return Claim(False, respell=respell)
    row = (
        FLIGHT,
        owner,
        now,
        now + lease_s,
        call_id,
        label,
        json.dumps(context, default=str) if context else None,
    )
    tx.many(
        "INSERT INTO write_ledger (key, write_id, state, owner, claimed_at, lease_until, call_id, label, "
        "context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
        "write_id = excluded.write_id, state = excluded.state, owner = excluded.owner, "
        "claimed_at = excluded.claimed_at, lease_until = excluded.lease_until, settled_at = NULL, "
        "hold_until = NULL, call_id = excluded.call_id, label = excluded.label, note = NULL, "
        "answer = NULL, context = excluded.context",
        [(key, write_id, *row) for key in dict.fromkeys(keys)],
    )
    # The first spelling sent of a number stays the one to send: Ameyo holds that one.
    tx.many(
        "INSERT INTO customer_numbers (server, campaign_id, identity, spelling, at, write_id) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(*number, now, write_id) for number in numbers],
    )
    return Claim(True)


def spellings(tx: _Tx, server: str, campaign_id: int, identities: Sequence[str]) -> dict[str, str]:
    """phone1 as earlier uploads to the campaign sent it, by number."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(identities))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found.update(
            tx.all(
                "SELECT identity, spelling FROM customer_numbers WHERE server = ? AND campaign_id = ? "
                f"AND identity IN ({marks})",
                (server, campaign_id, *chunk),
            )
        )
    return found


def settle(tx: _Tx, keys: Sequence[str], *, write_id: str, owner: str, now: float, how: Settlement) -> None:
    """Record how the write that claimed `keys` ended (only rows it still holds are touched)."""
    if how.state is None:
        tx.many(
            "DELETE FROM write_ledger WHERE key = ? AND write_id = ? AND owner = ? AND state = ?",
            [(key, write_id, owner, FLIGHT) for key in keys],
        )
        # Never sent: the spellings it was first to claim are not what Ameyo holds.
        tx.run("DELETE FROM customer_numbers WHERE write_id = ?", (write_id,))
        return
    answer = json.dumps(how.answer, default=str) if how.answer is not None else None
    holds = how.holds or {}
    # Only rows this sender still holds: a key taken over meanwhile (allow_repeat, after this write
    # was found orphaned) is its new sender's to settle.
    tx.many(
        "UPDATE write_ledger SET state = ?, settled_at = ?, hold_until = ?, note = ?, answer = ? "
        "WHERE key = ? AND write_id = ? AND owner = ?",
        [(how.state, now, holds.get(key), how.note or None, answer, key, write_id, owner) for key in keys],
    )


def entries(tx: _Tx, keys: Sequence[str]) -> list[LedgerEntry]:
    return _entries(tx, keys)


def unknown(tx: _Tx, *, limit: int) -> list[LedgerEntry]:
    """Writes whose outcome is unknown, newest first: one row per write (its identity's)."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM write_ledger WHERE state = ? AND key = write_id "
        "ORDER BY claimed_at DESC LIMIT ?",
        (UNKNOWN, limit),
    )
    return [_entry(r) for r in rows]


def prune(tx: _Tx, *, before: float, tokens_before: float) -> int:
    """Forget writes settled before `before`, and tokens made before `tokens_before`; rows in
    flight stay until they are settled."""
    tx.run("DELETE FROM write_ledger WHERE state <> ? AND settled_at < ?", (FLIGHT, before))
    pruned = tx.rowcount
    tx.run("DELETE FROM confirm_tokens WHERE made_at < ?", (tokens_before,))
    tx.run("DELETE FROM customer_numbers WHERE at < ?", (before,))
    return pruned


def add_token(tx: _Tx, digest: str, write_id: str, now: float) -> None:
    """A dry run's token, kept as its digest only: any process on the store accepts it."""
    tx.run(
        "INSERT INTO confirm_tokens (digest, write_id, made_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (digest, write_id, now),
    )


def token_fits(tx: _Tx, digest: str, write_id: str, since: float) -> bool:
    row = tx.first("SELECT write_id, made_at FROM confirm_tokens WHERE digest = ?", (digest,))
    return row is not None and row[0] == write_id and float(row[1]) >= since


def _orphaned(tx: _Tx, entry: LedgerEntry, now: float, hold_s: float) -> LedgerEntry:
    """A write in flight whose owner is gone: its outcome is unknown, for every key it holds."""
    tx.run(
        "UPDATE write_ledger SET state = ?, settled_at = ?, hold_until = ?, note = ? "
        "WHERE write_id = ? AND state = ?",
        (UNKNOWN, now, now + hold_s, ORPHANED, entry.write_id, FLIGHT),
    )
    return replace(entry, state=UNKNOWN, settled_at=now, hold_until=now + hold_s, note=ORPHANED)


def _entries(tx: _Tx, keys: Sequence[str]) -> list[LedgerEntry]:
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    rows = tx.all(f"SELECT {_COLUMNS} FROM write_ledger WHERE key IN ({marks})", tuple(keys))
    return [_entry(r) for r in rows]


def _entry(row: Sequence[Any]) -> LedgerEntry:
    return LedgerEntry(
        key=row[0],
        write_id=row[1],
        state=row[2],
        owner=row[3],
        claimed_at=float(row[4]),
        lease_until=float(row[5]),
        settled_at=None if row[6] is None else float(row[6]),
        hold_until=None if row[7] is None else float(row[7]),
        call_id=row[8] or "",
        label=row[9] or "",
        note=row[10] or "",
        answer=json.loads(row[11]) if row[11] else None,
        context=json.loads(row[12]) if row[12] else {},
    )
