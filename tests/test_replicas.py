"""Several replicas behind a load balancer: health endpoints that need no token and tell nothing, a
/readyz that follows the store down and back, SIGTERM that drains (the write in flight finishes and
is settled, new requests are refused, the shared session is kept), 2025-11-25 clients served by any
stateless replica, and the 2026-07-28 question asked by one replica answered on another with the
same AMEYO_SECRET_KEY.

Real `ameyo-mcp` processes over loopback HTTP, real MCP clients, the simulator on a real port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, InputRequiredResult

from ameyo_mcp.simulator import SimulatorThread
from ameyo_mcp.store import Store
from ameyo_mcp.store.lease import LeaseKey
from tests.conftest import (
    announced_port,
    http_process,
    listening,
    process_env,
    start_postgres,
    stop_postgres,
    text_of,
)

# Real processes end to end, for a minute in all: run with -m slow (and by .ci/run).
pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]

TOKEN = "bearer-for-replica-tests-0123456789"
PUSH = "push-token-for-replica-tests-42"
KEY = "a-shared-secret-of-the-replicas-0123456789abcdef"
OTHER_KEY = "another-secret-that-is-not-shared-0123456789abcdef"
INIT = {
    "jsonrpc": "2.0",
    "id": 7,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
UPLOAD = "ameyo_upload_contacts"
RECORDS = [{"phone1": f"98310002{i:02d}", "name": f"Replica {i}"} for i in range(3)]
LARGE = {"campaign": 1, "lead_id": 39, "records": RECORDS}  # over AMEYO_CONFIRM_OVER=2
# So that only the confirmation stands between a replayed answer and Ameyo.
REPEATABLE = {**LARGE, "allow_repeat": True}
YES = ElicitResult(action="accept", content={"confirm": True})
CONFIRM = "ameyo_confirm"


def replica_env(sim: SimulatorThread, folder: Path, database_url: str, **extra: str) -> dict[str, str]:
    """One replica's settings: a machine of its own (session cache, audit trail), the shared store."""
    folder.mkdir(parents=True, exist_ok=True)
    return process_env(
        sim,
        folder,
        AMEYO_DATABASE_URL=database_url,
        AMEYO_SYNC_INTERVAL_S="0",
        AMEYO_TIMEOUT_S="15",
        **extra,
    )


def uploads(sim: SimulatorThread) -> int:
    """uploadContacts requests Ameyo received (whether or not it ran them)."""
    return sim.state.commands["uploadContacts"]


@contextmanager
def receiver_process(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`ameyo-mcp receiver` in a real process on a loopback port it chose: its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ameyo_mcp", "receiver", "--port", "0"],
        env=env,
        cwd=str(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        port, said = announced_port(proc, b"receiving Ameyo's call outcomes at http://127.0.0.1:")
        listening(port, proc, lambda: said + (proc.stderr.read().decode() if proc.stderr else ""))
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


async def readiness_becomes(http: httpx.AsyncClient, base: str, status: int, within: float = 15) -> Any:
    """/readyz's answer once it answers `status`."""
    deadline = time.monotonic() + within
    while True:
        answer = await http.get(f"{base}/readyz")
        if answer.status_code == status:
            return answer.json()
        assert time.monotonic() < deadline, f"{base}/readyz still answers {answer.status_code}: {answer.text}"
        await anyio.sleep(0.1)


# -- health for a balancer ------------------------------------------------------------------------


async def test_health_needs_no_token_and_tells_nothing(simulator: SimulatorThread, tmp_path: Path) -> None:
    env = replica_env(
        simulator,
        tmp_path,
        str(tmp_path / "index.db"),
        AMEYO_HTTP_TOKEN=TOKEN,
        AMEYO_PUSH_TOKEN=PUSH,
        AMEYO_SECRET_KEY=KEY,
    )
    with http_process(env, tmp_path) as (url, proc):
        base = url.removesuffix("/mcp")
        answers: list[httpx.Response] = []
        async with httpx.AsyncClient(timeout=10) as http:
            # A balancer knows the server by a name of its own (not in AMEYO_ALLOWED_HOSTS).
            for path in ("/healthz", "/readyz", "/readyz", "/healthz"):
                answers.append(await http.get(base + path, headers={"Host": "backend-7.internal:8000"}))
            head = await http.head(base + "/readyz")
            posted = await http.post(base + "/readyz")
            guarded = await http.post(url, json=INIT, headers=HEADERS)
        proc.terminate()
        said = proc.communicate(timeout=30)[1].decode()
    alive, ready = answers[0], answers[1]
    assert alive.status_code == 200 and alive.json() == {"alive": True}
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "draining": False, "store": True, "ameyo": True}
    assert head.status_code == 200 and head.content == b""
    assert posted.status_code == 405
    assert guarded.status_code == 401  # MCP itself still needs the token
    # Readiness asks what the process knows: it never logs in to Ameyo.
    assert simulator.state.commands["login"] == 0
    for answer in [*answers, head, posted]:
        shown = answer.text + json.dumps(dict(answer.headers))
        for secret in (TOKEN, PUSH, KEY, simulator.state.config.password, str(tmp_path), "127.0.0.1"):
            assert secret not in shown, (secret, shown)
    for secret in (TOKEN, PUSH, KEY, simulator.state.config.password):
        assert secret not in said


async def test_readyz_follows_the_store_down_and_back_without_a_restart(
    simulator: SimulatorThread,
    tmp_path: Path,
    own_postgres: Any,
) -> None:

    env = replica_env(simulator, tmp_path, own_postgres.get_uri(), AMEYO_PUSH_TOKEN=PUSH)
    with http_process(env, tmp_path) as (url, _), receiver_process(env, tmp_path) as receiver:
        bases = [url.removesuffix("/mcp"), receiver]
        async with httpx.AsyncClient(timeout=10) as http:
            before = [await readiness_becomes(http, base, 200) for base in bases]
            stop_postgres(own_postgres)
            try:
                down = [await readiness_becomes(http, base, 503) for base in bases]
                alive = [(await http.get(f"{base}/healthz")).status_code for base in bases]
            finally:
                start_postgres(own_postgres)
            back = [await readiness_becomes(http, base, 200) for base in bases]
    assert before[0] == {"ready": True, "draining": False, "store": True, "ameyo": True}
    assert before[1] == {"ready": True, "draining": False, "store": True}
    assert down[0] == {
        "ready": False,
        "draining": False,
        "store": False,
        "ameyo": True,
        "why": ["store unreachable"],
    }
    assert down[1] == {"ready": False, "draining": False, "store": False, "why": ["store unreachable"]}
    assert alive == [200, 200]  # the processes answer: restarting them would not help
    assert back == before


async def test_readyz_right_after_a_postgresql_restart_it_did_not_see_says_ready(
    simulator: SimulatorThread,
    tmp_path: Path,
    own_postgres: Any,
) -> None:
    """A balancer that probes every few seconds can miss a quick restart (or a failover, or a
    connection the database ended): the probe's kept connection is then dead, though the store
    answers. Its first probe after that must not take every replica out at once."""
    env = replica_env(simulator, tmp_path, own_postgres.get_uri(), AMEYO_PUSH_TOKEN=PUSH)
    with http_process(env, tmp_path) as (url, _), receiver_process(env, tmp_path) as receiver:
        bases = [url.removesuffix("/mcp"), receiver]
        async with httpx.AsyncClient(timeout=10) as http:
            for base in bases:
                await readiness_becomes(http, base, 200)
            stop_postgres(own_postgres)  # no probe while it is down
            start_postgres(own_postgres)
            await anyio.sleep(1.1)  # past the probe's one-second memory of its last answer
            after = [await http.get(f"{base}/readyz") for base in bases]
    assert [answer.status_code for answer in after] == [200, 200], [answer.text for answer in after]


# -- SIGTERM ---------------------------------------------------------------------------------------


async def test_sigterm_lets_the_write_in_flight_finish_and_refuses_new_requests(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    database = str(tmp_path / "index.db")
    env = replica_env(simulator, tmp_path, database, AMEYO_DRAIN_S="30")
    callback = {"campaign": 1, "customer_id": 12001, "callback_time": "2031-05-01T11:00:00"}
    # Ameyo runs the write at once and answers after uvicorn's own 5 s for a shutdown.
    simulator.state.faults.commands = {"addCallback"}
    simulator.state.faults.delay_s = 6.0
    done: list[CallToolResult] = []
    with http_process(env, tmp_path) as (url, proc):
        base = url.removesuffix("/mcp")

        async def write() -> None:
            async with Client(url) as client:
                done.append(await client.call_tool("ameyo_add_callback", callback))

        async with anyio.create_task_group() as group, httpx.AsyncClient(timeout=10) as http:
            group.start_soon(write)
            with anyio.fail_after(30):
                while simulator.state.executed["addCallback"] < 1:  # noqa: ASYNC110 - another thread counts
                    await anyio.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            draining = await readiness_becomes(http, base, 503, within=2)
            alive = await http.get(f"{base}/healthz")
            refused = await http.post(url, json=INIT, headers=HEADERS)
            with pytest.raises(Exception) as new_session:
                async with Client(url, mode="legacy") as late:
                    await late.list_tools()
            async with Client(url, mode="2026-07-28") as modern:
                with pytest.raises(MCPError) as new_call:
                    await modern.call_tool("ameyo_list_campaigns", {})
                listed = await modern.list_tools()  # answered at once: still served
            assert proc.poll() is None and not done, "the server ended before its write was answered"
        ended = await anyio.to_thread.run_sync(lambda: proc.wait(timeout=40))
        took = time.monotonic() - signalled
    simulator.state.faults.delay_s = 0.0
    assert draining == {"ready": False, "draining": True, "why": ["draining"]}
    assert alive.status_code == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    error = refused.json()
    assert error["id"] == 7 and "shutting down and did not run the request" in error["error"]["message"]
    assert new_session.value is not None
    assert "Send it again" in new_call.value.error.message
    assert "ameyo_add_callback" in {t.name for t in listed.tools}
    # The write in flight was answered and settled; the process then ended, well before the grace period.
    assert done and not done[0].is_error and "REPEAT" not in text_of(done[0]), done
    assert ended == 0 and took < 20, (ended, took)
    assert simulator.state.executed["addCallback"] == 1
    assert simulator.state.commands["logout"] == 0  # the session stays, for the next start or replica
    with Store(database) as store:
        assert store.unknown_writes(limit=5) == []
        lease = store.session_lease(LeaseKey(simulator.base_url, simulator.state.config.user_id))
        assert lease is not None and lease.sealed is not None  # in the store's lease
    check = await anyio.run_process([sys.executable, "-m", "ameyo_mcp", "check"], env=env, check=False)
    assert "unknown outcome" not in check.stdout.decode(), check.stdout.decode()


# -- replicas behind a balancer without affinity --------------------------------------------------


class Alternating(httpx2.AsyncHTTPTransport):
    """A load balancer without session affinity: each request goes to the next replica in turn."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self.ports = ports
        self.turn = 0
        self.calls: list[tuple[int, str]] = []  # (replica's port, tool called)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        if request.method == "POST":
            body = json.loads(await request.aread())
            if isinstance(body, dict) and body.get("method") == "tools/call":
                self.calls.append((port, body["params"]["name"]))
        return await super().handle_async_request(request)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


async def test_stateless_replicas_serve_a_2025_client_in_turn(
    simulator: SimulatorThread, tmp_path: Path, postgres_url: str
) -> None:
    asked: list[object] = []

    async def person(_context: Any, params: Any) -> ElicitResult:
        asked.append(params)  # a stateless replica has no stream to ask on
        return YES

    env = {"AMEYO_HTTP_STATELESS": "true", "AMEYO_CONFIRM_OVER": "2"}
    one = replica_env(simulator, tmp_path / "one", postgres_url, **env)
    two = replica_env(simulator, tmp_path / "two", postgres_url, **env)
    with http_process(one, tmp_path) as (url_one, _), http_process(two, tmp_path) as (url_two, _):
        balancer = Alternating([port_of(url_one), port_of(url_two)])
        async with (
            httpx2.AsyncClient(transport=balancer, timeout=httpx2.Timeout(30)) as http,
            Client(
                streamable_http_client(url_one, http_client=http),
                mode="legacy",
                elicitation_callback=person,  # type: ignore[arg-type]
            ) as client,
        ):
            version = client.protocol_version
            tools = {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001]})
            unconfirmed = await client.call_tool(UPLOAD, LARGE)
            dry = await client.call_tool(UPLOAD, {**LARGE, "dry_run": True})
            token = (dry.structured_content or {}).get("confirm_token")
            sent = await client.call_tool(UPLOAD, {**LARGE, "confirm": token})
    assert version == "2025-11-25"
    assert UPLOAD in tools
    assert not found.is_error and "Priya" in text_of(found), text_of(found)
    assert unconfirmed.is_error and "dry_run=true" in text_of(unconfirmed), text_of(unconfirmed)
    assert token, text_of(dry)
    assert not sent.is_error and "added 3," in text_of(sent), text_of(sent)
    assert asked == []
    assert uploads(simulator) == 1
    # Each call went to the replica after the last one's: the dry run's token is honoured by the other.
    ports = [port for port, _ in balancer.calls]
    assert len(set(ports)) == 2 and ports[-1] != ports[-2], balancer.calls


# -- the 2026-07-28 question, answered on another replica ------------------------------------------


async def test_a_question_asked_by_one_replica_is_answered_on_another_with_the_same_key(
    simulator: SimulatorThread, tmp_path: Path, postgres_url: str
) -> None:
    async def nobody(_context: Any, _params: Any) -> ElicitResult:
        raise AssertionError("the round trip is driven by hand here")

    def replica(name: str, key: str) -> dict[str, str]:
        return replica_env(
            simulator, tmp_path / name, postgres_url, AMEYO_SECRET_KEY=key, AMEYO_CONFIRM_OVER="2"
        )

    with (
        http_process(replica("one", KEY), tmp_path) as (url_one, _),
        http_process(replica("two", KEY), tmp_path) as (url_two, _),
        http_process(replica("stray", OTHER_KEY), tmp_path) as (url_stray, stray),
    ):
        clients = [
            Client(u, mode="2026-07-28", elicitation_callback=nobody)  # type: ignore[arg-type]
            for u in (url_one, url_two, url_stray)
        ]
        async with clients[0] as one, clients[1] as two, clients[2] as other:
            asked = await one.session.call_tool(UPLOAD, REPEATABLE, allow_input_required=True)
            assert isinstance(asked, InputRequiredResult) and asked.request_state, asked
            state = asked.request_state
            yes: dict[str, Any] = {CONFIRM: YES}
            with pytest.raises(MCPError) as refused:
                await other.session.call_tool(
                    UPLOAD, REPEATABLE, input_responses=yes, request_state=state, allow_input_required=True
                )
            after_refusal = uploads(simulator)
            done = await two.session.call_tool(
                UPLOAD, REPEATABLE, input_responses=yes, request_state=state, allow_input_required=True
            )
            replayed = await one.session.call_tool(
                UPLOAD, REPEATABLE, input_responses=yes, request_state=state, allow_input_required=True
            )
        stray.terminate()
        said = stray.communicate(timeout=30)[1].decode()
    assert after_refusal == 0
    assert (
        "AMEYO_SECRET_KEY" in refused.value.error.message
        and "Nothing was sent" in refused.value.error.message
    )
    assert isinstance(done, CallToolResult) and not done.is_error and "added 3," in text_of(done), done
    assert isinstance(replayed, InputRequiredResult), "one yes was spent twice, on two replicas"
    assert uploads(simulator) == 1
    assert KEY not in said and OTHER_KEY not in said
