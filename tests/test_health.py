"""The parts of health and drain that tests/test_replicas.py uses through real processes, each on its
own: the store's probe, what an Ameyo session's readiness knows without asking Ameyo, the server's
readiness checks, the drain's gate in front of /mcp, and AMEYO_SECRET_KEY."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import ElicitResult

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.errors import SettingsError, StoreError
from ameyo_mcp.health import Drain, StoreProbe
from ameyo_mcp.server.app import checks_of, create_server
from ameyo_mcp.server.http import DrainGate
from ameyo_mcp.store import Store
from ameyo_mcp.store.schema import MIGRATIONS
from tests.conftest import Simulator, ameyo_of, free_port, read_body, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

KEY = "0123456789abcdef0123456789abcdef-shared"


# -- the store's probe --------------------------------------------------------------------------


def test_the_probe_answers_on_its_own_connection_while_the_store_is_busy(database_url: str) -> None:
    with Store(database_url) as store:
        store.campaigns()  # the store's own connection is open
        held = threading.Event()
        release = threading.Event()

        def busy() -> None:
            with store._lock:  # a sync writing a page holds the store this long
                held.set()
                release.wait(10)

        worker = threading.Thread(target=busy)
        worker.start()
        try:
            assert held.wait(5)
            started = time.monotonic()
            store.ping(timeout_s=2)
            assert time.monotonic() - started < 1
        finally:
            release.set()
            worker.join()


def test_the_probe_says_a_database_that_is_not_there_is_unreachable() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    with Store(url) as store, pytest.raises(StoreError, match="cannot be reached"):
        store.ping(timeout_s=2)


async def test_a_store_a_newer_version_migrated_is_not_ready_for_this_one(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    """An older replica left behind by an upgrade cannot use the store once it reconnects (it
    refuses the newer schema): no session shared, a login of its own taking another seat, every
    write refused. Its probe said ready all the same, so a balancer kept sending it calls."""
    server = server_of(simulator, settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=database_url))
    checks = checks_of(server)
    async with Client(server) as client:
        assert not (await client.call_tool("ameyo_list_campaigns", {})).is_error
        assert await checks["store"]() is None
        # What the next version's first process does.
        with Store(database_url) as newer, newer._tx() as tx:
            tx.run("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS) + 1,))
        await anyio.sleep(1.1)  # past the probe's memory of its last answer
        assert await checks["store"]() == "newer than this ameyo-mcp"
    with Store(database_url) as store, pytest.raises(StoreError, match="newer than this ameyo-mcp knows"):
        store.ping(timeout_s=2)


async def test_a_probe_is_asked_once_a_second_and_a_stuck_one_is_not_asked_again() -> None:
    asked: list[float] = []
    stuck = threading.Event()
    unstick = threading.Event()

    def ping() -> None:
        asked.append(time.monotonic())
        if stuck.is_set():
            unstick.wait(10)

    probe = StoreProbe(ping, timeout_s=0.3, ttl_s=0.5)
    try:
        assert [await probe() for _ in range(5)] == [None] * 5
        assert len(asked) == 1  # kept for ttl_s
        stuck.set()
        await anyio.sleep(0.5)
        started = time.monotonic()
        assert await probe() == "not answering"
        assert time.monotonic() - started < 1
        await anyio.sleep(0.5)
        assert await probe() == "not answering"  # still stuck: no second thread waits on it
        assert len(asked) == 2
    finally:
        unstick.set()
    await anyio.sleep(0.6)
    stuck.clear()
    assert await probe() is None
    assert len(asked) == 3


# -- Ameyo's part of readiness ------------------------------------------------------------------


async def test_a_session_is_not_ready_while_its_login_is_refused_or_ameyo_unreachable(
    simulator: Simulator, tmp_path: Path
) -> None:
    fine = ameyo_of(simulator, settings_for(simulator, tmp_path))
    refused = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_PASSWORD="not-the-password"))
    # The network itself, where nothing listens.
    nowhere = Ameyo(settings_for(simulator, tmp_path, AMEYO_BASE_URL=f"http://127.0.0.1:{free_port()}"))
    try:
        assert [a.ready() for a in (fine, refused, nowhere)] == [None, None, None]
        assert simulator.state.commands["login"] == 0  # asking readiness contacts nobody
        for ameyo in (refused, nowhere):
            with pytest.raises(Exception):  # noqa: B017 - the failure itself is tested elsewhere
                await ameyo.campaigns()
        await fine.campaigns()
        assert [a.ready() for a in (fine, refused, nowhere)] == [None, "login refused", "unreachable"]
    finally:
        for ameyo in (fine, refused, nowhere):
            await ameyo.aclose()
    assert fine.ready() == "closed"


async def test_the_servers_readiness_checks_ask_its_own_store_and_ameyo(
    simulator: Simulator, tmp_path: Path
) -> None:
    server = server_of(simulator, settings_for(simulator, tmp_path, AMEYO_PASSWORD="not-the-password"))
    checks = checks_of(server)
    assert [await check() for check in checks.values()] == ["starting", "starting"]
    async with Client(server) as client:
        assert {name: await check() for name, check in checks.items()} == {"store": None, "ameyo": None}
        failed = await client.call_tool("ameyo_list_campaigns", {})
        assert failed.is_error, text_of(failed)
        assert {name: await check() for name, check in checks.items()} == {
            "store": None,
            "ameyo": "login refused",
        }


# -- the drain's gate in front of /mcp ------------------------------------------------------------


class Reached:
    """The app behind the gate: what reached it, body included."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.bodies.append(await read_body(receive))
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def through(gate: DrainGate, method: str, message: object = None) -> tuple[int, Any]:
    """One request through `gate`, its body sent in two parts; the status and any JSON answered."""
    data = b"" if message is None else json.dumps(message).encode()
    parts = [
        {"type": "http.request", "body": data[:5], "more_body": True},
        {"type": "http.request", "body": data[5:], "more_body": False},
    ]
    answered: list[Any] = []

    async def receive() -> Any:
        return parts.pop(0) if parts else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        answered.append(message)

    scope = {"type": "http", "method": method, "path": "/mcp", "headers": []}
    await gate(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in answered[1:])
    return answered[0]["status"], json.loads(body) if body else None


def request(method: str, request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {}}


async def test_a_request_still_arriving_is_not_counted_in_flight() -> None:
    drain = Drain(20.0, quiet_s=0.0)
    seen: list[int] = []

    async def stalled(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # the first part of its body; the rest never comes
        seen.append(drain.in_flight)

    async def first_part() -> Any:
        return {"type": "http.request", "body": b'{"jsonrpc"', "more_body": True}

    async def ignore(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": []}
    await DrainGate(stalled, drain, 10_000)(scope, first_part, ignore)
    assert seen == [0]


async def test_a_draining_gate_refuses_new_work_and_lets_calls_in_flight_finish() -> None:
    reached = Reached()
    drain = Drain(20.0, quiet_s=0.0)
    gate = DrainGate(reached, drain, 10_000)
    assert (await through(gate, "POST", request("tools/call")))[0] == 202
    drain.begin()
    passing = [
        ("POST", {"jsonrpc": "2.0", "id": 4, "result": {"action": "accept"}}),  # an elicitation's answer
        ("POST", {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}),
        ("POST", request("tools/list", 5)),
        ("POST", [request("ping", 6), {"jsonrpc": "2.0", "method": "notifications/initialized"}]),
        ("DELETE", None),
    ]
    for method, message in passing:
        assert (await through(gate, method, message))[0] == 202, message
    refused = [
        await through(gate, "POST", request("tools/call", 9)),
        await through(gate, "POST", request("initialize", 10)),
        await through(gate, "POST", [request("tools/list", 11), request("resources/read", 12)]),
        await through(gate, "GET"),
    ]
    assert [status for status, _ in refused] == [503] * 4
    assert [answer["id"] for _, answer in refused] == [9, 10, 12, None]
    assert all("shutting down" in answer["error"]["message"] for _, answer in refused)
    # What went through arrived whole, as sent.
    sent = [json.dumps(m).encode() if m is not None else b"" for _, m in passing]
    assert reached.bodies == [json.dumps(request("tools/call")).encode(), *sent]
    assert drain.in_flight == 0 and drain.done()


def test_a_drain_ends_a_quiet_second_after_the_last_request_or_at_its_grace_period() -> None:
    now = [100.0]
    drain = Drain(20.0, clock=lambda: now[0])
    assert not drain.done()  # not begun
    drain.begin()
    assert not drain.done()  # nothing in flight, but the drain has only just begun
    now[0] += 1.0
    assert drain.done()
    with drain.working():  # a client's follow-up to its call, say
        now[0] += 0.5
        assert not drain.done()
    now[0] += 0.9
    assert not drain.done()
    now[0] += 0.1
    assert drain.done()
    with drain.working():  # a call that outlasts the grace period
        now[0] = 100.0 + 19.9
        assert not drain.done()
        now[0] = 100.0 + 20.0
        assert drain.done()
    now[0] = 200.0
    with drain.working(follow_ups=False):  # a push: short, and nothing follows it
        now[0] += 0.5
    assert drain.done()
    at_once = Drain(0.0, clock=lambda: now[0])
    at_once.begin()
    assert at_once.done()


# -- AMEYO_SECRET_KEY ---------------------------------------------------------------------------


def test_the_secret_key_is_long_never_shown_and_derives_one_key_per_purpose(tmp_path: Path) -> None:
    from ameyo_mcp.config import load_settings

    base = {"AMEYO_BASE_URL": "http://127.0.0.1:9", "AMEYO_USER_ID": "u", "AMEYO_PASSWORD": "p"}
    with pytest.raises(SettingsError) as short:
        load_settings({**base, "AMEYO_SECRET_KEY": "too-short-a-secret"}, env_file=None)
    assert "too-short-a-secret" not in str(short.value) and "32" in str(short.value)
    one = load_settings({**base, "AMEYO_SECRET_KEY": KEY}, env_file=None)
    two = load_settings({**base, "AMEYO_SECRET_KEY": KEY}, env_file=None)
    other = load_settings({**base, "AMEYO_SECRET_KEY": KEY[::-1]}, env_file=None)
    assert KEY not in repr(one) and KEY not in str(one)
    assert one.derived_key("request-state") == two.derived_key("request-state")
    assert len(one.derived_key("request-state") or b"") == 32
    assert one.derived_key("request-state") != one.derived_key("something-else")
    assert one.derived_key("request-state") != other.derived_key("request-state")
    assert load_settings(base, env_file=None).derived_key("request-state") is None


async def test_a_server_without_the_secret_key_keeps_a_key_of_its_own(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Two servers in one process, without AMEYO_SECRET_KEY: neither opens the other's state."""
    settings: Settings = settings_for(simulator, tmp_path, AMEYO_CONFIRM_OVER="2")
    records = [{"phone1": f"98310003{i:02d}"} for i in range(3)]
    args = {"campaign": 1, "lead_id": 39, "records": records}

    async def nobody(_context: Any, _params: Any) -> ElicitResult:
        raise AssertionError("driven by hand")

    async with (
        Client(server_of(simulator, settings), mode="2026-07-28", elicitation_callback=nobody) as one,  # type: ignore[arg-type]
        Client(create_server(settings), mode="2026-07-28", elicitation_callback=nobody) as two,  # type: ignore[arg-type]
    ):
        asked = await one.session.call_tool("ameyo_upload_contacts", args, allow_input_required=True)
        yes: dict[str, Any] = {"ameyo_confirm": ElicitResult(action="accept", content={"confirm": True})}
        with pytest.raises(MCPError, match="AMEYO_SECRET_KEY"):
            await two.session.call_tool(
                "ameyo_upload_contacts",
                args,
                input_responses=yes,
                request_state=getattr(asked, "request_state", None),
                allow_input_required=True,
            )
    assert simulator.state.commands["uploadContacts"] == 0
