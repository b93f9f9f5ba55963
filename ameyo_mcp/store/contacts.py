"""Reading the contacts index: contacts by id, phone key, last digits or name words; listings and
their counts; the campaigns and their counts by status."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from . import listing
from .backends import Tx
from .connection import Connection
from .contact_rows import (
    CHUNK,
    CONTACT_COLUMNS,
    CONTACT_FIELDS,
    contact_of,
    contacts_at,
    prefix_range,
    reverse,
    unique_contacts,
)
from .fold import fold_words
from .records import CampaignIndex, ContactQuery, IndexedContact, from_epoch

# A name search walks the index range of its rarest word. Each word's range is counted up to this
# cap to find it (an index-only walk of at most that many rows per word). When every word is past
# it, the walk that ends soonest is the one whose contacts most often have the other words too
# ("sofia 45": one "45…" in six is a Sofia, one "sofia…" in ninety has a "45…"): the first rows of
# each word's range are read as a sample, and the word whose sample matched most leads.
WORD_COUNT_CAP = 256
SAMPLE_ROWS = 128


def _range_sizes(tx: Tx, campaign_id: int, words: Sequence[str]) -> list[int]:
    """How many contacts each word's prefix range holds, counted up to `WORD_COUNT_CAP`, in one query."""
    sized = ", ".join(
        "(SELECT count(*) FROM (SELECT 1 FROM contact_words WHERE campaign_id = ? AND word >= ? "
        f"AND word < ? LIMIT ?) r{i})"
        for i in range(len(words))
    )
    params: list[Any] = []
    for word in words:
        params += [campaign_id, *prefix_range(word), WORD_COUNT_CAP]
    return [int(n) for n in tx.one(f"SELECT {sized}", params)]


def _sampled_matches(tx: Tx, campaign_id: int, words: Sequence[str]) -> list[int]:
    """For each word, how many of the first `SAMPLE_ROWS` contacts of its range have every other
    word too, in one query."""
    samples = []
    params: list[Any] = []
    for lead in words:
        others = [w for w in words if w != lead]
        likes = " AND ".join(["s.names LIKE ?"] * len(others)) or "1 = 1"
        samples.append(
            "(SELECT count(*) FROM (SELECT c.names AS names FROM contact_words w "
            f"{tx.dialect.contact_of_word} WHERE w.campaign_id = ? AND w.word >= ? AND w.word < ? "
            f"LIMIT ?) s WHERE {likes})"
        )
        params += [campaign_id, *prefix_range(lead), SAMPLE_ROWS, *(f"% {w}%" for w in others)]
    return [int(n) for n in tx.one(f"SELECT {', '.join(samples)}", params)]


def _rarest(tx: Tx, campaign_id: int, words: Sequence[str]) -> tuple[str, int]:
    """The word of a name search whose range the search walks, and how many contacts that range
    holds (counted up to the cap)."""
    sizes = _range_sizes(tx, campaign_id, words)
    if len(words) == 1 or min(sizes) < WORD_COUNT_CAP:
        return min(zip(words, sizes, strict=True), key=lambda pair: (pair[1], -len(pair[0])))
    matches = _sampled_matches(tx, campaign_id, words)
    best = max(range(len(words)), key=lambda i: (matches[i], len(words[i])))
    return words[best], sizes[best]


def _lead_range(tx: Tx, query: ContactQuery) -> tuple[str, str] | None:
    """The range of name words a listing walks: its rarest word's (None: no name words)."""
    words = query.words
    if not words:
        return None
    return prefix_range(words[0] if len(words) == 1 else _rarest(tx, query.campaign_id, words)[0])


class ContactLookups(Connection):
    """The store's reads of the contacts index."""

    def contact(self, campaign_id: int, customer_id: int) -> IndexedContact | None:
        row = self._reading(
            lambda tx: tx.first(
                f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND c.customer_id = ?",
                (campaign_id, customer_id),
            )
        )
        return None if row is None else contact_of(row)

    def contacts_at(self, pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], IndexedContact]:
        """The indexed contacts at (campaign, customer) `pairs`, by pair, in one read."""
        wanted = list(dict.fromkeys(pairs))
        columns = ", ".join(CONTACT_FIELDS)
        return self._reading(
            lambda tx: {pair: contact_of(row) for pair, row in contacts_at(tx, wanted, columns).items()}
        )

    def held_ids(self, campaign_id: int, customer_ids: Sequence[int]) -> set[int]:
        """Which of `customer_ids` the campaign's index holds, in one read."""
        wanted = [(campaign_id, i) for i in dict.fromkeys(customer_ids)]
        return self._reading(lambda tx: {i for _, i in contacts_at(tx, wanted, "seen_pass")})

    def contacts(
        self, campaign_id: int, *, after: int | None = None, limit: int = 1000
    ) -> list[IndexedContact]:
        """A campaign's contacts in customer id order, from after `after`: a page of the whole index."""
        rows = self._reading(
            lambda tx: tx.all(
                f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND c.customer_id > ? "
                "ORDER BY c.customer_id LIMIT ?",
                (campaign_id, -(2**62) if after is None else after, limit),
            )
        )
        return [contact_of(r) for r in rows]

    def find_by_phone(self, campaign_id: int, key: str, *, limit: int = 20) -> list[IndexedContact]:
        """Contacts with a phone column equal to `key` (a key made by the phone rule)."""
        return self._by_rkey(campaign_id, "p.rkey = ?", (reverse(key),), limit)

    def find_by_tail(self, campaign_id: int, digits: str, *, limit: int = 20) -> list[IndexedContact]:
        """Contacts with a phone column ending in `digits`; an index range, never a scan."""
        if not digits:
            raise ValueError("give at least one digit to match the end of a phone number")
        low, high = prefix_range(reverse(digits))
        return self._by_rkey(campaign_id, "p.rkey >= ? AND p.rkey < ?", (low, high), limit)

    def customers_by_phone(self, campaign_id: int, keys: Sequence[str]) -> dict[str, list[int]]:
        """For each of `keys` (made by the phone rule) the customers with a phone column equal to it,
        in as few statements as the parameter limit allows (an upload's batch asks for hundreds)."""
        wanted = list(dict.fromkeys(k for k in keys if k))

        def read(tx: Tx) -> dict[str, list[int]]:
            found: dict[str, list[int]] = {}
            for start in range(0, len(wanted), CHUNK):
                chunk = [reverse(k) for k in wanted[start : start + CHUNK]]
                rows = tx.all(
                    f"SELECT rkey, customer_id FROM contact_phones WHERE campaign_id = ? "
                    f"AND rkey IN ({', '.join('?' * len(chunk))})",
                    (campaign_id, *chunk),
                )
                for rkey, customer_id in rows:
                    found.setdefault(reverse(rkey), []).append(int(customer_id))
            return found

        return self._reading(read) if wanted else {}

    def customers_ending_with(
        self, campaign_id: int, keys: Sequence[str], *, limit: int
    ) -> dict[str, list[int]]:
        """For each of `keys` the customers with a phone column whose key is longer and ends with it
        (`0458681166572`'s for `8681166572`), up to `limit` keys that have any: an index range
        each, in one read."""
        wanted = list(dict.fromkeys(k for k in keys if k))

        def read(tx: Tx) -> dict[str, list[int]]:
            found: dict[str, list[int]] = {}
            for key in wanted:
                low, high = prefix_range(reverse(key))
                rows = tx.all(
                    "SELECT DISTINCT customer_id FROM contact_phones WHERE campaign_id = ? "
                    "AND rkey > ? AND rkey < ? LIMIT ?",
                    (campaign_id, low, high, limit),
                )
                if rows:
                    found[key] = sorted(int(r[0]) for r in rows)
                    if len(found) >= limit:
                        break
            return found

        return self._reading(read) if wanted else {}

    def _by_rkey(
        self, campaign_id: int, condition: str, params: tuple[Any, ...], limit: int
    ) -> list[IndexedContact]:
        rows = self._reading(
            lambda tx: tx.all(
                f"SELECT {CONTACT_COLUMNS} FROM contact_phones p JOIN contacts c "
                "ON c.campaign_id = p.campaign_id AND c.customer_id = p.customer_id "
                f"WHERE p.campaign_id = ? AND {condition} LIMIT ?",
                (campaign_id, *params, limit * 4),
            )
        )
        return unique_contacts(rows, limit)

    def search_names(
        self, campaign_id: int, text: str, *, limit: int = 20, contains: bool = False
    ) -> list[IndexedContact]:
        """Contacts whose name fields match `text`, folded (case and accents ignored).

        By default every word of `text` must start a word of the name ("pri sha" finds Priya
        Sharma) and the lookup is an index range: that of the rarest word (`name_search_lead`),
        whose contacts are checked for the others. `contains=True` matches anywhere in the name
        words; that is a scan of the campaign, stopped at `limit` matches.
        """
        words = fold_words(text)
        if not words:
            return []

        def read(tx: Tx) -> list[IndexedContact]:
            if contains:
                likes = " AND ".join(["c.names LIKE ?"] * len(words))
                rows = tx.all(
                    f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND {likes} LIMIT ?",
                    (campaign_id, *(f"%{w}%" for w in words), limit),
                )
                return unique_contacts(rows, limit)
            # One word leads by itself: counting its range would only add a query.
            lead = words[0] if len(words) == 1 else _rarest(tx, campaign_id, words)[0]
            low, high = prefix_range(lead)
            others = [w for w in words if w != lead]
            likes = "".join(" AND c.names LIKE ?" for _ in others)
            sql = (
                f"SELECT {CONTACT_COLUMNS} FROM contact_words w {tx.dialect.contact_of_word} "
                f"WHERE w.campaign_id = ? AND w.word >= ? AND w.word < ?{likes} LIMIT ?"
            )
            params = (campaign_id, low, high, *(f"% {w}%" for w in others))
            # A contact is in the range once per name word that starts with `lead` ("Maria Mariana"
            # twice): a few rows more than asked for are almost always enough, and the walk, which
            # stops at the limit, stays short when the other words match one contact in many.
            wanted = limit + 4
            while True:
                rows = tx.all(sql, (*params, wanted))
                found = unique_contacts(rows, limit)
                if len(found) >= limit or len(rows) < wanted:
                    return found
                wanted *= 4

        return self._reading(read)

    def list_contacts(self, query: ContactQuery, *, offset: int, limit: int) -> list[IndexedContact]:
        """A page of the contacts `query` wants, from `offset`, in the stable order of `listing`."""

        def read(tx: Tx) -> list[IndexedContact]:
            lead = _lead_range(tx, query)
            where, params = listing.matching(query, lead, tx.dialect.contact_of_word)
            if lead is None:
                sql = f"SELECT {CONTACT_COLUMNS} {where} {listing.order(lead)} LIMIT ? OFFSET ?"
                return [contact_of(r) for r in tx.all(sql, (*params, limit, offset))]
            # A contact is in the range once per name word that starts with the lead ("Maria
            # Mariana"): the walk's ids are told apart here, so that no one is on two pages.
            sql = f"SELECT c.customer_id {where} {listing.order(lead)} LIMIT ?"
            wanted = offset + limit + 4
            while True:
                rows = tx.all(sql, (*params, wanted))
                walked = list(dict.fromkeys(int(r[0]) for r in rows))
                if len(walked) >= offset + limit or len(rows) < wanted:
                    break
                wanted *= 2
            page = walked[offset : offset + limit]
            if not page:
                return []
            found = {
                c.customer_id: c
                for c in map(
                    contact_of,
                    tx.all(
                        f"SELECT {CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? "
                        f"AND c.customer_id IN ({', '.join('?' * len(page))})",
                        (query.campaign_id, *page),
                    ),
                )
            }
            return [found[i] for i in page if i in found]

        return self._reading(read)

    def count_contacts(self, query: ContactQuery, *, cap: int) -> dict[str | None, int]:
        """How many contacts `query` wants, by status, counted up to `cap` + 1: a sum past `cap`
        says only that more match."""

        def read(tx: Tx) -> dict[str | None, int]:
            lead = _lead_range(tx, query)
            where, params = listing.matching(query, lead, tx.dialect.contact_of_word)
            # A contact is in a word's range once per name word starting with it ("Maria Mariana").
            distinct = "" if lead is None else "DISTINCT "
            rows = tx.all(
                f"SELECT s.status, count(*) FROM (SELECT {distinct}c.customer_id, c.status {where} "
                "LIMIT ?) s GROUP BY s.status",
                (*params, cap + 1),
            )
            return {status: int(n) for status, n in rows}

        return self._reading(read)

    def dispositions(self, campaign_id: int) -> dict[str, int]:
        """The dispositions the campaign's contacts have, each spelling as held, with how many."""
        rows = self._reading(
            lambda tx: tx.all(
                "SELECT disposition, count(*) FROM contacts WHERE campaign_id = ? "
                "AND disposition IS NOT NULL GROUP BY disposition",
                (campaign_id,),
            )
        )
        return {str(d): int(n) for d, n in rows}

    def name_search_lead(self, campaign_id: int, text: str) -> tuple[str, int] | None:
        """The word whose index range a name search for `text` walks, and how many contacts that
        range holds (counted up to `WORD_COUNT_CAP`): what the search costs, whatever the timing."""
        words = fold_words(text)
        if not words:
            return None
        return self._reading(lambda tx: _rarest(tx, campaign_id, words))

    # -- campaigns -------------------------------------------------------------------------------

    def campaign(self, campaign_id: int, *, wait: bool = True) -> CampaignIndex | None:
        """A campaign's index; not `wait`: StoreBusy at once while another thread has the store."""
        found = self._campaigns("WHERE campaign_id = ?", (campaign_id,), wait=wait)
        return found[0] if found else None

    def campaigns(self) -> list[CampaignIndex]:
        return self._campaigns("", ())

    def status_counts(self, campaign_id: int) -> dict[str, int]:
        """A synced campaign's contacts by status as the index holds them now: the last sync's
        counts and the changes pushed calls and uploads made since (`count_changes`)."""

        def read(tx: Tx) -> dict[str, int]:
            row = tx.first("SELECT status_counts FROM campaigns WHERE campaign_id = ?", (campaign_id,))
            counts: Counter[str] = Counter(json.loads(row[0]) if row is not None and row[0] else {})
            for status, n in tx.all(
                "SELECT status, n FROM status_changes WHERE campaign_id = ?", (campaign_id,)
            ):
                counts[str(status)] += int(n)
            return {status: n for status, n in counts.items() if n > 0}

        return self._reading(read)

    def _campaigns(self, where: str, params: tuple[Any, ...], *, wait: bool = True) -> list[CampaignIndex]:
        rows = self._reading(
            lambda tx: tx.all(
                "SELECT campaign_id, name, contacts, synced_at, synced_contacts, status_counts, pass_no, "
                "pass_started_at, cursor, fields, synced_through, "
                "CASE WHEN name_rule_pass = pass_no THEN name_rule END "
                f"FROM campaigns {where} ORDER BY campaign_id",
                params,
            ),
            wait=wait,
        )
        return [
            CampaignIndex(
                campaign_id=r[0],
                name=r[1],
                contacts=r[2],
                synced_at=from_epoch(r[3]),
                synced_contacts=r[4],
                status_counts=json.loads(r[5]) if r[5] else {},
                pass_in_progress=r[6] if r[7] is not None else None,
                cursor=r[8],
                fields=tuple(json.loads(r[9])) if r[9] else (),
                synced_through=r[10],
                name_rule=r[11],
            )
            for r in rows
        ]
