"""The one-seat promise across a store outage, with a real `ameyo-mcp` replica process on a real
PostgreSQL (a module's own, stopped and started with pg_ctl), against the simulator on a real port.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.store import Store
from ameyo_mcp.store.lease import LeaseKey
from tests.conftest import free_port, listening, start_postgres, stop_postgres, text_of
from tests.test_ledger_everywhere import env_for

pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]


@contextmanager
def simulator_on(config: SimulatorConfig) -> Iterator[SimulatorThread]:
    sim = SimulatorThread(config).start()
    try:
        yield sim
    finally:
        sim.stop()


@contextmanager
def replica(env: dict[str, str], folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """`ameyo-mcp --transport http` on a free port: its MCP URL, process and log file."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / f"replica-{port}.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "--transport", "http", "--port", str(port)],
            env=env,
            cwd=str(folder),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        listening(port, proc, log.read_text)
        yield f"http://127.0.0.1:{port}/mcp", proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fresh_database(server: Any) -> str:
    import uuid

    import psycopg

    url: str = server.get_uri()
    name = f"outage_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return url.replace("/postgres?", f"/{name}?", 1)


async def lookup(client: Client) -> None:
    done = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001]})
    assert not done.is_error, text_of(done)


async def test_a_replica_back_from_a_store_outage_keeps_its_live_session_over_one_ameyo_called_gone(
    own_postgres: Any, tmp_path: Path
) -> None:
    """While PostgreSQL is down, Ameyo ends the shared session; the replica meets "invalid session",
    cannot drop it from the lease, and logs in on its own (one seat, as documented). Once the store
    is back it drops the dead session from the lease and hands its live one to it: it must not take
    up the very session Ameyo told it was gone (fresh by the lease's clock) and log its own live one
    out, leaving no live session and a login more for the next call."""
    url = fresh_database(own_postgres)
    with simulator_on(SimulatorConfig(ping_interval_ms=2000)) as sim:
        env = env_for(sim, tmp_path, url)
        with replica(env, tmp_path) as (mcp_url, _proc, log):
            async with Client(mcp_url) as client:
                await lookup(client)
                assert sim.state.logins == 1
                stop_postgres(own_postgres)
                try:
                    sim.state.expire_all_sessions()  # Ameyo restarted, or timed the session out
                    await lookup(client)  # invalid session -> a login of its own (store down)
                    assert sim.state.logins == 2
                    own = sim.state.live_sessions()
                    assert len(own) == 1
                finally:
                    start_postgres(own_postgres)
                # A few keepalive looks (every ping interval, 2 s): the replica rejoins the lease.
                with Store(url) as store:
                    key = LeaseKey(sim.base_url, sim.state.config.user_id)
                    deadline = time.monotonic() + 20
                    while "shared again" not in log.read_text():
                        assert time.monotonic() < deadline, log.read_text()
                        await anyio.sleep(0.2)
                    await anyio.sleep(3)
                    lease = store.session_lease(key)
                live_after_rejoin = sim.state.live_sessions()
                logouts_after_rejoin = sim.state.logouts
                await lookup(client)
    # The session it held alone, live in Ameyo, is the one kept: not logged out, no new login.
    assert logouts_after_rejoin == 0 and live_after_rejoin == own, (
        logouts_after_rejoin,
        live_after_rejoin,
        own,
    )
    assert lease is not None and lease.sealed is not None, lease
    assert sim.state.logins == 2, f"{sim.state.logins} logins: the dead session was taken up and renewed"
