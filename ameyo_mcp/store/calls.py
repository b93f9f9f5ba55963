"""The call history: Ameyo's pushed call events kept once each, what they change in the indexed
contacts, and the reads of the history (by query, the last call, who took them, a day's tallies)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any

from ..rules.outcomes import UNKNOWN_STATUS
from . import tally
from .backends import Tx, is_driver_error
from .call_filters import OUTCOME, call_filters, newest_first
from .connection import Connection
from .contact_rows import (
    PARAMETERS,
    column_phones,
    contacts_at,
    count_changes,
    lock_statuses,
    phone_keys,
    phones_column,
    reverse,
)
from .records import CallEvent, CallHistory, CallQuery, DayTally, StoredCall, cap_raw, from_epoch, to_epoch

# PostgreSQL's channel for "calls were stored" (`add_calls` → `calls_changed`).
CALLS_CHANNEL = "ameyo_calls"
# A batch of pushes without their campaign looks for their customers in so many campaign and
# customer pairs at most (a few campaigns and a batch's customers): the rest stay unplaced.
_UNPLACED_PAIRS = 4_000
# The columns of `calls` that hold a CallEvent's fields, each named as its field; times are kept as
# whole seconds since the epoch, and an empty text as NULL.
_EVENT_COLUMNS = tuple(
    f.name for f in fields(CallEvent) if f.name != "raw" and f.metadata.get("column", True)
)
_EVENT_TIMES = frozenset(name for name in _EVENT_COLUMNS if name.endswith("_at"))
_TIME_INDEXES = tuple(i for i, name in enumerate(_EVENT_COLUMNS) if name in _EVENT_TIMES)
_event_values = attrgetter(*_EVENT_COLUMNS)
_CALL_COLUMNS = ", ".join(("id", *_EVENT_COLUMNS, "raw"))


# Pushes per INSERT statement: as many as the parameter limit takes at the calls table's width.
_CALLS_PER_INSERT = PARAMETERS // (len(_EVENT_COLUMNS) + 3)


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


def _learn_phones(tx: Tx, events: Sequence[CallEvent]) -> None:
    """A number Ameyo dialled for an indexed customer finds them from now on. It is kept in the
    contact's phones, so the next sync keeps it where Ameyo holds it and drops it where not. A
    customer not indexed yet is left to the next sync, which brings Ameyo's numbers."""
    wanted: dict[tuple[int, int], list[str]] = {}
    for event in events:
        assert event.campaign_id is not None and event.customer_id is not None and event.phone
        wanted.setdefault((event.campaign_id, event.customer_id), []).append(event.phone)
    known = {pair: column_phones(row[0]) for pair, row in contacts_at(tx, list(wanted), "phones").items()}
    changed: list[tuple[str, int, int]] = []
    keys: list[tuple[int, str, int]] = []
    for (campaign_id, customer_id), phones in known.items():
        new = [k for k in phone_keys(wanted[(campaign_id, customer_id)]) if k not in phones]
        if new:
            changed.append((phones_column([*phones, *new]), campaign_id, customer_id))
            keys += [(campaign_id, reverse(k), customer_id) for k in new]
    tx.many("UPDATE contacts SET phones = ? WHERE campaign_id = ? AND customer_id = ?", changed)
    tx.many(
        "INSERT INTO contact_phones (campaign_id, rkey, customer_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        keys,
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
    for (campaign_id, customer_id), row in contacts_at(tx, pairs, "phones").items():
        found.setdefault(customer_id, []).append((campaign_id, column_phones(row[0])))
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
    customer not indexed yet is left to the next sync. A call that tells the status or disposition
    stamps the outcome with the time it is recorded (`status_at`): a sync's page read from Ameyo
    before then, written after, keeps it (`contact_writes`)."""
    if not events:
        return
    now = time.time()
    pairs = list(dict.fromkeys((e.campaign_id or 0, e.customer_id or 0) for e in events))
    held: dict[tuple[int, int], tuple[Any, ...]] = contacts_at(tx, pairs, "status, dialled_at")
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
        stamp = None if status is None and disposition is None else now
        updates.append((status, disposition, at, event.attempts, stamp, *pair, at))
    # The last dial compared again in the statement: another writer may have moved it since the read.
    tx.many(
        "UPDATE contacts SET status = COALESCE(?, status), disposition = COALESCE(?, disposition), "
        "dialled_at = ?, attempts = COALESCE(?, attempts), status_at = COALESCE(?, status_at) "
        "WHERE campaign_id = ? AND customer_id = ? "
        "AND (dialled_at IS NULL OR dialled_at <= ?)",
        updates,
    )
    count_changes(tx, changes)


def _call(row: tuple[Any, ...]) -> StoredCall:
    """A row of `_CALL_COLUMNS` read back: the columns by name into the event's fields."""
    call_id, *columns, raw = row
    event = dict(zip(_EVENT_COLUMNS, columns, strict=True))
    for name in _EVENT_TIMES:
        event[name] = from_epoch(event[name])
    event["received_at"] = event["received_at"] or datetime.fromtimestamp(0).astimezone()
    return StoredCall(id=call_id, event=CallEvent(**event, raw=json.loads(raw) if raw else {}))


class CallEvents(Connection):
    """The store's call history."""

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
            lock_statuses(tx, (e.campaign_id for e in fresh if e.campaign_id is not None))
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

    def callbacks_set(self, query: CallQuery) -> list[StoredCall]:
        """The calls `query` matches whose outcome set a callback after its `callback_after`, the
        soonest callback first, up to its limit: a customer's (or a number's) callbacks still to
        come, from calls_callback_customer's (or calls_callback_phone's) range for them."""
        if query.callback_after is None:
            raise ValueError("callbacks_set reads the callbacks after a time: give callback_after")
        where, params = call_filters(query)
        rows = self._reading(
            lambda tx: tx.all(
                f"SELECT {_CALL_COLUMNS} FROM calls{where} ORDER BY callback_at, id LIMIT ?",
                (*params, query.limit),
            )
        )
        return [_call(r) for r in rows]

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
