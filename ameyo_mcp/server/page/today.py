"""Today's figures for the operator's page, read in one place: the pushes (how many, their outcomes
by hour and in all, the last few calls) and the writes (by kind and state, repeats stopped).

The pushes are read from the counts the store keeps as they are stored (`Store.day_tallies`, and
the call history's totals, which come from the same counts), so a refresh costs the same at 100
pushes and at 200,000; the writes from the ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ...rules.outcomes import outcome_counts
from ...rules.times import day_so_far
from ...writes.path import REPEATS
from ...writes.plans import write_kind

if TYPE_CHECKING:
    from ...store import Store, StoredCall
    from ..tools.history import Ahead

LAST_CALLS = 8


@dataclass(frozen=True)
class Today:
    since: datetime  # midnight in the server's zone
    pushes: int
    by_outcome: dict[str, int]  # folded as tool answers fold them (`outcome_counts`), most first
    by_hour: list[dict[str, int]]  # the same, for each hour from midnight to now
    last: list[StoredCall]  # newest first
    writes: dict[str, dict[str, int]]  # kind (`write_kind`) -> ledger state -> writes
    repeats_answered: int  # of this process: the earlier answer given again, nothing sent
    repeats_refused: int  # of this process: not sent, an earlier one stands in the way
    # The calls pushed dated after now, which today leaves out (`tools.history.dated_ahead`).
    ahead: Ahead | None = None


def today(store: Store, zone: ZoneInfo, now: datetime) -> Today:
    from ...store import CallQuery
    from ..tools.history import dated_ahead

    since, until = day_so_far(zone, now)
    found = store.call_history(CallQuery(since=since, until=until, limit=LAST_CALLS))
    hours = store.day_tallies(since, until).hours
    by_hour = [outcome_counts(hour.by_outcome) for hour in hours]
    writes: dict[str, Counter[str]] = {}
    for entry in store.writes_since(since.timestamp()):
        writes.setdefault(write_kind(entry.label, entry.context), Counter())[entry.state] += 1
    answered, refused = REPEATS.since(since.timestamp())
    return Today(
        since=since,
        pushes=found.total,
        by_outcome=outcome_counts(found.by_outcome),
        by_hour=by_hour,
        last=found.calls,
        writes={kind: dict(states) for kind, states in sorted(writes.items())},
        repeats_answered=answered,
        repeats_refused=refused,
        ahead=dated_ahead(store, until),
    )
