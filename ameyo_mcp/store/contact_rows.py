"""A contact's row in the index as every part of the store writes and reads it: its phone keys and
name words as its columns keep them, reading rows back, finding contacts by (campaign, customer),
and the counts by status that every change of a status adds to."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

from .backends import Tx
from .records import IndexedContact, from_epoch

# SQLite's limit on bound parameters is 32766 since 3.32 but 999 before: stay under both.
PARAMETERS = 999
CHUNK = 400
# PostgreSQL's advisory locks of the counts by status: this space, and the campaign's id.
_STATUS_LOCK_SPACE = 711045
# The columns of `contacts` an IndexedContact is read from, each named as its field.
CONTACT_FIELDS = tuple(f.name for f in fields(IndexedContact))
CONTACT_COLUMNS = ", ".join(f"c.{name}" for name in CONTACT_FIELDS)


def reverse(key: str) -> str:
    return key[::-1]


def phones_column(keys: Sequence[str]) -> str:
    """A contact's phone keys as its `phones` column keeps them: the space-separated keys, the whole
    text reversed, so that each word is a key as `contact_phones` holds it (see `_build_keys`)."""
    return " ".join(keys)[::-1]


def column_phones(text: str | None) -> list[str]:
    """The phone keys of a `phones` column, in their order."""
    return (text or "")[::-1].split()


def phone_keys(phones: Sequence[str]) -> list[str]:
    """The phone keys a contact's column keeps, once each: ASCII without spaces, quotes or
    backslashes (the phone rule's keys are digits), so that `_build_keys` can split the column."""
    if len(phones) == 1:
        # A contact's one number, the usual case: the same test without a dictionary.
        (p,) = phones
        if p.isdigit() and p.isascii():
            return [p]
    return [
        p
        for p in dict.fromkeys(phones)
        if p and p.isascii() and (p.isdigit() or (p.isprintable() and _SAFE_KEY(p)))
    ]


_SAFE_KEY = re.compile(r'[^\s"\\]+').fullmatch


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds of the keys that start with `prefix`, in byte order: [prefix, next)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def names_column(words: Sequence[str]) -> str:
    # Spaces around every word, so that "a word starts with x" is LIKE '% x%'.
    return " " + " ".join(words) + " " if words else ""


def contacts_at(
    tx: Tx, pairs: Sequence[tuple[int, int]], columns: str
) -> dict[tuple[int, int], tuple[Any, ...]]:
    """`columns` of the indexed contacts at (campaign, customer) `pairs`, by pair: one statement a
    chunk, each pair an index lookup."""
    found: dict[tuple[int, int], tuple[Any, ...]] = {}
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        listed = ", ".join(["(?, ?)"] * len(chunk))
        for row in tx.all(
            f"SELECT campaign_id, customer_id, {columns} FROM contacts "
            f"WHERE (campaign_id, customer_id) IN (VALUES {listed})",
            [value for pair in chunk for value in pair],
        ):
            found[(int(row[0]), int(row[1]))] = tuple(row[2:])
    return found


def lock_statuses(tx: Tx, campaign_ids: Iterable[int]) -> None:
    """The campaigns' indexed contacts and counts by status to this transaction alone until it ends,
    taken before it touches a contact: a push, a sync's page or an upload reads a status and counts
    its change from it, and a sync's end counts the rows and clears the changes. PostgreSQL's own
    lock, in campaign order; a writing SQLite transaction has the whole database to itself."""
    if tx.dialect.name == "postgresql":
        for campaign_id in sorted(set(campaign_ids)):
            tx.run(
                "SELECT pg_advisory_xact_lock(?::int, ?::int)", (_STATUS_LOCK_SPACE, campaign_id & 0x7FFFFFFF)
            )


def count_changes(tx: Tx, changes: Mapping[int, Counter[str]]) -> None:
    """Add to the campaigns' counts by status since their last sync (`status_changes`): one row a
    campaign and status, added to in place, so that writers at the same moment lose none."""
    rows = [(c, status, n) for c, counts in changes.items() for status, n in counts.items() if n]
    tx.many(
        "INSERT INTO status_changes (campaign_id, status, n) VALUES (?, ?, ?) "
        "ON CONFLICT (campaign_id, status) DO UPDATE SET n = status_changes.n + excluded.n",
        rows,
    )


def unique_contacts(rows: Iterable[tuple[Any, ...]], limit: int) -> list[IndexedContact]:
    seen: dict[tuple[int, int], IndexedContact] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in seen:
            seen[key] = contact_of(row)
            if len(seen) >= limit:
                break
    return sorted(seen.values(), key=lambda c: c.customer_id)


def contact_of(row: tuple[Any, ...]) -> IndexedContact:
    """A row of `CONTACT_COLUMNS` read back: the columns by name into the contact's fields."""
    contact = dict(zip(CONTACT_FIELDS, row, strict=True))
    contact["phones"] = tuple(column_phones(contact["phones"]))
    contact["names"] = contact["names"].strip()
    contact["dialled_at"] = from_epoch(contact["dialled_at"])
    return IndexedContact(**contact)
