"""Issue #4: every upstream fault reaches the model as a clear tool error, over real HTTP and MCP.

Each test drives the embedded simulator (real loopback HTTP) through a real MCP client session and
checks what the model would see: ``is_error``, a text that says what happened and what to do, no
traceback, no HTML, no secret; and what Ameyo saw: logins, commands received and executed.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from ameyo_mcp.writes.audit import trail_files
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

PASSWORD = "pw-5ec2e7-simulated"  # conftest's sim_config
WRONG_PASSWORD = "wrong-pw-7f3a91-never-shown"
READ_ARGS: dict[str, Any] = {"campaign": 1, "customer_ids": [12458]}
FAULTS = ["html_502", "malformed", "truncated", "null_body", "drop_before", "drop_after"]
# What the text must say happened, per fault.
SAYS = {
    "html_502": "HTML page (HTTP 502)",
    "malformed": "not JSON",
    "truncated": "not JSON",
    "null_body": "empty body (null)",
    "drop_before": "connection to Ameyo broke",
    "drop_after": "connection to Ameyo broke",
}
# Faults answered before the simulator runs the command; the others run it and then spoil the answer.
NOT_RUN = {"html_502", "drop_before"}
UNKNOWN = "outcome is unknown"
# Words of a next step: retry, check something, fix a setting.
NEXT_STEP = ("try again", "retry", "check", "AMEYO_", "call again", "wait")


def callback_args(day: int) -> dict[str, Any]:
    return {"campaign": 1, "customer_id": 12458, "callback_time": f"2031-02-{day:02d}T11:00:00"}


class Recorder:
    """Calls tools, keeps everything the model saw, and snapshots the simulator's live session ids
    around every call so that the secrets check knows them all."""

    def __init__(self, client: Client, simulator: SimulatorThread) -> None:
        self.client = client
        self.simulator = simulator
        self.outputs: list[str] = []
        self.sessions: set[str] = set()

    def snapshot(self) -> None:
        self.sessions.update(self.simulator.state.live_sessions())

    async def call(self, name: str, args: dict[str, Any]) -> Any:
        self.snapshot()
        result = await self.client.call_tool(name, args)
        self.snapshot()
        self.outputs.append(text_of(result))
        self.outputs.append(json.dumps(result.structured_content))
        return result

    def assert_no_secrets(
        self, caplog: pytest.LogCaptureFixture, *extra: str, trail: Path | None = None
    ) -> None:
        self.snapshot()
        logged = caplog.text + "".join(repr(r.args) + str(r.exc_text) for r in caplog.records)
        files = trail_files(trail) if trail is not None else []
        texts = [*self.outputs, logged, *(file.read_text() for file in files)]
        for secret in (PASSWORD, *extra, *self.sessions):
            for text in texts:
                assert secret not in text, f"a secret leaked into: {text[:300]!r}"


def assert_clear_error(result: Any, *phrases: str) -> str:
    """A tool error the model can act on: not a bare wrapper, no traceback, no HTML, no garbage."""
    text = text_of(result)
    assert result.is_error, text
    for phrase in phrases:
        assert phrase in text, text
    detail = text.split(":", 1)[1] if text.startswith("Error executing tool") else text
    assert len(detail.strip()) > 20, f"only a bare wrapper: {text!r}"
    lowered = text.lower()
    for bad in ("traceback", "<html", "bad gateway", "nginx", "<<garbage", "\x00", 'file "/'):
        assert bad not in lowered, text
    return text


@pytest.fixture(autouse=True)
def debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


@pytest.fixture
def rec(client: Client, simulator: SimulatorThread) -> Recorder:
    return Recorder(client, simulator)


@pytest.mark.network
@pytest.mark.parametrize("fault", FAULTS)
async def test_read_fault_is_a_clear_error_and_the_next_call_works(
    rec: Recorder, simulator: SimulatorThread, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    state = simulator.state
    assert not (await rec.call("ameyo_get_contacts", READ_ARGS)).is_error  # logged in, warm
    state.faults.commands = {"getContacts"}
    setattr(state.faults, fault, 1)
    before = state.executed["getContacts"]
    failed = await rec.call("ameyo_get_contacts", READ_ARGS)
    text = assert_clear_error(failed, "getContacts", SAYS[fault])
    assert "Error" not in text  # in words, not httpx's class name (RemoteProtocolError)
    assert state.executed["getContacts"] - before == (0 if fault in NOT_RUN else 1)
    assert UNKNOWN not in text_of(failed)  # a read has no unknown outcome to worry about
    # The fault was one request long: the next call is answered normally, on the same session.
    again = await rec.call("ameyo_get_contacts", READ_ARGS)
    assert not again.is_error and "#12458" in text_of(again)
    assert state.logins == 1
    rec.assert_no_secrets(caplog)


@pytest.mark.network
@pytest.mark.parametrize("fault", FAULTS)
async def test_write_fault_says_outcome_unknown_and_is_never_resent(
    rec: Recorder, simulator: SimulatorThread, caplog: pytest.LogCaptureFixture, fault: str, tmp_path: Path
) -> None:
    state = simulator.state
    state.faults.commands = {"addCallback"}
    setattr(state.faults, fault, 1)
    failed = await rec.call("ameyo_add_callback", callback_args(3))
    # Where to see it: no Customer Manager command lists callbacks, so not ameyo_get_contacts.
    text = assert_clear_error(failed, "addCallback", SAYS[fault], UNKNOWN, "Ameyo's own callback list")
    assert "before sending it again" in text and "Check with ameyo_get_contacts" not in text
    assert state.commands["addCallback"] == 1  # sent once, never resent by the server
    assert state.executed["addCallback"] == (0 if fault in NOT_RUN else 1)
    # The agent repeats the identical call: refused until it checks and says allow_repeat.
    repeat = await rec.call("ameyo_add_callback", callback_args(3))
    assert_clear_error(repeat, "unknown outcome", "allow_repeat=true", "Ameyo's own callback list")
    assert state.commands["addCallback"] == 1
    rec.assert_no_secrets(caplog, trail=tmp_path / "audit.jsonl")


@pytest.mark.network
@pytest.mark.parametrize("fault", [*FAULTS, "timeout"])
async def test_read_fault_text_says_what_to_do(
    simulator: SimulatorThread, tmp_path: Path, fault: str
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="0.3")
    state = simulator.state
    async with Client(server_of(simulator, settings)) as client:
        await client.call_tool("ameyo_get_contacts", READ_ARGS)
        state.faults.commands = {"getContacts"}
        if fault == "timeout":
            state.faults.delay_s = 0.8
        else:
            setattr(state.faults, fault, 1)
        failed = await client.call_tool("ameyo_get_contacts", READ_ARGS)
        state.faults.reset()
        if fault == "timeout":
            await anyio.sleep(0.8)  # let the simulator finish its sleep before it shuts down
    text = text_of(failed)
    assert failed.is_error, text
    assert any(step in text for step in NEXT_STEP), f"no next step in {text!r}"


@pytest.mark.network
async def test_hang_past_the_timeout_answers_within_it(
    simulator: SimulatorThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="0.5")
    state = simulator.state
    delay = 2.5
    async with Client(server_of(simulator, settings)) as client:
        rec = Recorder(client, simulator)
        assert not (await rec.call("ameyo_get_leads", {"campaign": 1})).is_error
        state.faults.commands = {"getContacts"}
        state.faults.delay_s = delay
        started = time.monotonic()
        read = await rec.call("ameyo_get_contacts", READ_ARGS)
        read_s = time.monotonic() - started
        state.faults.commands = {"addCallback"}
        write_started = time.monotonic()
        write = await rec.call("ameyo_add_callback", callback_args(4))
        write_s = time.monotonic() - write_started
        state.faults.reset()
        # The simulator is still sleeping on both requests: let it finish before it is shut down.
        await anyio.sleep(max(0.0, write_started + delay + 0.2 - time.monotonic()))
    assert read_s < 1.5 and write_s < 1.5, (read_s, write_s)
    assert_clear_error(read, "did not answer getContacts within 0.5 s")
    assert_clear_error(write, "did not answer addCallback within 0.5 s", UNKNOWN)
    assert state.commands["addCallback"] == 1 and state.executed["addCallback"] == 1
    assert (
        state.commands["getContacts"] == 2
    )  # the hung read was not retried either (1 + the callback's lookup)
    rec.assert_no_secrets(caplog)


async def test_session_expired_between_two_calls_costs_one_login(
    rec: Recorder, simulator: SimulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    state = simulator.state
    first = await rec.call("ameyo_get_contacts", READ_ARGS)
    assert not first.is_error and state.logins == 1
    rec.snapshot()
    assert state.expire_all_sessions() == 1
    second = await rec.call("ameyo_get_contacts", READ_ARGS)
    assert not second.is_error and "#12458" in text_of(second)
    written = await rec.call("ameyo_add_callback", callback_args(5))
    assert not written.is_error, text_of(written)
    assert state.logins == 2
    assert state.commands["getContacts"] == 4  # 1, refused + rerun, the callback's lookup
    assert state.executed["addCallback"] == 1
    assert len(rec.sessions) == 2
    rec.assert_no_secrets(caplog)


@pytest.mark.network
async def test_session_expired_amid_fifty_concurrent_calls_costs_one_login(
    rec: Recorder, simulator: SimulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    state = simulator.state
    assert not (await rec.call("ameyo_get_contacts", READ_ARGS)).is_error
    rec.snapshot()
    base_received, base_run = state.commands["getContacts"], state.executed["getContacts"]
    # A short delay keeps calls in flight (and the connection pool full) when the session dies.
    state.faults.commands = {"getContacts"}
    state.faults.delay_s = 0.1
    results: list[Any] = [None] * 50

    async def one(i: int) -> None:
        results[i] = await rec.call("ameyo_get_contacts", READ_ARGS)

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
        with anyio.fail_after(5):
            # The counter lives in the simulator's thread: nothing to wait on but the counter itself.
            while state.commands["getContacts"] < base_received + 5:  # noqa: ASYNC110
                await anyio.sleep(0.002)
        rec.snapshot()
        assert state.expire_all_sessions() == 1
    state.faults.reset()
    bad = [text_of(r) for r in results if r.is_error or "#12458" not in text_of(r)]
    assert not bad, bad[:3]
    assert state.logins == 2
    assert state.executed["getContacts"] - base_run == 50
    assert state.commands["getContacts"] - base_received > 50  # some really met the dead session
    rec.assert_no_secrets(caplog)


async def test_wrong_password_is_clear_secret_and_not_retried(
    simulator: SimulatorThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_PASSWORD=WRONG_PASSWORD)
    state = simulator.state
    async with Client(server_of(simulator, settings)) as client:
        rec = Recorder(client, simulator)
        calls = [
            ("ameyo_get_contacts", READ_ARGS),
            ("ameyo_get_leads", {"campaign": 1}),
            ("ameyo_add_callback", callback_args(6)),
            ("ameyo_login", {}),
            ("ameyo_get_contacts", READ_ARGS),
        ]
        for name, args in calls:
            result = await rec.call(name, args)
            text = assert_clear_error(result, "AMEYO_PASSWORD")
            assert "refused the login" in text
    assert state.failed_logins == 1 and state.logins == 0
    assert sum(state.commands.values()) == 1  # the one login: nothing else was sent
    rec.assert_no_secrets(caplog, WRONG_PASSWORD, trail=tmp_path / "audit.jsonl")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.network
async def test_ameyo_down_at_start_server_still_lists_tools(
    simulator: SimulatorThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    settings = settings_for(simulator, tmp_path, AMEYO_BASE_URL=url)
    async with Client(server_of(simulator, settings)) as client:
        rec = Recorder(client, simulator)
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"ameyo_get_contacts", "ameyo_add_callback", "ameyo_login"} <= names and len(names) >= 9
        for name, args in [
            ("ameyo_get_contacts", READ_ARGS),
            ("ameyo_list_campaigns", {}),
            ("ameyo_add_callback", callback_args(7)),
        ]:
            started = time.monotonic()
            result = await rec.call(name, args)
            assert time.monotonic() - started < 2.0
            text = assert_clear_error(result, "unreachable", "AMEYO_BASE_URL", url)
            assert UNKNOWN not in text  # nothing reached Ameyo, so nothing is in doubt
    assert sum(simulator.state.commands.values()) == 0
    rec.assert_no_secrets(caplog)


async def test_no_secret_in_any_result_or_debug_log(
    rec: Recorder, simulator: SimulatorThread, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    state = simulator.state
    outputs = [
        await rec.call("ameyo_login", {}),
        await rec.call("ameyo_ping_session", {}),
        await rec.call("ameyo_list_campaigns", {}),
        await rec.call("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12458], "detail": True}),
        await rec.call("ameyo_add_callback", callback_args(8)),
        await rec.call(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": [{"phone1": "9555000111"}]}
        ),
    ]
    assert not any(r.is_error for r in outputs), [text_of(r) for r in outputs if r.is_error]
    rec.snapshot()
    state.expire_all_sessions()
    outputs.append(await rec.call("ameyo_ping_session", {}))
    outputs.append(await rec.call("ameyo_login", {"new_session": True}))
    assert not any(r.is_error for r in outputs[-2:]), [text_of(r) for r in outputs[-2:]]
    for fault in FAULTS:
        state.faults.reset()
        state.faults.commands = {"getContacts", "addCallback"}
        setattr(state.faults, fault, 2)
        await rec.call("ameyo_add_callback", callback_args(10 + FAULTS.index(fault)))
    state.faults.reset()
    await rec.call("ameyo_logout", {})
    assert len(rec.sessions) >= 2 and caplog.records
    rec.assert_no_secrets(caplog, trail=tmp_path / "audit.jsonl")
