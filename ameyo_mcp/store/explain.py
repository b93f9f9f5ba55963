"""How the database runs the store's reads: every SELECT any store of this process runs while
`explaining()` is open is first run under the backend's EXPLAIN, and its plan kept.

What a read costs as history grows is a property of its plan (which index, how many rows), not
of a timing on one machine: this is how that is checked, on the statements the store really runs.
SQLite gives its `EXPLAIN QUERY PLAN`, and the read is run once more to count the virtual machine
instructions it takes; PostgreSQL gives `EXPLAIN (ANALYZE)`, which runs the read once more and says
how many rows each step visited.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .records import QueryPlan

_lock = threading.Lock()
_open: list[list[QueryPlan]] = []


def recording() -> bool:
    return bool(_open)


@contextmanager
def explaining() -> Iterator[list[QueryPlan]]:
    """The plans of the reads run by every store of this process until the block ends, in order."""
    plans: list[QueryPlan] = []
    with _lock:
        _open.append(plans)
    try:
        yield plans
    finally:
        with _lock:
            _open.remove(plans)


def record(cur: Any, backend: str, sql: str, params: Sequence[Any]) -> None:
    """Explain `sql` (in the driver's placeholders) on `cur`, for every open recording."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return
    steps: int | None = None
    if backend == "sqlite":
        cur.execute("EXPLAIN QUERY PLAN " + sql, tuple(params))
        # SQLite before 3.36 says "SEARCH TABLE calls …" for what later ones say "SEARCH calls …".
        lines = tuple(_OLD_WORDING.sub(r"\1 ", str(row[3])) for row in cur.fetchall())
        steps = _steps(cur, sql, params)
    else:
        cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, tuple(params))
        lines = tuple(str(row[0]) for row in cur.fetchall())
    plan = QueryPlan(sql=sql, backend=backend, lines=lines, steps=steps)
    with _lock:
        for plans in _open:
            plans.append(plan)


_OLD_WORDING = re.compile(r"^(SCAN|SEARCH) TABLE ")
# SQLite calls the progress handler every this many instructions.
_EVERY = 100


def _steps(cur: Any, sql: str, params: Sequence[Any]) -> int:
    """The virtual machine instructions SQLite runs for `sql`, to the nearest hundred."""
    conn = cur.connection
    ticks = 0

    def tick() -> int:
        nonlocal ticks
        ticks += 1
        return 0  # go on

    conn.set_progress_handler(tick, _EVERY)
    try:
        cur.execute(sql, tuple(params))
        cur.fetchall()
    finally:
        conn.set_progress_handler(None, _EVERY)
    return ticks * _EVERY
