"""`ameyo://calls/today` and its subscribers: a push stored by a separate receiver reaches clients of
both protocol generations as notifications/resources/updated."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from ameyo_mcp.server.calls_today import URI
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for
from tests.test_receiver import TOKEN, Receiver, start_receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = start_receiver(tmp_path, str(tmp_path / "calls.db"))
    try:
        yield running
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)


async def push(receiver: Receiver, call_id: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(
            receiver.url,
            params={"token": TOKEN, "callId": call_id, "customerId": "12458", "systemDisposition": "BUSY"},
        )
    assert reply.status_code == 200


async def test_the_resource_counts_todays_calls(
    receiver: Receiver, simulator: SimulatorThread, tmp_path: Path
) -> None:
    await push(receiver, "r1")
    await push(receiver, "r2")
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "calls.db"))
    async with Client(server_of(simulator, settings)) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        assert URI in listed
        content = (await client.read_resource(URI)).contents[0]
        today = json.loads(content.text)  # type: ignore[union-attr]
    assert today["calls"] == 2 and today["by_outcome"] == {"BUSY": 2}
    assert today["timezone"] == "Asia/Kolkata" and len(today["newest"]) == 2


async def test_listen_subscribers_hear_of_new_outcomes(
    receiver: Receiver, simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "calls.db"))
    async with (
        Client(server_of(simulator, settings)) as client,
        client.listen(resource_subscriptions=[URI]) as sub,
    ):
        await anyio.sleep(2.5)  # the feed has looked once: what it saw is not news
        await push(receiver, "n1")
        with anyio.fail_after(10):
            event = await sub.__anext__()
    assert event == ResourceUpdated(uri=URI)


async def test_resources_subscribe_clients_hear_of_new_outcomes(
    receiver: Receiver, simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "calls.db"))
    heard = anyio.Event()
    uris: list[str] = []

    async def on_message(message: Any) -> None:
        params = getattr(getattr(message, "params", None), "uri", None)
        if getattr(message, "method", "") == "notifications/resources/updated":
            uris.append(str(params))
            heard.set()

    async with Client(server_of(simulator, settings), mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources.subscribe  # type: ignore[union-attr]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # resources/subscribe is the pre-2026 way, on purpose
            await client.subscribe_resource(URI)
            # Nothing else changes while the server runs: subscribed to, it would never be heard of.
            with pytest.raises(MCPError, match="Only ameyo://calls/today can be subscribed to"):
                await client.subscribe_resource("ameyo://campaigns")
        await anyio.sleep(2.5)
        await push(receiver, "n2")
        with anyio.fail_after(10):
            await heard.wait()
    assert uris == [URI]


def test_starting_the_server_loads_neither_the_store_nor_the_receiver() -> None:
    # Cold start is benchmarked: call history costs nothing until it is first asked for.
    code = (
        "import sys, ameyo_mcp.server.app, ameyo_mcp.server.http\n"
        "from ameyo_mcp.config import load_settings\n"
        "s = load_settings({'AMEYO_BASE_URL': 'http://127.0.0.1:9', 'AMEYO_USER_ID': 'u', "
        "'AMEYO_PASSWORD': 'p'}, env_file=None)\n"
        "ameyo_mcp.server.app.create_server(s)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('ameyo_mcp.store', 'ameyo_mcp.receiver', "
        "'sqlite3', 'psycopg'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.network
async def test_without_mcp_sessions_resources_subscribe_is_not_offered(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    # AMEYO_HTTP_STATELESS: a 2025-11-25 request's session ends with its answer, so nobody who
    # subscribed that way could be told of anything; 2026-07-28 clients listen on their own stream.
    from mcp.shared.exceptions import MCPError

    from tests.conftest import http_process
    from tests.test_replicas import replica_env

    env = replica_env(simulator, tmp_path / "state", str(tmp_path / "calls.db"), AMEYO_HTTP_STATELESS="true")
    with http_process(env, tmp_path) as (url, _):
        async with Client(url, mode="legacy") as old:
            assert old.server_capabilities.resources is not None
            assert not old.server_capabilities.resources.subscribe
            with warnings.catch_warnings(), pytest.raises(MCPError, match=r"(?i)method not found"):
                warnings.simplefilter("ignore")  # resources/subscribe is the pre-2026 way, on purpose
                await old.subscribe_resource(URI)
            assert (await old.read_resource(URI)).contents  # the resource itself is still there
        async with Client(url) as new:
            assert new.server_capabilities.resources is not None
            assert new.server_capabilities.resources.subscribe
