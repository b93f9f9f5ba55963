"""Store: the one object that reads and writes the index and the call history."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

from ..errors import StoreBusy, StoreError, SyncBusy, SyncLeaseLost
from ..rules.outcomes import UNKNOWN_STATUS
from ..rules.owners import owner_alive
from . import lease, ledger, listing, sync_leases, tally
from .backends import Tx, connect, describe, is_dead, is_driver_error, store_error
from .call_filters import OUTCOME, call_filters, newest_first
from .fold import fold_words
from .records import (
    CallEvent,
    CallHistory,
    CallQuery,
    CampaignIndex,
    ContactQuery,
    ContactRow,
    DayTally,
    IndexedContact,
    StoredCall,
    SyncLease,
    SyncPass,
    cap_raw,
    from_epoch,
    to_epoch,
)
from .schema import MIGRATIONS, Dialect

T = TypeVar("T")

# PostgreSQL's channel for "calls were stored" (`add_calls` → `calls_changed`).
CALLS_CHANNEL = "ameyo_calls"

# SQLite's limit on bound parameters is 32766 since 3.32 but 999 before: stay under both.
_PARAMETERS = 999
_CHUNK = 400
# Contacts written together (the ids of a chunk are looked up in one statement, within that limit
# too): a sync's page of 500, and the row before it, in one go.
_WRITE_CHUNK = 900
# PostgreSQL's advisory locks of the counts by status: this space, and the campaign's id.
_STATUS_LOCK_SPACE = 711045
# A batch of pushes without their campaign looks for their customers in so many campaign and
# customer pairs at most (a few campaigns and a batch's customers): the rest stay unplaced.
_UNPLACED_PAIRS = 4_000
# Characters of a contact's name kept to show.
_NAME_CAP = 200
# Most customer field names kept of a campaign (a deployment has a few dozen columns); past it,
# none are, and uploads cannot tell a field none of its customers has.
MAX_FIELDS = 200
# The columns of `contacts` an IndexedContact is read from, each named as its field.
_CONTACT_FIELDS = tuple(f.name for f in fields(IndexedContact))
_CONTACT_COLUMNS = ", ".join(f"c.{name}" for name in _CONTACT_FIELDS)
# The columns of `calls` that hold a CallEvent's fields, each named as its field; times are kept as
# whole seconds since the epoch, and an empty text as NULL.
_EVENT_COLUMNS = tuple(
    f.name for f in fields(CallEvent) if f.name != "raw" and f.metadata.get("column", True)
)
_EVENT_TIMES = frozenset(name for name in _EVENT_COLUMNS if name.endswith("_at"))
_TIME_INDEXES = tuple(i for i, name in enumerate(_EVENT_COLUMNS) if name in _EVENT_TIMES)
_event_values = attrgetter(*_EVENT_COLUMNS)
_CALL_COLUMNS = ", ".join(("id", *_EVENT_COLUMNS, "raw"))
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
_REPLACE_CONTACT = "ON CONFLICT (campaign_id, customer_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in _CONTACT_ROW[2:]
)
# The columns of each lookup-key table.
_KEY_COLUMNS = {
    "contact_phones": ("campaign_id", "rkey", "customer_id"),
    "contact_words": ("campaign_id", "word", "customer_id"),
}


def _reverse(key: str) -> str:
    return key[::-1]


def _phones_column(keys: Sequence[str]) -> str:
    """A contact's phone keys as its `phones` column keeps them: the space-separated keys, the whole
    text reversed, so that each word is a key as `contact_phones` holds it (see `_build_keys`)."""
    return " ".join(keys)[::-1]


def _column_phones(text: str | None) -> list[str]:
    """The phone keys of a `phones` column, in their order."""
    return (text or "")[::-1].split()


def _keys(phones: Iterable[str]) -> list[str]:
    """The phone keys a contact's column keeps, once each: ASCII without spaces, quotes or
    backslashes (the phone rule's keys are digits), so that `_build_keys` can split the column."""
    return [
        p
        for p in dict.fromkeys(phones)
        if p and p.isascii() and (p.isdigit() or (p.isprintable() and _SAFE_KEY(p)))
    ]


_SAFE_KEY = re.compile(r'[^\s"\\]+').fullmatch


def _prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds of the keys that start with `prefix`, in byte order: [prefix, next)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _names_column(words: Sequence[str]) -> str:
    # Spaces around every word, so that "a word starts with x" is LIKE '% x%'.
    return " " + " ".join(words) + " " if words else ""


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
        params += [campaign_id, *_prefix_range(word), WORD_COUNT_CAP]
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
        params += [campaign_id, *_prefix_range(lead), SAMPLE_ROWS, *(f"% {w}%" for w in others)]
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


def _sender_alive(owner: str) -> bool:
    """Whether a write's sender may still settle it: on this host, whether its process runs (one of
    this very process is taken to)."""
    return owner_alive(owner, here=lambda _: True)


def _lead_range(tx: Tx, query: ContactQuery) -> tuple[str, str] | None:
    """The range of name words a listing walks: its rarest word's (None: no name words)."""
    words = query.words
    if not words:
        return None
    return _prefix_range(words[0] if len(words) == 1 else _rarest(tx, query.campaign_id, words)[0])


# Pushes per INSERT statement: as many as the parameter limit takes at the calls table's width.
_CALLS_PER_INSERT = _PARAMETERS // (len(_EVENT_COLUMNS) + 3)


def _insert_calls(tx: Tx, events: Sequence[CallEvent]) -> list[int | None]:
    """Insert the events not kept yet, many per statement; for each, its row id when it was new,
    else None. Of two pushes of one call in a batch, the first is new and the second a repeat, as
    one by one."""
    added: list[int | None] = []
    width = len(_EVENT_COLUMNS) + 3
    for start in range(0, len(events), _CALLS_PER_INSERT):
        chunk = events[start : start + _CALLS_PER_INSERT]
        rows = [_call_row(event) for event in chunk]
        values = ", ".join(["(" + ", ".join("?" * width) + ")"] * len(rows))
        insert = (
            f"INSERT INTO calls (dedup_key, at, {', '.join(_EVENT_COLUMNS)}, raw) VALUES {values} "
            "ON CONFLICT (dedup_key) DO NOTHING"
        )
        params = [value for row in rows for value in row]
        if tx.returning:
            kept = dict(tx.all(insert + " RETURNING dedup_key, id", params))
        else:
            kept = _inserted_without_returning(tx, insert, params, [row[0] for row in rows])
        for row in rows:
            added.append(kept.pop(row[0], None))
    return added


def _call_row(event: CallEvent) -> tuple[Any, ...]:
    """The event as `_insert_calls` inserts it: dedup_key, at, the `_EVENT_COLUMNS` (times as epoch
    seconds, empty text as NULL), raw. No call per column: pushes are stored thousands a second."""
    values: list[Any] = [
        (value or None) if isinstance(value, str) else value for value in _event_values(event)
    ]
    for i in _TIME_INDEXES:
        values[i] = to_epoch(values[i])
    return (event.dedup_key(), to_epoch(event.at), *values, cap_raw(event.raw))


def _inserted_without_returning(tx: Tx, insert: str, params: list[Any], keys: list[str]) -> dict[str, int]:
    """What `insert … RETURNING dedup_key, id` answers, for SQLite before 3.35, which has no
    RETURNING: the keys already kept are read first. The store's SQLite transactions hold the write
    lock from their start (BEGIN IMMEDIATE), so no other writer comes between the three."""
    listed = ", ".join("?" * len(keys))
    before = {key for (key,) in tx.all(f"SELECT dedup_key FROM calls WHERE dedup_key IN ({listed})", keys)}
    tx.run(insert, params)
    fresh = [key for key in dict.fromkeys(keys) if key not in before]
    if not fresh:
        return {}
    listed = ", ".join("?" * len(fresh))
    return dict(tx.all(f"SELECT dedup_key, id FROM calls WHERE dedup_key IN ({listed})", fresh))


def _contacts_at(
    tx: Tx, pairs: Sequence[tuple[int, int]], columns: str
) -> dict[tuple[int, int], tuple[Any, ...]]:
    """`columns` of the indexed contacts at (campaign, customer) `pairs`, by pair: one statement a
    chunk, each pair an index lookup."""
    found: dict[tuple[int, int], tuple[Any, ...]] = {}
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        listed = ", ".join(["(?, ?)"] * len(chunk))
        for row in tx.all(
            f"SELECT campaign_id, customer_id, {columns} FROM contacts "
            f"WHERE (campaign_id, customer_id) IN (VALUES {listed})",
            [value for pair in chunk for value in pair],
        ):
            found[(int(row[0]), int(row[1]))] = tuple(row[2:])
    return found


def _learn_phones(tx: Tx, events: Sequence[CallEvent]) -> None:
    """A number Ameyo dialled for an indexed customer finds them from now on. It is kept in the
    contact's phones, so the next sync keeps it where Ameyo holds it and drops it where not. A
    customer not indexed yet is left to the next sync, which brings Ameyo's numbers."""
    wanted: dict[tuple[int, int], list[str]] = {}
    for event in events:
        assert event.campaign_id is not None and event.customer_id is not None and event.phone
        wanted.setdefault((event.campaign_id, event.customer_id), []).append(event.phone)
    known = {pair: _column_phones(row[0]) for pair, row in _contacts_at(tx, list(wanted), "phones").items()}
    changed: list[tuple[str, int, int]] = []
    keys: list[tuple[int, str, int]] = []
    for (campaign_id, customer_id), phones in known.items():
        new = [k for k in _keys(wanted[(campaign_id, customer_id)]) if k not in phones]
        if new:
            changed.append((_phones_column([*phones, *new]), campaign_id, customer_id))
            keys += [(campaign_id, _reverse(k), customer_id) for k in new]
    tx.many("UPDATE contacts SET phones = ? WHERE campaign_id = ? AND customer_id = ?", changed)
    tx.many(
        "INSERT INTO contact_phones (campaign_id, rkey, customer_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        keys,
    )


def _lock_statuses(tx: Tx, campaign_ids: Iterable[int]) -> None:
    """The campaigns' indexed contacts and counts by status to this transaction alone until it ends,
    taken before it touches a contact: a push, a sync's page or an upload reads a status and counts
    its change from it, and a sync's end counts the rows and clears the changes. PostgreSQL's own
    lock, in campaign order; a writing SQLite transaction has the whole database to itself."""
    if tx.dialect.name == "postgresql":
        for campaign_id in sorted(set(campaign_ids)):
            tx.run(
                "SELECT pg_advisory_xact_lock(?::int, ?::int)", (_STATUS_LOCK_SPACE, campaign_id & 0x7FFFFFFF)
            )


def _with_campaigns(tx: Tx, events: list[CallEvent]) -> list[CallEvent]:
    """The events with a campaign: a push that left its campaign out is its customer's campaign
    where the index holds that customer, with the number the push dialled, in one campaign only
    (an id alone may be another campaign's customer). In the history it stays without one: what
    Ameyo sent. Looked for in at most `_UNPLACED_PAIRS` campaign and customer pairs a batch."""
    missing = list(
        dict.fromkeys(e.customer_id for e in events if e.campaign_id is None and e.phone and e.customer_id)
    )
    campaigns = [int(c) for (c,) in tx.all("SELECT campaign_id FROM campaigns")] if missing else []
    if len(missing) * len(campaigns) > _UNPLACED_PAIRS:
        missing = missing[: max(_UNPLACED_PAIRS // len(campaigns), 0)]
    pairs = [(c, customer) for c in campaigns for customer in missing]
    found: dict[int, list[tuple[int, list[str]]]] = {}
    for (campaign_id, customer_id), row in _contacts_at(tx, pairs, "phones").items():
        found.setdefault(customer_id, []).append((campaign_id, _column_phones(row[0])))
    out: list[CallEvent] = []
    for event in events:
        if event.campaign_id is None:
            held = [c for c, phones in found.get(event.customer_id or 0, []) if event.phone in phones]
            if len(held) != 1:
                continue
            event = replace(event, campaign_id=held[0])
        out.append(event)
    return out


def _record_calls(tx: Tx, events: Sequence[CallEvent]) -> None:
    """What the calls made of their indexed customers' records (`CallEvent.record_after`): the
    status, the disposition an agent chose, the last dial and the attempts, where a call is no
    older than the last dial the index holds; and the counts by status changed with them. A
    customer not indexed yet is left to the next sync."""
    if not events:
        return
    pairs = list(dict.fromkeys((e.campaign_id or 0, e.customer_id or 0) for e in events))
    held: dict[tuple[int, int], tuple[Any, ...]] = _contacts_at(tx, pairs, "status, dialled_at")
    updates: list[tuple[Any, ...]] = []
    changes: dict[int, Counter[str]] = {}
    for event in events:  # in order: a later call of the same customer sees the earlier's status
        assert event.campaign_id is not None and event.customer_id is not None
        pair = (event.campaign_id, event.customer_id)
        known = held.get(pair)
        at = to_epoch(event.at)
        if known is None or at is None or (known[1] is not None and known[1] > at):
            continue
        status, disposition = event.record_after()
        if status is not None and status != known[0]:
            counts = changes.setdefault(event.campaign_id, Counter())
            counts[known[0] or UNKNOWN_STATUS] -= 1
            counts[status] += 1
        held[pair] = (status or known[0], at)
        updates.append((status, disposition, at, event.attempts, *pair, at))
    # The last dial compared again in the statement: another writer may have moved it since the read.
    tx.many(
        "UPDATE contacts SET status = COALESCE(?, status), disposition = COALESCE(?, disposition), "
        "dialled_at = ?, attempts = COALESCE(?, attempts) WHERE campaign_id = ? AND customer_id = ? "
        "AND (dialled_at IS NULL OR dialled_at <= ?)",
        updates,
    )
    _count_changes(tx, changes)


def _count_changes(tx: Tx, changes: Mapping[int, Counter[str]]) -> None:
    """Add to the campaigns' counts by status since their last sync (`status_changes`): one row a
    campaign and status, added to in place, so that writers at the same moment lose none."""
    rows = [(c, status, n) for c, counts in changes.items() for status, n in counts.items() if n]
    tx.many(
        "INSERT INTO status_changes (campaign_id, status, n) VALUES (?, ?, ?) "
        "ON CONFLICT (campaign_id, status) DO UPDATE SET n = status_changes.n + excluded.n",
        rows,
    )


class Store:
    """The contacts index and the call history, on SQLite or PostgreSQL.

    Nothing is opened until the first call. Methods are synchronous and thread-safe (one
    connection, one lock); async code calls them through `anyio.to_thread.run_sync`. Every failure
    of the database is a `StoreError` that says what to do (a full disk, a damaged file, a database
    that cannot be reached). A connection the database closed (PostgreSQL restarted) is replaced
    by a new one: a read is run again on it, and so is a transaction that had not begun; one that
    had fails, and the next call opens the new connection.
    """

    def __init__(self, url: str, *, name: str = "ameyo-mcp") -> None:
        self.url = url
        self._name = name  # what PostgreSQL shows for the connection (pg_stat_activity)
        self._conn: Any = None
        self._dialect: Dialect | None = None
        self._lock = threading.RLock()
        # `calls_changed`: the connection it last looked on, and SQLite's data version there.
        self._watched: Any = None
        self._data_version: Any = None
        # `ping`'s own connection: a probe never waits behind the store's lock (a sync's page).
        self._probe: tuple[Any, Dialect] | None = None
        self._probe_lock = threading.Lock()

    @property
    def where(self) -> str:
        """The database named for people (never with a password)."""
        return describe(self.url)

    @property
    def backend(self) -> str:
        return self._open()[1].name

    def close(self) -> None:
        with self._lock:
            self._drop()
        # A probe stuck on a database that does not answer keeps its connection; it drops it itself.
        if self._probe_lock.acquire(timeout=1.0):
            try:
                self._drop_probe()
            finally:
                self._probe_lock.release()

    def ping(self, *, timeout_s: float = 2.0) -> None:
        """Whether the database answers now (for a readiness probe): one cheap query on a connection
        of the probe's own, opened within `timeout_s` and opened again after any failure. Returns, or
        raises the `StoreError` that says why not. It never migrates, and never waits for the store."""
        with self._probe_lock:
            try:
                if self._probe is None:
                    self._probe = connect(self.url, timeout_s=timeout_s)
                conn, dialect = self._probe
                # A round trip to the server (PostgreSQL); the file's schema page (SQLite).
                query = "SELECT 1" if dialect.name == "postgresql" else "SELECT count(*) FROM sqlite_master"
                conn.execute(query).fetchone()
            except Exception as exc:
                self._drop_probe()
                if is_driver_error(exc):
                    raise store_error(exc, self.url) from None
                raise

    def _drop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            with suppress(Exception):
                probe[0].close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _open(self) -> tuple[Any, Dialect]:
        if self._conn is None or self._dialect is None:
            conn, dialect = connect(self.url, name=self._name)
            try:
                _migrate(conn, dialect)
            except BaseException as exc:
                with suppress(Exception):
                    conn.close()
                if is_driver_error(exc):
                    raise store_error(exc, self.url) from None
                raise
            self._conn, self._dialect = conn, dialect
        return self._conn, self._dialect

    def _drop(self) -> None:
        """Forget the connection, closing it quietly (it may be dead): the next use opens another."""
        conn, self._conn, self._dialect = self._conn, None, None
        if conn is not None:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def _held(self, wait: bool) -> Iterator[tuple[Any, Dialect]]:
        """The connection, holding the store's lock; not `wait`: StoreBusy at once, rather than
        waiting, while another thread has the store (a sync writing a page). A driver's error
        leaves as a `StoreError`; a connection the database closed is forgotten on the way."""
        if not self._lock.acquire(blocking=wait):
            raise StoreBusy("another thread is using the store")
        try:
            yield self._open()
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            if self._conn is not None and is_dead(self._conn):
                self._drop()
            raise store_error(exc, self.url) from None
        finally:
            self._lock.release()

    @contextmanager
    def _tx(self, *, durable: bool = True, wait: bool = True) -> Iterator[Tx]:
        """One transaction, all or nothing, holding the store's lock (`_held`). Not `durable`: its
        commit may be lost to a power cut (or a PostgreSQL crash), never half-applied; a killed
        process loses nothing. Begun on a connection the database closed, it begins again on a new
        one (nothing of it ran); one that fails later is never run again here: its caller decides."""
        with self._held(wait) as (conn, dialect):
            try:
                cur = _begin(conn, dialect, durable)
            except Exception as exc:
                if not (is_driver_error(exc) and is_dead(conn)):
                    raise
                self._drop()
                conn, dialect = self._open()
                cur = _begin(conn, dialect, durable)
            try:
                try:
                    yield Tx(cur, dialect)
                except BaseException:
                    # SQLite may have rolled it back itself (a full disk), and a dead connection
                    # cannot: the error on its way out says more than this one.
                    with suppress(Exception):
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                if not durable and dialect.name == "sqlite":
                    try:
                        cur.execute("PRAGMA synchronous=FULL")
                    except Exception:
                        self._drop()  # a new connection starts with every commit flushed

    def _reading(self, body: Callable[[Tx], T], *, wait: bool = True) -> T:
        """`body`'s reads, holding the store's lock (`_held`); on a connection the database closed
        (it restarted), once more on a new one: a read changes nothing."""
        with self._held(wait) as (conn, dialect):
            try:
                return body(Tx(conn.cursor(), dialect))
            except Exception as exc:
                if not (is_driver_error(exc) and is_dead(conn)):
                    raise
            self._drop()
            conn, dialect = self._open()
            return body(Tx(conn.cursor(), dialect))

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
            tx.run(
                "UPDATE campaigns SET pass_no = ?, pass_started_at = ?, cursor = NULL WHERE campaign_id = ?",
                (number, to_epoch(now), campaign_id),
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
    ) -> int:
        """Close a complete pass: contacts it did not see are gone from Ameyo and are removed, the
        counts by status are kept as of `now`, and the campaign's count of contacts is counted
        afresh from its rows; the `customer_fields` this process saw in it are added to those kept
        (a resumed pass sees only its part). Returns how many contacts were removed (0 when
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
                "synced_contacts = ?, contacts = ?, fields = ? WHERE campaign_id = ?",
                (to_epoch(now), total, total, json.dumps(known) if known else None, campaign_id),
            )
        # Counted apart, under the campaign's lock: pushes wait for a count, not for the whole
        # pass's end (its removals and keys took seconds at 200,000 contacts).
        with self._tx() as tx:
            _lock_statuses(tx, [campaign_id])  # no push's change lands between the count and the clearing
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
    ) -> int:
        """Add or replace contacts of a campaign, in one transaction, and (with `cursor`) move the
        open pass's resume point with them. Without `pass_number` they count as seen by the
        campaign's current pass (an upload between syncs). Returns how many were new. With `lease`
        (a sync's page), the campaign's sync lease is renewed in the same transaction: SyncLeaseLost,
        and nothing written, when another process has taken the sync over.

        `durable=False` (a sync's pages) skips the disk flush of each commit on SQLite: a power cut
        may lose the last pages, and their cursor with them, so the sync reads them again."""
        latest: dict[int, ContactRow] = {}
        for row in rows:
            latest[row.customer_id] = row
        with self._tx(durable=durable) as tx:
            _lock_statuses(tx, [campaign_id])
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
                new += self._upsert_chunk(tx, campaign_id, chunk, pass_number, keys=keys, changes=changes)
            if changes:
                _count_changes(tx, {campaign_id: changes})
            if new:
                tx.run(
                    "UPDATE campaigns SET contacts = contacts + ? WHERE campaign_id = ?", (new, campaign_id)
                )
            if cursor is not None:
                self._set_cursor(tx, campaign_id, pass_number, cursor)
            return new

    def _upsert_chunk(
        self,
        tx: Tx,
        campaign_id: int,
        items: list[ContactRow],
        number: int,
        *,
        keys: bool,
        changes: Counter[str],
    ) -> int:
        """Write contacts; with `keys`, also the lookup keys that changed (a first pass leaves them
        to `_build_keys`). Adds to `changes` how the counts by status change (`_count_changes`)."""
        among, ids = tx.among("customer_id", [i.customer_id for i in items])
        old = {
            r[0]: (r[1], r[2], r[3])
            for r in tx.all(
                f"SELECT customer_id, phones, names, status FROM contacts WHERE campaign_id = ? AND {among}",
                (campaign_id, *ids),
            )
        }
        for item in items:
            earlier = old.get(item.customer_id)
            if earlier is None or earlier[2] != item.status:
                changes[item.status or UNKNOWN_STATUS] += 1
                if earlier is not None:
                    changes[earlier[2] or UNKNOWN_STATUS] -= 1
        drop_phones: list[tuple[int, str, int]] = []
        add_phones: list[tuple[int, str, int]] = []
        drop_words: list[tuple[int, str, int]] = []
        add_words: list[tuple[int, str, int]] = []
        values: list[tuple[Any, ...]] = []
        for item in items:
            cid = item.customer_id
            phones = _keys(item.phones)
            words = fold_words(*item.names)
            phones_text, names_text = _phones_column(phones), _names_column(words)
            before = old.get(cid) if keys else None
            if keys and (before is None or before[0] != phones_text):
                had = set(_column_phones(before[0])) if before else set()
                drop_phones += [(campaign_id, _reverse(p), cid) for p in had - set(phones)]
                add_phones += [(campaign_id, _reverse(p), cid) for p in phones if p not in had]
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
                    item.status,
                    item.disposition,
                    item.attempts,
                    to_epoch(item.dialled_at),
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

    def contact(self, campaign_id: int, customer_id: int) -> IndexedContact | None:
        row = self._reading(
            lambda tx: tx.first(
                f"SELECT {_CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND c.customer_id = ?",
                (campaign_id, customer_id),
            )
        )
        return None if row is None else _contact(row)

    def contacts_at(self, pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], IndexedContact]:
        """The indexed contacts at (campaign, customer) `pairs`, by pair, in one read."""
        wanted = list(dict.fromkeys(pairs))
        columns = ", ".join(_CONTACT_FIELDS)
        return self._reading(
            lambda tx: {pair: _contact(row) for pair, row in _contacts_at(tx, wanted, columns).items()}
        )

    def contacts(
        self, campaign_id: int, *, after: int | None = None, limit: int = 1000
    ) -> list[IndexedContact]:
        """A campaign's contacts in customer id order, from after `after`: a page of the whole index."""
        rows = self._reading(
            lambda tx: tx.all(
                f"SELECT {_CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND c.customer_id > ? "
                "ORDER BY c.customer_id LIMIT ?",
                (campaign_id, -(2**62) if after is None else after, limit),
            )
        )
        return [_contact(r) for r in rows]

    def find_by_phone(self, campaign_id: int, key: str, *, limit: int = 20) -> list[IndexedContact]:
        """Contacts with a phone column equal to `key` (a key made by the phone rule)."""
        return self._by_rkey(campaign_id, "p.rkey = ?", (_reverse(key),), limit)

    def find_by_tail(self, campaign_id: int, digits: str, *, limit: int = 20) -> list[IndexedContact]:
        """Contacts with a phone column ending in `digits`; an index range, never a scan."""
        if not digits:
            raise ValueError("give at least one digit to match the end of a phone number")
        low, high = _prefix_range(_reverse(digits))
        return self._by_rkey(campaign_id, "p.rkey >= ? AND p.rkey < ?", (low, high), limit)

    def customers_by_phone(self, campaign_id: int, keys: Sequence[str]) -> dict[str, list[int]]:
        """For each of `keys` (made by the phone rule) the customers with a phone column equal to it,
        in as few statements as the parameter limit allows (an upload's batch asks for hundreds)."""
        wanted = list(dict.fromkeys(k for k in keys if k))

        def read(tx: Tx) -> dict[str, list[int]]:
            found: dict[str, list[int]] = {}
            for start in range(0, len(wanted), _CHUNK):
                chunk = [_reverse(k) for k in wanted[start : start + _CHUNK]]
                rows = tx.all(
                    f"SELECT rkey, customer_id FROM contact_phones WHERE campaign_id = ? "
                    f"AND rkey IN ({', '.join('?' * len(chunk))})",
                    (campaign_id, *chunk),
                )
                for rkey, customer_id in rows:
                    found.setdefault(_reverse(rkey), []).append(int(customer_id))
            return found

        return self._reading(read) if wanted else {}

    def _by_rkey(
        self, campaign_id: int, condition: str, params: tuple[Any, ...], limit: int
    ) -> list[IndexedContact]:
        rows = self._reading(
            lambda tx: tx.all(
                f"SELECT {_CONTACT_COLUMNS} FROM contact_phones p JOIN contacts c "
                "ON c.campaign_id = p.campaign_id AND c.customer_id = p.customer_id "
                f"WHERE p.campaign_id = ? AND {condition} LIMIT ?",
                (campaign_id, *params, limit * 4),
            )
        )
        return _unique(rows, limit)

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
                    f"SELECT {_CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? AND {likes} LIMIT ?",
                    (campaign_id, *(f"%{w}%" for w in words), limit),
                )
                return _unique(rows, limit)
            # One word leads by itself: counting its range would only add a query.
            lead = words[0] if len(words) == 1 else _rarest(tx, campaign_id, words)[0]
            low, high = _prefix_range(lead)
            others = [w for w in words if w != lead]
            likes = "".join(" AND c.names LIKE ?" for _ in others)
            sql = (
                f"SELECT {_CONTACT_COLUMNS} FROM contact_words w {tx.dialect.contact_of_word} "
                f"WHERE w.campaign_id = ? AND w.word >= ? AND w.word < ?{likes} LIMIT ?"
            )
            params = (campaign_id, low, high, *(f"% {w}%" for w in others))
            # A contact is in the range once per name word that starts with `lead` ("Maria Mariana"
            # twice): a few rows more than asked for are almost always enough, and the walk, which
            # stops at the limit, stays short when the other words match one contact in many.
            wanted = limit + 4
            while True:
                rows = tx.all(sql, (*params, wanted))
                found = _unique(rows, limit)
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
                sql = f"SELECT {_CONTACT_COLUMNS} {where} {listing.order(lead)} LIMIT ? OFFSET ?"
                return [_contact(r) for r in tx.all(sql, (*params, limit, offset))]
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
                    _contact,
                    tx.all(
                        f"SELECT {_CONTACT_COLUMNS} FROM contacts c WHERE c.campaign_id = ? "
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
        counts and the changes pushed calls and uploads made since (`_count_changes`)."""

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
                f"pass_started_at, cursor, fields FROM campaigns {where} ORDER BY campaign_id",
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
            )
            for r in rows
        ]

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
                [(campaign_id, _reverse(p), r[0]) for r in rows for p in _column_phones(r[1])],
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

    # -- call events -----------------------------------------------------------------------------

    def add_call(self, event: CallEvent) -> bool:
        """Keep a call event once: True when it is new, False when the same call and outcome were
        already kept (a retried push). Committed when this returns. A new event also updates the
        indexed contact's last outcome when it is newer than what the index holds."""
        return self.add_calls([event])[0]

    def add_calls(self, events: Sequence[CallEvent]) -> list[bool]:
        """`add_call` for many events in one transaction (one commit, one disk flush): all are kept
        or none. The receiver batches the pushes that arrive while a commit is under way; a batch
        is a few statements, not a few per push."""
        with self._tx() as tx:
            ids = _insert_calls(tx, events)
            added = [row_id is not None for row_id in ids]
            fresh = [e for e, new in zip(events, added, strict=True) if new and e.customer_id is not None]
            fresh = _with_campaigns(tx, fresh)
            _lock_statuses(tx, (e.campaign_id for e in fresh if e.campaign_id is not None))
            _learn_phones(tx, [e for e in fresh if e.phone])
            _record_calls(tx, fresh)
            # Last: the tally's rows of this quarter hour are every writer's, held from here to the commit.
            tally.add(tx, [(e, i) for e, i in zip(events, ids, strict=True) if i is not None])
            if any(added) and tx.dialect.name == "postgresql":
                # Delivered at commit, to every process listening (`calls_changed`).
                tx.run(f"NOTIFY {CALLS_CHANNEL}")
            return added

    def call_history(self, query: CallQuery) -> CallHistory:
        """The calls `query` matches, newest first up to its limit, and how many of each outcome.
        Counted by the tally when only times, a campaign and dispositions filter them (today's
        calls, a campaign's week): its slots are read, not the calls."""
        where, params = call_filters(query)

        def read(tx: Tx) -> CallHistory:
            if tally.answers(query):
                counts = {key[0]: n for key, n in tally.counts(tx, query, ("outcome",)).items()}
            else:
                counts = dict(
                    tx.all(f"SELECT {OUTCOME}, COUNT(*) FROM calls{where} GROUP BY {OUTCOME}", params)
                )
            rows = tx.all(
                f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY {newest_first(query)} LIMIT ?",
                (*params, query.limit),
            )
            return CallHistory([_call(r) for r in rows], sum(counts.values()), counts)

        return self._reading(read)

    def last_call(self, customer_id: int, *, campaign_id: int | None = None) -> StoredCall | None:
        """The latest call event of a customer (in a campaign, when given): the first entry of
        calls_customer_campaign's (or calls_customer's) range for them."""
        where, params = call_filters(CallQuery(customer_id=customer_id, campaign_id=campaign_id))
        row = self._reading(
            lambda tx: tx.first(
                f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY at DESC, id DESC LIMIT 1", params
            )
        )
        return None if row is None else _call(row)

    def calls_held(self) -> tuple[datetime, datetime] | None:
        """The times of the oldest and the newest call the history holds (None: it holds none):
        what an empty answer is measured against. Two ends of calls_at."""
        row = self._reading(
            lambda tx: tx.first("SELECT (SELECT MIN(at) FROM calls), (SELECT MAX(at) FROM calls)")
        )
        if row is None or row[0] is None:
            return None
        oldest, newest = from_epoch(row[0]), from_epoch(row[1])
        assert oldest is not None and newest is not None
        return oldest, newest

    def agents(self, query: CallQuery, *, limit: int = 10) -> list[tuple[str, int]]:
        """The agents of the calls `query` finds, whatever its agent, most calls first: who there
        is when an agent's name finds none. One agent in any case (as an agent is matched), under
        one of its spellings."""
        return self._spread(replace(query, agent=None), "agent", limit)

    def system_dispositions(self, query: CallQuery, *, limit: int = 10) -> list[tuple[str, int]]:
        """The system dispositions (Ameyo's dial outcomes) of the calls `query` finds, whatever its
        own, most calls first, as `agents` are."""
        return self._spread(replace(query, system_disposition=None), "system_disposition", limit)

    def recent_agents(self, calls: int) -> list[tuple[str | None, int]]:
        """The agents of the newest `calls` calls, as each spelt it, with their calls (None: the
        calls pushed without one): one bounded walk back from now (calls_at), however long the
        history and however few of its calls name an agent."""
        return [
            (None if agent is None else str(agent), int(count))
            for agent, count in self._reading(
                lambda tx: tx.all(
                    "SELECT agent, COUNT(*) FROM (SELECT agent FROM calls ORDER BY at DESC LIMIT ?) newest "
                    "GROUP BY agent",
                    (calls,),
                )
            )
        ]

    def _spread(self, query: CallQuery, column: str, limit: int) -> list[tuple[str, int]]:
        where, params = call_filters(query)
        listed = f"{where} AND {column} IS NOT NULL" if where else f" WHERE {column} IS NOT NULL"
        return [
            (str(value), int(count))
            for value, count in self._reading(
                lambda tx: tx.all(
                    f"SELECT MIN({column}), COUNT(*) FROM calls{listed} GROUP BY LOWER({column}) "
                    "ORDER BY 2 DESC, 1 LIMIT ?",
                    (*params, limit),
                )
            )
        ]

    def day_tallies(self, since: datetime, until: datetime) -> DayTally:
        """The calls from `since` to `until` (a day, usually): in all, by outcome, by campaign and
        hour by hour, as counted when they were stored (their slots are read, never the calls)."""
        return self._reading(lambda tx: tally.day(tx, since, until))

    def call_marker(self, since: datetime) -> tuple[int, int]:
        """The calls since `since` in brief: how many, and the newest one's row id. It changes when
        a call of that time is stored. Read from the tally."""
        epoch = to_epoch(since)
        assert epoch is not None
        return self._reading(lambda tx: tally.marker(tx, epoch))

    @property
    def hears_changes(self) -> bool:
        """Whether `calls_changed` waits to be told of new calls (PostgreSQL); else it looks once
        and its caller polls (SQLite)."""
        return self.backend == "postgresql"

    def calls_changed(self, wait_s: float) -> bool:
        """Whether calls may have been stored, by any process, since the previous call of this method.

        True on a new connection (the first call, or after the database closed the last one): what
        happened while none listened is unknown, so the caller reads afresh. On PostgreSQL it listens
        (`LISTEN`; `add_calls` notifies) and waits up to `wait_s` for a notice, then takes the rest
        of a burst with it; on SQLite it compares the file's data version, which any other
        connection's commit moves, without waiting. For a store of its own: it holds the store
        while it waits. A connection that fails here is dropped, so the next call opens another.
        """
        with self._held(True) as (conn, dialect):
            try:
                if dialect.name == "sqlite":
                    version = conn.execute("PRAGMA data_version").fetchone()[0]
                    seen, self._data_version = self._data_version, version
                    fresh, self._watched = self._watched is not conn, conn
                    return fresh or version != seen
                if self._watched is not conn:
                    conn.execute(f"LISTEN {CALLS_CHANNEL}")
                    self._watched = conn
                    return True
                heard = False
                for _ in conn.notifies(timeout=wait_s, stop_after=1):
                    heard = True
                if heard:
                    for _ in conn.notifies(timeout=0):
                        pass  # the rest of a burst: one look covers them all
                return heard
            except Exception as exc:
                if is_driver_error(exc):
                    self._drop()  # a listening connection that failed is not trusted again
                raise

    def prune_calls(self, *, older_than_days: float, now: datetime) -> int:
        """Remove call events from before `older_than_days` ago; returns how many."""
        cutoff = to_epoch(now - timedelta(days=older_than_days))
        assert cutoff is not None
        with self._tx() as tx:
            tally.prune(tx, cutoff)
            tx.run("DELETE FROM calls WHERE at < ?", (cutoff,))
            removed = int(tx.rowcount)
        return removed

    # -- the write ledger (SQL in ledger.py) --------------------------------------------------

    def claim_write(self, keys: Sequence[str], who: ledger.Claimant, *, wait: bool = True) -> ledger.Claim:
        """Claim a write's keys before it is sent, durably: won, or what stands in the way (see
        `ledger.claim`). Not `wait`: StoreBusy at once while another thread has the store."""
        with self._tx(wait=wait) as tx:
            return ledger.claim(tx, keys, who)

    def settle_write(
        self, keys: Sequence[str], *, write_id: str, owner: str, now: float, how: ledger.Settlement
    ) -> None:
        """Record how a claimed write ended. Not flushed to disk on its own: lost to a power cut,
        the write stays in flight with its owner gone, which reads as an unknown outcome."""
        with self._tx(durable=False) as tx:
            ledger.settle(tx, keys, write_id=write_id, owner=owner, now=now, how=how)

    def sent_spellings(self, server: str, campaign_id: int, identities: Sequence[str]) -> dict[str, str]:
        return self._reading(lambda tx: ledger.spellings(tx, server, campaign_id, identities))

    def ledger_entries(self, keys: Sequence[str]) -> list[ledger.LedgerEntry]:
        return self._reading(lambda tx: ledger.entries(tx, keys))

    def rows_held(
        self,
        server: str,
        campaign_id: int,
        rows: dict[str, str],
        write_id: str,
        *,
        now: float,
        resend_unknown: bool,
    ) -> dict[str, ledger.LedgerEntry]:
        """The writes of other file batches that sent these rows (number → row digest), by number,
        as the claim of `write_id` would find them (`ledger.rows_held`); for a read (a dry run's),
        a batch in flight holds its rows as of unknown outcome."""

        def read(tx: Tx) -> dict[str, ledger.LedgerEntry]:
            found = ledger.rows_held(
                tx,
                server,
                campaign_id,
                rows,
                write_id,
                now=now,
                alive=lambda _: False,
                resend_unknown=resend_unknown,
            )
            assert not isinstance(found, ledger.LedgerEntry)  # none is alive, so none is waited for
            return found

        return self._reading(read)

    def callbacks_to(self, subjects: Sequence[str], *, now: float) -> list[ledger.LedgerEntry]:
        """The callback keys of `subjects` (`Write.subjects`) the ledger holds (`ledger.about`)."""
        return self._reading(lambda tx: ledger.about(tx, subjects, now))

    def unknown_writes(
        self, *, limit: int = 50, now: float | None = None, alive: Callable[[str], bool] | None = None
    ) -> list[ledger.LedgerEntry]:
        """Writes of unknown outcome, those whose sender is gone before it settled them included.
        `alive`: whether a sender may still settle its write (default: on this host, whether its
        process runs; one of this process is taken to)."""
        at = time.time() if now is None else now
        living = alive or _sender_alive
        return self._reading(lambda tx: ledger.unknown(tx, limit=limit, now=at, alive=living))

    def writes_since(self, since: float, *, limit: int = 10_000) -> list[ledger.LedgerEntry]:
        """Writes claimed since `since` (seconds since the epoch), newest first, one entry each; one
        whose sender is gone before it settled it is of unknown outcome."""
        at = time.time()
        return self._reading(
            lambda tx: ledger.claimed_since(tx, since, limit=limit, now=at, alive=_sender_alive)
        )

    def prune_ledger(self, *, before: float, tokens_before: float) -> int:
        with self._tx(durable=False) as tx:
            return ledger.prune(tx, before=before, tokens_before=tokens_before)

    def add_confirm_token(self, digest: str, write_id: str, now: float) -> None:
        with self._tx() as tx:
            ledger.add_token(tx, digest, write_id, now)

    def confirm_token_fits(self, digest: str, write_id: str, *, since: float) -> bool:
        return self._reading(lambda tx: ledger.token_fits(tx, digest, write_id, since))

    def spend_confirm_token(self, digest: str, write_id: str, *, since: float) -> bool:
        """Remove a token made since `since` for `write_id`: True once, for whoever removed it."""
        with self._tx() as tx:
            return ledger.spend_token(tx, digest, write_id, since)

    # -- the shared Ameyo session (SQL in lease.py) --------------------------------------------

    def session_lease(self, key: lease.LeaseKey) -> lease.Lease | None:
        return self._reading(lambda tx: lease.read(tx, key))

    def take_session(
        self,
        key: lease.LeaseKey,
        who: str,
        now: float,
        *,
        login_s: float,
        grace: float,
        unusable: int | None,
        alive: Callable[[str], bool],
        credentials: str,
    ) -> lease.Take:
        """The shared session for `who`, or its turn to log in for all, or a wait, or the refusal
        in force (see `lease.take`): decided by one process at a time."""
        with self._tx() as tx:
            return lease.take(
                tx,
                key,
                who,
                now,
                login_s=login_s,
                grace=grace,
                unusable=unusable,
                alive=alive,
                credentials=credentials,
            )

    def publish_session(
        self,
        key: lease.LeaseKey,
        who: str,
        sealed: str,
        now: float,
        *,
        timeout_s: float,
        ping_every_s: float,
        credentials: str,
    ) -> lease.Lease | None:
        with self._tx() as tx:
            return lease.publish(
                tx,
                key,
                who,
                sealed,
                now,
                timeout_s=timeout_s,
                ping_every_s=ping_every_s,
                credentials=credentials,
            )

    def session_refused(
        self, key: lease.LeaseKey, who: str, *, until: float, message: str, credentials: str
    ) -> None:
        with self._tx() as tx:
            lease.refused(tx, key, who, until=until, message=message, credentials=credentials)

    def abandon_login(self, key: lease.LeaseKey, who: str) -> None:
        with self._tx() as tx:
            lease.abandon(tx, key, who)

    def invalidate_session(self, key: lease.LeaseKey, generation: int, now: float) -> bool:
        with self._tx() as tx:
            return lease.invalidate(tx, key, generation, now)

    def touch_session(self, key: lease.LeaseKey, generation: int, who: str, now: float) -> None:
        """Record a use of the session; not flushed to disk on its own (a use lost to a power cut
        only makes the session look idle a little sooner)."""
        with self._tx(durable=False) as tx:
            lease.touch(tx, key, generation, who, now)

    def look_at_session(self, key: lease.LeaseKey, who: str, now: float) -> lease.Lease | None:
        with self._tx(durable=False) as tx:
            return lease.look(tx, key, who, now)

    def claim_ping(
        self, key: lease.LeaseKey, generation: int, who: str, now: float, *, hold_s: float
    ) -> bool:
        with self._tx(durable=False) as tx:
            return lease.claim_ping(tx, key, generation, who, now, hold_s=hold_s)

    def session_pinged(self, key: lease.LeaseKey, generation: int, who: str, now: float) -> None:
        with self._tx(durable=False) as tx:
            lease.pinged(tx, key, generation, who, now)

    def release_session(
        self,
        key: lease.LeaseKey,
        now: float,
        *,
        generation: int | None = None,
        idle_before: float | None = None,
    ) -> lease.Lease | None:
        with self._tx() as tx:
            return lease.release(tx, key, now, generation=generation, idle_before=idle_before)

    def session_users(
        self, key: lease.LeaseKey, *, stale_before: float, alive: Callable[[str], bool]
    ) -> list[str]:
        with self._tx(durable=False) as tx:
            return lease.users(tx, key, stale_before=stale_before, alive=alive)

    def leave_session(
        self,
        key: lease.LeaseKey,
        who: str,
        now: float,
        *,
        stale_before: float,
        alive: Callable[[str], bool],
        end: int | None,
    ) -> tuple[list[str], lease.Lease | None]:
        with self._tx() as tx:
            return lease.leave(tx, key, who, now, stale_before=stale_before, alive=alive, end=end)


def _begin(conn: Any, dialect: Dialect, durable: bool) -> Any:
    """A cursor in a new transaction (see `Store._tx`)."""
    cur = conn.cursor()
    if dialect.name == "sqlite":
        if not durable:
            cur.execute("PRAGMA synchronous=NORMAL")
        try:
            cur.execute("BEGIN IMMEDIATE")
        except BaseException:
            if not durable:
                with suppress(Exception):
                    cur.execute("PRAGMA synchronous=FULL")
            raise
        return cur
    cur.execute("BEGIN")
    if not durable:
        try:
            cur.execute("SET LOCAL synchronous_commit TO OFF")
        except BaseException:
            with suppress(Exception):
                cur.execute("ROLLBACK")
            raise
    return cur


def _migrate(conn: Any, dialect: Dialect) -> None:
    """Bring the schema forward to the latest version, once, even with several processes opening
    the same database at the same time."""
    cur = conn.cursor()
    tx = Tx(cur, dialect)
    # SQLite waits (its busy timeout) while another opener holds the write lock and migrates.
    cur.execute("BEGIN IMMEDIATE" if dialect.name == "sqlite" else "BEGIN")
    try:
        if dialect.name == "postgresql":
            tx.run("SELECT pg_advisory_xact_lock(7110451211)")
        tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = tx.first("SELECT MAX(version) FROM schema_version")
        current = row[0] if row and row[0] is not None else 0
        if current > len(MIGRATIONS):
            raise StoreError(
                f"The index database is at schema version {current}, newer than this ameyo-mcp knows "
                f"({len(MIGRATIONS)}): upgrade ameyo-mcp, or point AMEYO_DATABASE_URL elsewhere"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1]:
                cur.execute(dialect.ddl(statement))
            tx.run("INSERT INTO schema_version (version) VALUES (?)", (version,))
    except BaseException:
        with suppress(Exception):  # the error on its way out says more than this one
            cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def _unique(rows: Iterable[tuple[Any, ...]], limit: int) -> list[IndexedContact]:
    seen: dict[tuple[int, int], IndexedContact] = {}
    for row in rows:
        key = (row[0], row[1])
        if key not in seen:
            seen[key] = _contact(row)
            if len(seen) >= limit:
                break
    return sorted(seen.values(), key=lambda c: c.customer_id)


def _contact(row: tuple[Any, ...]) -> IndexedContact:
    """A row of `_CONTACT_COLUMNS` read back: the columns by name into the contact's fields."""
    contact = dict(zip(_CONTACT_FIELDS, row, strict=True))
    contact["phones"] = tuple(_column_phones(contact["phones"]))
    contact["names"] = contact["names"].strip()
    contact["dialled_at"] = from_epoch(contact["dialled_at"])
    return IndexedContact(**contact)


def _call(row: tuple[Any, ...]) -> StoredCall:
    """A row of `_CALL_COLUMNS` read back: the columns by name into the event's fields."""
    call_id, *columns, raw = row
    event = dict(zip(_EVENT_COLUMNS, columns, strict=True))
    for name in _EVENT_TIMES:
        event[name] = from_epoch(event[name])
    event["received_at"] = event["received_at"] or datetime.fromtimestamp(0).astimezone()
    return StoredCall(id=call_id, event=CallEvent(**event, raw=json.loads(raw) if raw else {}))
