"""Three replicas of `ameyo-mcp --transport http` on one PostgreSQL, behind a round-robin proxy,
against the simulator: one Ameyo seat, one callback, no resend after a replica dies, recovery after
PostgreSQL restarts with no process restarted, pushes heard across replicas, one sync at a time.

The deployment the README's "Running several replicas" describes, with real processes throughout.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import http_process, start_postgres, stop_postgres, text_of
from tests.proxy import round_robin
from tests.test_replicas import replica_env

pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]

REPLICAS = 3
PUSH_TOKEN = "push-" + secrets.token_hex(8)
WHEN = "2031-03-04T15:30:00+05:30"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=3000)) as simulator:
        yield simulator


def deployment_env(sim: SimulatorThread, folder: Path, database_url: str) -> dict[str, str]:
    """What every replica is given: the same store, secret key and push token, stateless HTTP."""
    (folder / "uploads").mkdir(parents=True, exist_ok=True)
    return replica_env(
        sim,
        folder,
        database_url,
        AMEYO_SECRET_KEY="k" * 40,
        AMEYO_HTTP_STATELESS="true",
        AMEYO_PUSH_TOKEN=PUSH_TOKEN,
        AMEYO_UPLOAD_DIRS=str(folder / "uploads"),
    )


class Deployment:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.urls: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.stack = ExitStack()
        self.proxy = ""

    def base(self, i: int) -> str:
        return self.urls[i].removesuffix("/mcp")


@pytest.fixture(scope="module")
def deployment(
    sim: SimulatorThread, own_postgres: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("replicas")
    env = deployment_env(sim, folder, own_postgres.get_uri())
    d = Deployment(env, folder)
    with d.stack:
        for _ in range(REPLICAS):
            url, proc = d.stack.enter_context(http_process(env, folder))
            d.urls.append(url)
            d.procs.append(proc)
        d.proxy, _ = d.stack.enter_context(round_robin([d.base(i) for i in range(REPLICAS)]))
        yield d


def callback_args(customer_id: int) -> dict[str, Any]:
    return {"campaign": 1, "customer_id": customer_id, "callback_time": WHEN}


async def test_one_ameyo_login_for_a_hundred_calls_from_both_protocol_eras(
    deployment: Deployment, sim: SimulatorThread
) -> None:
    before = sim.state.logins
    for era in ("legacy", "2026-07-28"):
        async with Client(deployment.proxy + "/mcp", mode=era) as client:  # type: ignore[arg-type]
            for _ in range(50):
                done = await client.call_tool("ameyo_list_campaigns", {})
                assert not done.is_error, text_of(done)
    assert sim.state.logins - before <= 1


async def test_three_replicas_asked_at_once_schedule_one_callback(
    deployment: Deployment, sim: SimulatorThread
) -> None:
    before = sim.state.executed["addCallback"]
    customer = sim.state.contacts(1)[40].customer_id
    texts: list[str] = []

    async def ask(url: str) -> None:
        async with Client(url, mode="2026-07-28") as client:
            texts.append(text_of(await client.call_tool("ameyo_add_callback", callback_args(customer))))

    async with anyio.create_task_group() as group:
        for url in deployment.urls:
            group.start_soon(ask, url)
    assert sim.state.executed["addCallback"] - before == 1, texts


async def test_a_push_on_one_replica_is_heard_on_another_within_half_a_second(deployment: Deployment) -> None:
    heard = anyio.Event()
    async with (
        Client(deployment.urls[0]) as client,
        client.listen(resource_subscriptions=["ameyo://calls/today"]) as updates,
        anyio.create_task_group() as group,
    ):

        async def collect() -> None:
            async for _ in updates:
                heard.set()

        group.start_soon(collect)
        await anyio.sleep(1.0)  # the replica's watch has opened its connection and looked once
        push = {"token": PUSH_TOKEN, "callId": "d-1", "customerId": "12001", "systemDisposition": "BUSY"}
        async with httpx.AsyncClient(timeout=10) as http:
            started = time.monotonic()
            answer = await http.get(f"{deployment.base(1)}/ameyo/status", params=push)
            assert answer.status_code == 200, answer.text
            with anyio.fail_after(5):
                await heard.wait()
            took = time.monotonic() - started
        group.cancel_scope.cancel()
    assert took <= 0.5, f"heard after {took:.2f} s"


async def test_two_syncs_at_once_read_each_page_once_and_count_the_rows(
    deployment: Deployment, sim: SimulatorThread
) -> None:
    before = sim.state.commands["getContacts"]
    env = {**deployment.env, "AMEYO_SYNC_PAGE_SIZE": "100", "AMEYO_SYNC_RATE": "0"}
    command = [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "1"]
    async with anyio.create_task_group() as group:
        runs: list[subprocess.CompletedProcess[bytes]] = []

        async def sync() -> None:
            runs.append(await anyio.run_process(command, env=env, cwd=deployment.folder, check=False))

        for _ in range(2):
            group.start_soon(sync)
    assert all(run.returncode == 0 for run in runs), [run.stderr for run in runs]
    said = "\n".join(run.stdout.decode() for run in runs)
    assert "skipped" in said, said
    contacts = len(sim.state.contacts(1))
    pages = contacts // 100 + 1
    assert sim.state.commands["getContacts"] - before <= pages + 2
    assert f"{contacts:,} contacts" in said, said


async def test_a_replica_killed_during_a_write_leaves_an_unknown_outcome_no_other_resends(
    deployment: Deployment, sim: SimulatorThread
) -> None:
    customer = sim.state.contacts(1)[41].customer_id
    sim.state.faults.commands = {"addCallback"}
    sim.state.faults.delay_s = 10.0
    victim = deployment.procs[2]
    try:

        async def call() -> None:
            with suppress(Exception):
                async with Client(deployment.urls[2], mode="2026-07-28") as client:
                    await client.call_tool("ameyo_add_callback", callback_args(customer))

        before = sim.state.executed["addCallback"]
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            with anyio.fail_after(30):
                while sim.state.executed["addCallback"] == before:  # noqa: ASYNC110 - another thread counts
                    await anyio.sleep(0.02)
            victim.send_signal(signal.SIGKILL)
            await anyio.to_thread.run_sync(lambda: victim.wait(timeout=10))
            group.cancel_scope.cancel()
    finally:
        sim.state.faults.delay_s = 0.0
    async with Client(deployment.proxy + "/mcp", mode="2026-07-28") as client:
        for _ in range(2):  # through each live replica
            again = await client.call_tool("ameyo_add_callback", callback_args(customer))
            assert again.is_error and "unknown outcome" in text_of(again), text_of(again)
    assert sim.state.executed["addCallback"] == before + 1


async def test_readiness_and_lookups_come_back_after_postgresql_restarts(
    deployment: Deployment, own_postgres: Any
) -> None:

    live = [i for i, proc in enumerate(deployment.procs) if proc.poll() is None]
    stop_postgres(own_postgres)
    try:
        async with httpx.AsyncClient() as http:
            for i in live:
                assert (await http.get(deployment.base(i) + "/readyz")).status_code == 503
                assert (await http.get(deployment.base(i) + "/healthz")).status_code == 200
    finally:
        start_postgres(own_postgres)
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        for i in live:
            while (await http.get(deployment.base(i) + "/readyz")).status_code != 200:
                assert time.monotonic() - started < 20, "not ready 20 s after PostgreSQL came back"
                await anyio.sleep(0.2)
    async with Client(deployment.proxy + "/mcp", mode="2026-07-28") as client:
        for _ in live:
            found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "9876500011"})
            assert not found.is_error, text_of(found)
            history = await client.call_tool("ameyo_call_history", {})
            assert not history.is_error, text_of(history)
    assert time.monotonic() - started < 20
