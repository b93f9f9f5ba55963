"""After PostgreSQL stops and starts again, everything on it comes back by itself: the receiver answers
503 while the store is down and 200 within 2 s after it is back, and a server's subscribers hear of
the pushes stored after the restart.

Real processes on a PostgreSQL of this module's own (`own_postgres`), stopped and started with
`pg_ctl`, as an administrator's restart does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import http_process, start_postgres, stop_postgres
from tests.test_calls_across import push, receiver_on, server_env, subscribed
from tests.test_receiver import TOKEN

# Real processes end to end, for a minute in all: run with -m slow (and by .ci/run).
pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]


async def status_of(http: httpx.AsyncClient, url: str, call_id: str) -> int:
    reply = await http.get(url, params={"token": TOKEN, "callId": call_id, "customerId": "7"})
    return reply.status_code


async def test_the_receiver_answers_503_while_postgresql_is_down_and_200_soon_after_it_is_back(
    own_postgres: Any, tmp_path: Path
) -> None:
    with receiver_on(tmp_path, own_postgres.get_uri()) as receiver:
        async with httpx.AsyncClient(timeout=30) as http:
            assert await status_of(http, receiver.url, "up") == 200
            stop_postgres(own_postgres)
            try:
                down = [await status_of(http, receiver.url, f"down{n}") for n in range(3)]
            finally:
                start_postgres(own_postgres)
            back = time.monotonic()
            answers = []
            while (status := await status_of(http, receiver.url, f"back{len(answers)}")) != 200:
                answers.append(status)
                assert time.monotonic() - back < 10, answers
                await anyio.sleep(0.05)
            took = time.monotonic() - back
    assert down == [503, 503, 503]
    assert set(answers) <= {503}
    assert took < 2.0, (took, answers)
    assert "Traceback" not in receiver.log.read_text()  # a store that is down is said in a line


async def test_subscribers_hear_of_pushes_after_postgresql_restarted(
    own_postgres: Any, tmp_path: Path
) -> None:
    url = own_postgres.get_uri()
    with (
        receiver_on(tmp_path, url) as receiver,
        http_process(server_env(tmp_path, url), tmp_path) as (mcp_url, _),
    ):
        async with subscribed(mcp_url) as heard, httpx.AsyncClient(timeout=30) as http:
            await push(http, receiver, "before-restart")
            await heard.next_after(0)
            stop_postgres(own_postgres)
            start_postgres(own_postgres)
            await anyio.sleep(1.5)  # the server's watch has its new connection
            pushed = time.monotonic()
            await push(http, receiver, "after-restart")
            delay = await heard.next_after(pushed, within_s=5)
    assert delay < 1.0, delay


async def test_a_write_answered_while_postgresql_was_down_is_settled_soon_after_it_is_back(
    own_postgres: Any, tmp_path: Path
) -> None:
    """Ameyo answered the callback while the store could not take it: the server gives the answer
    to the ledger again by itself, so that the other replicas waiting on the write read it (they had
    waited out its lease, 2 minutes and more, then called it unknown), as of when Ameyo answered."""
    from mcp import Client

    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
    from ameyo_mcp.store import Store
    from tests.test_ledger_everywhere import callback_args, env_for

    url = own_postgres.get_uri()
    began = time.time()  # the module's PostgreSQL holds the other tests' writes too
    with SimulatorThread(SimulatorConfig()) as sim:
        env = env_for(sim, tmp_path, url)
        sim.state.faults.commands = {"addCallback"}
        sim.state.faults.delay_s = 3.0  # Ameyo runs it at once and answers late
        with http_process(env, tmp_path) as (mcp_url, _proc):
            async with Client(mcp_url) as client:
                async with anyio.create_task_group() as group:
                    texts: list[str] = []

                    async def call() -> None:
                        result = await client.call_tool("ameyo_add_callback", callback_args())
                        texts.append(str(result.content[0].text))  # type: ignore[union-attr]

                    group.start_soon(call)
                    with anyio.fail_after(20):
                        while sim.state.executed["addCallback"] < 1:  # noqa: ASYNC110 - another thread counts
                            await anyio.sleep(0.02)
                    stop_postgres(own_postgres)
                answered_at = time.time()
                start_postgres(own_postgres)
                assert "scheduled" in texts[0], texts
                back = time.monotonic()
                with Store(url) as store:
                    while True:
                        entries = store.writes_since(began)
                        if entries and entries[0].state == "answered":
                            break
                        assert time.monotonic() - back < 10, entries
                        await anyio.sleep(0.2)
    (entry,) = entries
    assert entry.settled_at is not None and entry.settled_at <= answered_at + 1


async def test_a_server_stopped_while_postgresql_is_down_waits_to_settle_what_ameyo_answered(
    own_postgres: Any, tmp_path: Path
) -> None:
    """SIGTERM while the store cannot take a write Ameyo answered: the server gives it to the store
    for up to AMEYO_DRAIN_S before it exits (it had exited at once, and the write read as unknown)."""
    import signal

    from mcp import Client

    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
    from ameyo_mcp.store import Store
    from tests.test_ledger_everywhere import callback_args, env_for

    url = own_postgres.get_uri()
    began = time.time()  # the module's PostgreSQL holds the other tests' writes too
    with SimulatorThread(SimulatorConfig()) as sim:
        env = env_for(sim, tmp_path, url, AMEYO_DRAIN_S="60")  # a loaded machine restarts slowly
        sim.state.faults.commands = {"addCallback"}
        sim.state.faults.delay_s = 3.0
        with http_process(env, tmp_path) as (mcp_url, proc):
            async with Client(mcp_url) as client, anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "ameyo_add_callback", callback_args())
                with anyio.fail_after(20):
                    while sim.state.executed["addCallback"] < 1:  # noqa: ASYNC110 - another thread counts
                        await anyio.sleep(0.02)
                stop_postgres(own_postgres)
            proc.send_signal(signal.SIGTERM)
            await anyio.sleep(2.0)
            assert proc.poll() is None, "the server stopped without settling what Ameyo answered"
            start_postgres(own_postgres)
            await anyio.to_thread.run_sync(lambda: proc.wait(timeout=90))
            said = proc.stderr.read().decode() if proc.stderr else ""
    with Store(url) as store:
        entries = store.writes_since(began)
    assert [e.state for e in entries] == ["answered"], (entries, said[-2000:])


async def test_a_cli_upload_ending_while_postgresql_is_down_waits_to_settle_what_ameyo_answered(
    own_postgres: Any, tmp_path: Path
) -> None:
    """As the server does at SIGTERM: `ameyo-mcp upload` gives the ledger Ameyo's answer for up to
    AMEYO_DRAIN_S before it exits (it had exited at once, and its batch read as unknown to all)."""
    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
    from ameyo_mcp.store import Store
    from tests.test_bulk_exact import cli
    from tests.test_ledger_everywhere import env_for

    url = own_postgres.get_uri()
    began = time.time()
    with SimulatorThread(SimulatorConfig()) as sim:
        env = env_for(sim, tmp_path, url, AMEYO_DRAIN_S="60")
        source = tmp_path / "uploads" / "list.csv"
        source.write_text("phone1,name\n9812300501,Asha\n9812300502,Ravi\n", encoding="utf-8")
        sim.state.faults.commands = {"uploadContacts"}
        sim.state.faults.delay_s = 3.0
        command = cli(source)  # into lead 1 of campaign 1
        log = tmp_path / "upload.log"
        with log.open("wb") as output:
            proc = await anyio.open_process(command, env=env, stdout=output, stderr=output)
        try:
            with anyio.fail_after(30):
                while sim.state.executed["uploadContacts"] < 1:  # noqa: ASYNC110 - another thread counts
                    await anyio.sleep(0.02)
            stop_postgres(own_postgres)
            with anyio.fail_after(30):  # the answer came (after 3 s) while the store was down
                while "the write ledger did not take" not in log.read_text():  # noqa: ASYNC110 - a file
                    await anyio.sleep(0.05)
            await anyio.sleep(1.0)  # (the run's end, had it not waited, comes right after that line)
            assert proc.returncode is None, "the upload ended without settling what Ameyo answered"
            start_postgres(own_postgres)
            with anyio.fail_after(90):
                await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            start_postgres(own_postgres)  # (running already, unless an assertion came first)
    with Store(url) as store:
        entries = store.writes_since(began)
    assert [e.state for e in entries] == ["answered"], (entries, log.read_text()[-2000:])
    assert sim.state.executed["uploadContacts"] == 1
