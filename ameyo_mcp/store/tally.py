"""The call tally: calls counted as they are stored, by quarter hour (UTC), campaign and disposition
(migration 7). A question about a span of time reads the span's slots, never its calls, so today's
figures cost the same at a hundred pushes and at two hundred thousand; and being in the store, they
are every process's.

A span that does not begin or end on a quarter hour takes its end slots whole, less the calls of
their parts outside it, read from the calls themselves: a quarter hour's at most; none for a day or
an hour in any zone, and for a span that ends now only calls pushed with a time ahead of now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from .backends import Tx
from .call_filters import FOLDED, OUTCOME, call_filters, folded
from .records import CallEvent, CallQuery, DayTally, HourTally, from_epoch, to_epoch
from .schema import NO_CAMPAIGN, QUARTER_S

# The columns that say which calls a tally row counts.
KEY = ("slot", "campaign_id", "disposition", "disposition_name", "system_disposition")
_KEY = ", ".join(KEY)
# Rows per INSERT: under SQLite's oldest limit of 999 parameters, as the store's other inserts.
_ROWS_PER_INSERT = 999 // (len(KEY) + 2)
# A tally row's outcome, as `OUTCOME` of the calls it counts ('' is a missing value there).
_OUTCOME = (
    "COALESCE(NULLIF(disposition_name, ''), NULLIF(disposition, ''), NULLIF(system_disposition, ''), "
    "'unknown')"
)
# What the counts are given by: the tally's expression for it, and the calls' (the slot of a call
# of an end part is that part's own).
Dimension = Literal["slot", "campaign", "outcome"]
_IN_TALLY: dict[Dimension, str] = {"slot": "slot", "campaign": "campaign_id", "outcome": _OUTCOME}
_IN_CALLS: dict[Dimension, str] = {"campaign": f"COALESCE(campaign_id, {NO_CAMPAIGN})", "outcome": OUTCOME}
HOUR_S = 3600
# The ends of time, as the slots' bounds of a span without one: a range with both ends is one that
# PostgreSQL, before it has statistics, takes for a narrow one (a bound of one end for a third of
# the table, which it would rather read whole than by the index).
_EVER = 2**62


def slot_of(at: int) -> int:
    return at - at % QUARTER_S


def _slot_after(at: int) -> int:
    """The first slot boundary at or after `at`."""
    return -slot_of(-at)


def add(tx: Tx, stored: Sequence[tuple[CallEvent, int]]) -> None:
    """Count the calls this transaction stored, each with its row id (a repeated push, not stored
    again, is not counted again)."""
    slots: dict[tuple[int, int, str, str, str], list[int]] = {}
    for event, row_id in stored:
        at = to_epoch(event.at)
        assert at is not None
        campaign = NO_CAMPAIGN if event.campaign_id is None else event.campaign_id
        key = (
            slot_of(at),
            campaign,
            event.disposition or "",
            event.disposition_name or "",
            event.system_disposition or "",
        )
        held = slots.setdefault(key, [0, 0])
        held[0] += 1
        held[1] = max(held[1], row_id)
    # In key order: processes counting into the same rows at once take their locks in one order.
    rows = [(*key, count, newest) for key, (count, newest) in sorted(slots.items())]
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        values = ", ".join(["(" + ", ".join("?" * (len(KEY) + 2)) + ")"] * len(chunk))
        tx.run(
            f"INSERT INTO call_tally ({_KEY}, calls, newest) VALUES {values} ON CONFLICT ({_KEY}) "
            "DO UPDATE SET calls = call_tally.calls + excluded.calls, "
            f"newest = {tx.dialect.greatest}(call_tally.newest, excluded.newest)",
            [value for row in chunk for value in row],
        )


def answers(query: CallQuery) -> bool:
    """Whether the tally can count `query`'s calls: it keeps times, campaigns and dispositions."""
    return (
        not query.phones
        and not query.phone_tails
        and query.customer_id is None
        and query.customer_ids is None
        and query.lead_id is None
        and query.agent is None
        and query.callback_after is None
    )


def counts(tx: Tx, query: CallQuery, by: Sequence[Dimension]) -> dict[tuple[Any, ...], int]:
    """How many calls `query` matches (one the tally `answers`), by `by` (one dimension or more); a
    campaign as the tally keeps it (NO_CAMPAIGN: none). No count is 0."""
    since, until = to_epoch(query.since), to_epoch(query.until)
    if since is not None and until is not None and since >= until:
        return {}
    low = None if since is None else slot_of(since)
    high = None if until is None else _slot_after(until)
    clauses, params = _filters(query)
    clauses += ["slot >= ?", "slot < ?"]
    params += [-_EVER if low is None else low, _EVER if high is None else high]
    where = " WHERE " + " AND ".join(clauses)
    columns = ", ".join(_IN_TALLY[d] for d in by)
    found: dict[tuple[Any, ...], int] = {}
    sql = f"SELECT {columns}, SUM(calls) FROM call_tally{where} GROUP BY {columns}"
    for *values, count in tx.all(sql, params):
        found[tuple(values)] = int(count)
    for start, end in ((low, since), (until, high)):
        if start is None or end is None or start >= end:
            continue
        for key, outside in _outside(tx, query, by, start, end).items():
            found[key] = found.get(key, 0) - outside
    return {key: count for key, count in found.items() if count}


def _outside(
    tx: Tx, query: CallQuery, by: Sequence[Dimension], start: int, end: int
) -> dict[tuple[Any, ...], int]:
    """The calls `query` matches in [start, end), a part of one slot, read from the calls."""
    where, params = call_filters(replace(query, since=from_epoch(start), until=from_epoch(end)))
    columns = ", ".join(_IN_CALLS[d] for d in by if d != "slot")
    if columns:
        rows = tx.all(f"SELECT {columns}, COUNT(*) FROM calls{where} GROUP BY {columns}", params)
    else:
        rows = tx.all(f"SELECT COUNT(*) FROM calls{where}", params)
    found: dict[tuple[Any, ...], int] = {}
    for *values, count in rows:
        key = tuple(slot_of(start) if d == "slot" else values.pop(0) for d in by)
        found[key] = found.get(key, 0) + int(count)
    return found


def _filters(query: CallQuery) -> tuple[list[str], list[Any]]:
    """`query`'s filters on the tally's columns, as `call_filters` puts them on the calls'."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.campaign_id is not None:
        clauses.append("campaign_id = ?")
        params.append(query.campaign_id)
    if query.no_campaign:
        clauses.append("campaign_id = ?")
        params.append(NO_CAMPAIGN)
    if query.system_disposition is not None:
        clauses.append("UPPER(NULLIF(system_disposition, '')) = ?")
        params.append(query.system_disposition)
    if query.disposition is not None:
        code = FOLDED.format("NULLIF(disposition, '')")
        name = FOLDED.format("NULLIF(disposition_name, '')")
        clauses.append(f"({code} = ? OR {name} = ?)")
        params += [folded(query.disposition)] * 2
    return clauses, params


def marker(tx: Tx, since: int) -> tuple[int, int]:
    """How many calls there are from `since` on, and the newest one's row id."""
    first = _slot_after(since)
    count = newest = 0
    if first > since:
        count, newest = tx.one(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM calls WHERE at >= ? AND at < ?", (since, first)
        )
    more, latest = tx.one(
        "SELECT COALESCE(SUM(calls), 0), COALESCE(MAX(newest), 0) FROM call_tally "
        "WHERE slot >= ? AND slot < ?",
        (first, _EVER),
    )
    return int(count) + int(more), max(int(newest), int(latest))


def prune(tx: Tx, cutoff: int) -> None:
    """Uncount the calls from before `cutoff`, about to be removed: the slots wholly before it go,
    and the one it cuts keeps the calls after it."""
    low = slot_of(cutoff)
    if low < cutoff:
        rows = tx.all(
            f"SELECT {_IN_CALLS['campaign']}, COALESCE(disposition, ''), COALESCE(disposition_name, ''), "
            "COALESCE(system_disposition, ''), COUNT(*) FROM calls WHERE at >= ? AND at < ? "
            "GROUP BY 1, 2, 3, 4",
            (low, cutoff),
        )
        tx.many(
            "UPDATE call_tally SET calls = calls - ? WHERE slot = ? AND campaign_id = ? AND disposition = ? "
            "AND disposition_name = ? AND system_disposition = ?",
            [(count, low, *key) for *key, count in rows],
        )
        tx.run("DELETE FROM call_tally WHERE slot = ? AND calls <= 0", (low,))
    tx.run("DELETE FROM call_tally WHERE slot < ?", (low,))


def day(tx: Tx, since: datetime, until: datetime) -> DayTally:
    """The calls from `since` to `until`, in all, by outcome, by campaign and hour by hour."""
    start, end = to_epoch(since), to_epoch(until)
    assert start is not None and end is not None
    if end <= start:
        raise ValueError("until must be after since")
    hours: list[dict[str, int]] = [{} for _ in range(-(-(end - start) // HOUR_S))]
    by_outcome: dict[str, int] = {}
    by_campaign: dict[int | None, int] = {}
    cells = counts(tx, CallQuery(since=since, until=until), ("slot", "campaign", "outcome"))
    for (slot, campaign, outcome), count in cells.items():
        # A slot that begins before `since` (which is not on a quarter hour) is its first hour's.
        hour = hours[max(0, (slot - start) // HOUR_S)]
        hour[outcome] = hour.get(outcome, 0) + count
        by_outcome[outcome] = by_outcome.get(outcome, 0) + count
        key = None if campaign == NO_CAMPAIGN else int(campaign)
        by_campaign[key] = by_campaign.get(key, 0) + count
    return DayTally(
        since=since,
        until=until,
        calls=sum(by_outcome.values()),
        by_outcome=_ranked(by_outcome),
        by_campaign=_ranked(by_campaign),
        hours=tuple(
            HourTally(
                start=datetime.fromtimestamp(start + i * HOUR_S, tz=UTC),
                calls=sum(h.values()),
                by_outcome=_ranked(h),
            )
            for i, h in enumerate(hours)
        ),
    )


def _ranked(counts: dict[Any, int]) -> dict[Any, int]:
    """Most first; equal counts by name (no campaign last)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, str(item[0]))))
