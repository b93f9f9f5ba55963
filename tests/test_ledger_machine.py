"""Two server processes on one store, driven at random: a callback is scheduled at most once.

A hypothesis state machine holds two real `ameyo-mcp` processes over stdio (in a blocking portal's
event loop), sharing one store, against one simulator. Its rules ask for callbacks through either
process and either tool (`ameyo_add_callback` by customer id or number, the upload tool with
callbacks), in any spelling of the number, one at a time or several at once, while Ameyo is slow and
the client gives up, and sometimes with `allow_repeat`. Whatever the order, Ameyo holds each
callback (number and time) no more often than once plus the repeats the person asked for.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ameyo_mcp.rules import phones
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread

PRIYA, PRIYA_SPELLINGS = 12001, ("917308059204", "7308059204", "+91 73080 59204", "07308059204")
_times = itertools.count(0)  # module-wide: the simulator outlives each machine run


def spelt(i: int) -> str:
    return PRIYA_SPELLINGS[i % len(PRIYA_SPELLINGS)]


class TwoProcesses(RuleBasedStateMachine):
    sim: ClassVar[SimulatorThread]
    folder: ClassVar[Path]
    database_url: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        day = date(2033, 1, 1) + timedelta(days=next(_times))
        self.times = [f"{day.isoformat()}T1{i}:00:00" for i in range(3)]
        self.repeats: Counter[str] = Counter()
        self.portal_cm = start_blocking_portal()
        self.portal = self.portal_cm.__enter__()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
        sim = self.sim
        env.update(
            AMEYO_BASE_URL=sim.base_url,
            AMEYO_USER_ID=sim.state.config.user_id,
            AMEYO_PASSWORD=sim.state.config.password,
            AMEYO_TIMEZONE=sim.state.config.timezone,
            AMEYO_SESSION_FILE=str(self.folder / "session.json"),
            AMEYO_AUDIT_FILE=str(self.folder / "audit.jsonl"),
            AMEYO_DATABASE_URL=self.database_url,
            AMEYO_SYNC_INTERVAL_S="0",
            AMEYO_TIMEOUT_S="10",
        )
        params = StdioServerParameters(command=sys.executable, args=["-m", "ameyo_mcp"], env=env)
        self.clients: list[Client] = []
        ready, self.stop = self.portal.call(anyio.Event), self.portal.call(anyio.Event)
        self.held = self.portal.start_task_soon(self._hold, params, ready)
        self.portal.call(ready.wait)

    async def _hold(self, params: StdioServerParameters, ready: anyio.Event) -> None:
        """The two processes and their clients, entered and left in this one task."""
        async with Client(params) as one, Client(params) as two:
            self.clients = [one, two]
            ready.set()
            await self.stop.wait()

    def teardown(self) -> None:
        try:
            self.portal.call(self.stop.set)
            self.held.result(timeout=30)
        finally:
            self.portal_cm.__exit__(None, None, None)
            self.sim.state.faults.commands = set()
            self.sim.state.faults.delay_s = 0.0

    # -- asking ------------------------------------------------------------------------------------

    def _args(self, way: int, when: str, repeat: bool) -> tuple[str, dict[str, Any]]:
        if way == 0:
            args: dict[str, Any] = {"campaign": 1, "customer_id": PRIYA, "callback_time": when}
            name = "ameyo_add_callback"
        elif way == 1:
            args = {"campaign": 1, "phone": spelt(way + len(when)), "callback_time": when}
            name = "ameyo_add_callback"
        else:
            record = {"customer": {"phone1": spelt(way + len(when))}, "callback_time": when}
            args = {"campaign": 1, "lead_id": 1, "records": [record], "update_existing": True}
            name = "ameyo_upload_contacts_with_callbacks"
        if repeat:
            args["allow_repeat"] = True
        return name, args

    async def _ask(self, process: int, way: int, when: str, repeat: bool, give_up: float | None) -> None:
        name, args = self._args(way, when, repeat)
        if repeat:
            self.repeats[when] += 1
        # The client may give up: what Ameyo holds is the point, not the answer.
        with suppress(Exception):
            await self.clients[process].call_tool(name, args, read_timeout_seconds=give_up)

    @rule(process=st.integers(0, 1), way=st.integers(0, 2), slot=st.integers(0, 2), repeat=st.booleans())
    def one_call(self, process: int, way: int, slot: int, repeat: bool) -> None:
        self.portal.call(self._ask, process, way, self.times[slot], repeat and way == 0, None)

    @rule(
        ways=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2)), min_size=2, max_size=4),
        slot=st.integers(0, 2),
    )
    def at_once_on_both(self, ways: list[tuple[int, int]], slot: int) -> None:
        async def all_of() -> None:
            async with anyio.create_task_group() as group:
                for process, way in ways:
                    group.start_soon(self._ask, process, way, self.times[slot], False, None)

        self.portal.call(all_of)

    @rule(process=st.integers(0, 1), way=st.integers(0, 2), slot=st.integers(0, 2))
    def client_gives_up_while_ameyo_is_slow(self, process: int, way: int, slot: int) -> None:
        faults = self.sim.state.faults
        faults.commands = {"addCallback", "uploadContactAndAddCallback"}
        faults.delay_s = 0.6
        try:
            self.portal.call(self._ask, process, way, self.times[slot], False, 0.2)
        finally:
            faults.delay_s = 0.0
        self.portal.call(anyio.sleep, 0.8)  # the slow answer comes in, or not, before the next rule

    @invariant()
    def each_callback_at_most_once_unless_repeated(self) -> None:
        held = Counter(
            when
            for cb in self.sim.state.callbacks(1)
            if phones.same_number(str(cb.phone), PRIYA_SPELLINGS[0], "IN")
            for when in self.times
            if str(cb.callback_time).startswith(when.replace("T", " ")[:16])
        )
        for when in self.times:
            assert held[when] <= 1 + self.repeats[when], (when, held[when], self.repeats[when])


@pytest.fixture(scope="module")
def shared_simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(password="pw-ledger-machine")) as sim:
        yield sim


@pytest.mark.slow
def test_two_processes_on_one_store_schedule_each_callback_once(
    shared_simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    TwoProcesses.sim = shared_simulator
    TwoProcesses.folder = tmp_path
    TwoProcesses.database_url = database_url
    run_state_machine_as_test(
        TwoProcesses, settings=settings(max_examples=4, stateful_step_count=8, deadline=None)
    )
