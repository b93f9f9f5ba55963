"""A month of pushed calls: 200,000 in the store, a quarter of them today. A one-customer lookup
(their last call, and the callbacks agents set on their calls still to come), the
`ameyo://calls/today` resource and `ameyo_call_history` for today read a bounded number of rows
however many calls there are. Shown by how the database runs the store's own reads (`explaining`:
SQLite's query plan and the instructions each read takes, PostgreSQL's plan with the rows each step
visited), as loaded and again once the tables' statistics are gathered; not by time."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mcp import Client

from ameyo_mcp.rules.times import day_so_far
from ameyo_mcp.server.calls_today import URI
from ameyo_mcp.server.tools.history import callbacks_ahead
from ameyo_mcp.store import CallEvent, Store
from ameyo_mcp.store.explain import explaining
from ameyo_mcp.store.records import QueryPlan
from tests.conftest import Simulator, server_of, settings_for

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

TOTAL = 200_000
TODAY = 50_000
CUSTOMERS = 40_000
CAMPAIGNS = (1, 2, 3)
# (code, name, system disposition) as agents and the dialler leave them.
OUTCOMES = (
    ("INT", "Interested", "CONNECTED"),
    ("CB", "Callback", "CONNECTED"),
    ("NI", "Not Interested", "CONNECTED"),
    ("WN", "Wrong Number", "CONNECTED"),
    (None, None, "NO_ANSWER"),
    (None, None, "BUSY"),
)
# A bounded read, by its measure: SQLite's virtual machine instructions, PostgreSQL's rows visited.
# Today's figures may read a day's quarter hours by campaign and outcome (96 x 3 x 6 = 1,728 rows);
# a list of calls reads the 50 it shows. Counting today's 50,000 calls again would take ten times
# these at least.
MOST_STEPS = 100_000
MOST_ROWS = 5_000
LOOKUP_INDEX = "calls_customer_campaign"
CALLBACKS_INDEXES = ("calls_callback_customer", "calls_callback_phone")


def campaign_of(customer_id: int) -> int:
    return CAMPAIGNS[customer_id % len(CAMPAIGNS)]


def calls(zone: ZoneInfo) -> list[CallEvent]:
    """The month, oldest first as they are pushed: TODAY calls between today's midnight and now,
    the rest over the 29 days before."""
    start = day_so_far(zone)[0]
    elapsed = max(1, int((datetime.now(zone) - start).total_seconds()))
    month = 29 * 86400
    events = []
    for i in range(TOTAL):
        if i < TODAY:
            at = start + timedelta(seconds=i * elapsed // TODAY)
        else:
            at = start - timedelta(seconds=1 + (i * 7919) % month)
        customer_id = 10_000 + i % CUSTOMERS
        code, name, system = OUTCOMES[(i // 7) % len(OUTCOMES)]
        events.append(
            CallEvent(
                received_at=at,
                call_id=f"call-{i}",
                campaign_id=campaign_of(customer_id),
                customer_id=customer_id,
                phone=f"9198{customer_id:08d}",
                agent=f"agent{i % 40}",
                disposition=code,
                disposition_name=name,
                system_disposition=system,
                started_at=at,
                talk_s=float(i % 300) if system == "CONNECTED" else None,
                # The agent's "call back tomorrow": still to come for today's calls, past for the rest.
                callback_at=at + timedelta(days=1) if name == "Callback" else None,
                raw={"callId": f"call-{i}", "customerId": str(customer_id)},
            )
        )
    return sorted(events, key=lambda e: e.at)


def load(url: str, events: Sequence[CallEvent]) -> None:
    with Store(url) as store:
        for start in range(0, len(events), 5000):
            assert all(store.add_calls(events[start : start + 5000]))


def analyze(url: str) -> None:
    """The tables' statistics gathered in full, as a database administrator would."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        return
    import sqlite3

    lite = sqlite3.connect(url)
    try:
        lite.execute("ANALYZE")
    finally:
        lite.close()


_ROWS = re.compile(r"actual rows=([\d.]+) loops=(\d+)")
_REMOVED = re.compile(r"Rows Removed by (?:Filter|Index Recheck): (\d+)")


def rows_visited(plan: QueryPlan) -> int:
    """PostgreSQL: the rows every scan step of the plan read, kept or filtered out, over all its loops."""
    total = loops = 0
    for line in plan.lines:
        scanned, removed = _ROWS.search(line), _REMOVED.search(line)
        if "Scan" in line and scanned:
            loops = int(scanned[2])
            total += round(float(scanned[1])) * loops
        elif removed and loops:
            total += int(removed[1]) * loops  # the scan above it read these too
        elif "->" in line:
            loops = 0  # a step that is not a scan: what it filters out, it did not read itself
    return total


def assert_bounded(plans: list[QueryPlan], *, index: str | None = None) -> None:
    """Every read planned on an index, none walking a whole table, none sorting the calls it lists,
    and each within its bound."""
    assert plans
    for plan in plans:
        shown = f"{plan.sql}\n" + "\n".join(plan.lines)
        for line in plan.lines:
            assert not re.search(r"^SCAN (calls|call_tally)\b", line), shown
            assert not re.search(r"Seq Scan on (calls|call_tally)\b", line), shown
        if plan.backend == "sqlite":
            reads_calls = [line for line in plan.lines if re.search(r"\bcalls\b", line)]
            assert all(line.startswith("SEARCH calls USING ") for line in reads_calls), shown
            if " LIMIT " in plan.sql and reads_calls:
                # A list served in the index's order: the walk stops at its limit.
                assert not any("TEMP B-TREE FOR ORDER BY" in line for line in plan.lines), shown
            assert plan.steps is not None and plan.steps <= MOST_STEPS, (plan.steps, shown)
        else:
            assert rows_visited(plan) <= MOST_ROWS, (rows_visited(plan), shown)
    if index is not None:
        assert any(index in line for plan in plans for line in plan.lines), [p.lines for p in plans]


async def test_a_customers_last_call_and_todays_figures_read_the_same_at_200000_calls(
    database_url: str, simulator: Simulator, tmp_path: Any
) -> None:
    zone = ZoneInfo(simulator.state.config.timezone)
    events = calls(zone)
    load(database_url, events)
    customer = 10_007
    theirs = [(e.at, i) for i, e in enumerate(events) if e.customer_id == customer]
    newest = events[max(theirs)[1]]
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=database_url)

    for statistics in ("as loaded", "gathered"):
        if statistics == "gathered":
            analyze(database_url)
        with Store(database_url) as store, explaining() as plans:
            last = store.last_call(customer, campaign_id=campaign_of(customer))
        assert last is not None and last.event.call_id == newest.call_id, statistics
        assert_bounded(plans, index=LOOKUP_INDEX)

        # Their callbacks still to come, by customer and by number: from the calls that set one.
        now = datetime.now(zone)
        with Store(database_url) as store, explaining() as plans:
            ahead = callbacks_ahead(store, customer, campaign_of(customer), [newest.phone or ""], now)
        expected = sorted(
            e.call_id for e in events if e.customer_id == customer and e.callback_at and e.callback_at > now
        )
        assert expected and sorted(c.event.call_id for c in ahead) == expected, statistics
        assert_bounded(plans)
        for index in CALLBACKS_INDEXES:
            assert any(index in line for plan in plans for line in plan.lines), [p.lines for p in plans]

        async with Client(server_of(simulator, settings)) as client:
            with explaining() as plans:
                read = (await client.read_resource(URI)).contents[0]
                history = await client.call_tool("ameyo_call_history", {})
        today = json.loads(read.text)  # type: ignore[union-attr]
        assert today["calls"] == TODAY and len(today["newest"]) == 50, statistics
        assert history.structured_content is not None
        assert history.structured_content["matched"] == TODAY, statistics
        assert_bounded(plans)
