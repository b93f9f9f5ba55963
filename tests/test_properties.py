"""Random interleavings of session expiry, reads, writes, concurrent calls and upstream faults.

A hypothesis state machine drives one MCP client (held open in a blocking portal's event loop)
against one simulator for the whole module. Whatever the order, these hold:

- logins never exceed the expiries the machine caused, plus the first login;
- no write is executed more often than it was asked for: an answered write exactly once, a faulted
  one at most once (per write, and in the simulator's ``executed`` counters);
- calls that met no fault succeed, calls that met one fail with a tool error;
- no secret (password, any session id) appears in any tool output, error, log line or the audit trail.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from mcp import Client

from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.writes.audit import trail_files
from tests.conftest import settings_for, text_of

PASSWORD = "pw-9d41c0-property"
CUSTOMER = 12458
KINDS = ("contacts", "leads", "callback", "upload")
COMMAND = {
    "contacts": "getContacts",
    "leads": "getLeadsForCampaign",
    "callback": "addCallback",
    "upload": "uploadContacts",
}
WRITES = {"callback", "upload"}
FAULTS = ("html_502", "null_body", "drop_before")
# Next year: callbacks within the five years ahead that the tools accept, whenever this runs.
BASE_TIME = datetime(datetime.now().year + 1, 1, 1, 9, 0)
_unique = itertools.count(1)  # module-wide: the simulator outlives each machine run


class Lines(logging.Handler):
    """Every log record, fully formatted (tracebacks included), from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.args))


class Call:
    """One tool call the machine makes, and for a write what it should have left in Ameyo."""

    def __init__(self, kind: str, customer: int = CUSTOMER, spelling: dict[str, Any] | None = None) -> None:
        self.kind = kind
        n = next(_unique)
        self.when = BASE_TIME + timedelta(minutes=n)
        self.phone = f"97{n:08d}"
        self.customer = customer
        self.spelling = spelling

    def spelt(self, spelling: dict[str, Any]) -> Call:
        """The same write, naming the customer another way."""
        twin = Call(self.kind, self.customer, spelling)
        twin.when = self.when
        return twin

    def tool(self) -> tuple[str, dict[str, Any]]:
        if self.kind == "contacts":
            return "ameyo_get_contacts", {"campaign": 1, "customer_ids": [CUSTOMER]}
        if self.kind == "leads":
            return "ameyo_get_leads", {"campaign": 1}
        if self.kind == "callback":
            stamp = self.when.isoformat(timespec="seconds")
            who = self.spelling or {"customer_id": self.customer}
            return "ameyo_add_callback", {"campaign": 1, "callback_time": stamp, **who}
        record = {"phone1": self.phone, "name": f"Property {self.phone}"}
        return "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": [record]}

    def done_in(self, sim: SimulatorThread) -> int:
        """How many times Ameyo holds this write."""
        state = sim.state
        if self.kind == "callback":
            when = self.when.replace(tzinfo=state.tz)
            return sum(
                1 for c in state.callbacks(1) if c.customer_id == self.customer and c.callback_time == when
            )
        return sum(1 for c in state.contacts(1) if c.customer_data.get("phone1") == self.phone)

    def check_answer(self, result: Any) -> None:
        text = text_of(result)
        assert not result.is_error, text
        if self.kind == "contacts":
            assert f"#{CUSTOMER}" in text, text
        elif self.kind == "leads":
            assert "lead 35" in text, text
        elif self.kind == "callback":
            assert f"customer {self.customer}" in text and result.structured_content["callback_id"], text
        else:
            assert "added 1," in text, text


class AmeyoUnderFaults(RuleBasedStateMachine):
    sim: ClassVar[SimulatorThread]
    root: ClassVar[Path]
    logs: ClassVar[Lines]
    runs: ClassVar[Iterator[int]] = itertools.count()

    def __init__(self) -> None:
        super().__init__()
        state = self.sim.state
        state.faults.reset()
        state.expire_all_sessions()
        self.base_logins = state.logins
        self.base_executed = Counter(state.executed)
        self.expiries = 0
        self.asked: Counter[str] = Counter()  # write commands the machine made a call for
        self.exact: list[Call] = []  # answered writes: exactly once in Ameyo
        self.maybe: list[Call] = []  # faulted writes: at most once
        self.outputs: list[str] = []
        self.sessions: set[str] = set()
        folder = self.root / f"run{next(self.runs)}"
        folder.mkdir()
        self.audit = folder / "audit.jsonl"
        settings_ = settings_for(self.sim, folder)
        self._portal_cm = start_blocking_portal("asyncio")
        self.portal = self._portal_cm.__enter__()
        self._client_cm = self.portal.wrap_async_context_manager(Client(create_server(settings_)))
        self.client: Client = self._client_cm.__enter__()

    def teardown(self) -> None:
        self.snapshot()
        try:
            self._client_cm.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)
            self.sim.state.faults.reset()
        self.check_secrets()

    # -- helpers ---------------------------------------------------------------------------

    def snapshot(self) -> None:
        self.sessions.update(self.sim.state.live_sessions())

    async def _call(self, call: Call) -> Any:
        name, args = call.tool()
        return await self.client.call_tool(name, args)

    async def _many(self, calls: list[Call]) -> list[Any]:
        results: list[Any] = [None] * len(calls)

        async def one(i: int) -> None:
            results[i] = await self._call(calls[i])

        async with anyio.create_task_group() as tg:
            for i in range(len(calls)):
                tg.start_soon(one, i)
        return results

    def run_calls(self, calls: list[Call]) -> list[Any]:
        self.snapshot()
        for call in calls:
            if call.kind in WRITES:
                self.asked[COMMAND[call.kind]] += 1
        results: list[Any] = self.portal.call(self._many, calls)
        self.snapshot()
        for result in results:
            self.outputs += [text_of(result), json.dumps(result.structured_content)]
        return results

    def check_secrets(self) -> None:
        texts = [*self.outputs, *self.logs.lines]
        texts += [file.read_text() for file in trail_files(self.audit)]
        for secret in (PASSWORD, *self.sessions):
            for text in texts:
                assert secret not in text, f"secret leaked into {text[:300]!r}"

    # -- rules -----------------------------------------------------------------------------

    @rule()
    def expire_session(self) -> None:
        self.snapshot()
        self.sim.state.expire_all_sessions()
        self.expiries += 1

    @rule(kind=st.sampled_from(KINDS))
    def call(self, kind: str) -> None:
        call = Call(kind)
        (result,) = self.run_calls([call])
        call.check_answer(result)
        if kind in WRITES:
            self.exact.append(call)

    @rule(kinds=st.lists(st.sampled_from(KINDS), min_size=2, max_size=4))
    def concurrent_calls(self, kinds: list[str]) -> None:
        calls = [Call(kind) for kind in kinds]
        for call, result in zip(calls, self.run_calls(calls), strict=True):
            call.check_answer(result)
            if call.kind in WRITES:
                self.exact.append(call)

    @rule(fault=st.sampled_from(FAULTS), kind=st.sampled_from(KINDS))
    def faulted_call(self, fault: str, kind: str) -> None:
        faults = self.sim.state.faults
        faults.commands = {COMMAND[kind]}
        setattr(faults, fault, 1)
        call = Call(kind)
        try:
            (result,) = self.run_calls([call])
            hit = getattr(faults, fault) == 0
        finally:
            faults.reset()
        if hit:
            text = text_of(result)
            assert result.is_error, text
            assert "Traceback" not in text and "<html" not in text.lower(), text
            if kind in WRITES:
                assert "outcome is unknown" in text, text
        else:
            # The command was never sent (the leads are cached): the call is an ordinary one.
            call.check_answer(result)
        if kind in WRITES:
            (self.maybe if hit else self.exact).append(call)

    @rule(ways=st.lists(st.integers(0, 3), min_size=2, max_size=4))
    def identical_writes_spelt_differently(self, ways: list[int]) -> None:
        """Races the same callback named by id, by its stored number, and by +91 and trunk spellings."""
        customer, phone = self.indian_customer()
        spellings = [
            {"customer_id": customer},
            {"phone": phone},
            {"phone": f"+91 {phone[:5]} {phone[5:]}"},
            {"phone": f"0{phone}"},
        ]
        first = Call("callback", customer)
        calls = [first.spelt(spellings[way]) for way in ways]
        self.asked["addCallback"] -= len(calls) - 1  # one write, however many ways it is asked for
        results = self.run_calls(calls)
        for call, result in zip(calls, results, strict=True):
            call.check_answer(result)
        assert sum(text_of(r).startswith("REPEAT:") for r in results) == len(calls) - 1
        self.exact.append(first)

    @rule(kind=st.sampled_from(sorted(WRITES)), after=st.sampled_from((0.05, 0.3)))
    def cancelled_write(self, kind: str, after: float) -> None:
        """The client gives up on a write while Ameyo is still answering it."""
        faults = self.sim.state.faults
        faults.commands = {COMMAND[kind]}
        faults.delay_s = 0.6
        call = Call(kind)
        self.asked[COMMAND[kind]] += 1
        try:
            self.portal.call(self._cancelled, call, after)
            # The simulator is still answering the abandoned request, and takes a counted fault
            # only after its delay: let it finish, so that it cannot take the next rule's fault.
            time.sleep(faults.delay_s + 0.2)
        finally:
            faults.reset()
        self.maybe.append(call)

    async def _cancelled(self, call: Call, after: float) -> None:
        name, args = call.tool()
        with anyio.move_on_after(after):
            result = await self.client.call_tool(name, args)
            self.outputs.append(text_of(result))

    def indian_customer(self) -> tuple[int, str]:
        for contact in self.sim.state.contacts(1):
            phone = contact.customer_data.get("phone1", "")
            if len(phone) == 10 and phone[0] in "6789" and contact.columns.get("disposition") != "DNC":
                return contact.customer_id, phone
        raise AssertionError("the sample data has no customer with a plain Indian number")

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def logins_only_after_expiries(self) -> None:
        logins = self.sim.state.logins - self.base_logins
        assert logins <= self.expiries + 1, (logins, self.expiries)

    @invariant()
    def no_write_runs_more_than_asked(self) -> None:
        executed = self.sim.state.executed
        for command in ("addCallback", "uploadContacts"):
            ran = executed[command] - self.base_executed[command]
            assert ran <= self.asked[command], (command, ran, self.asked[command])
        for call in self.exact:
            assert call.done_in(self.sim) == 1, (call.kind, call.when, call.phone)
        for call in self.maybe:
            assert call.done_in(self.sim) <= 1, (call.kind, call.when, call.phone)

    @invariant()
    def no_secret_anywhere(self) -> None:
        self.snapshot()
        self.check_secrets()


@pytest.fixture(scope="module")
def shared_simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(password=PASSWORD, contacts=60)) as sim:
        yield sim


@pytest.mark.slow
def test_random_interleavings_keep_the_invariants(shared_simulator: SimulatorThread, tmp_path: Path) -> None:
    logs = Lines()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    AmeyoUnderFaults.sim = shared_simulator
    AmeyoUnderFaults.root = tmp_path
    AmeyoUnderFaults.logs = logs
    try:
        run_state_machine_as_test(
            AmeyoUnderFaults,
            settings=settings(max_examples=15, stateful_step_count=12, deadline=None),
        )
    finally:
        root.removeHandler(logs)
        root.setLevel(old_level)
    state = shared_simulator.state
    # The machine really ran writes, expiries and faults, and logged (so the log check had input).
    assert state.executed["addCallback"] > 0 and state.executed["uploadContacts"] > 0
    assert state.logins > 0 and logs.lines
