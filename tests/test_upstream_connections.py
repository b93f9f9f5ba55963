"""Connections to Ameyo are reused: bursts of concurrent calls through a real MCP client open no
more TCP connections than the client may hold (behind TLS each new one is a handshake)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import settings_for, text_of

# Real connections are what these tests are about.
pytestmark = [pytest.mark.anyio, pytest.mark.network]


@pytest.fixture
def settings(simulator: SimulatorThread, tmp_path: Path) -> Settings:
    # Fifty calls at once on a loaded machine may take longer than the usual test timeout; how
    # fast they are is not what these tests measure.
    return settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="60")


MAX_OPEN = 16  # the client's connection limit


@pytest.mark.slow
async def test_bursts_of_fifty_calls_reuse_connections(client: Client, simulator: SimulatorThread) -> None:
    await client.call_tool("ameyo_list_campaigns", {})
    before = simulator.connections_accepted
    for _ in range(3):
        results = await asyncio.gather(
            *(client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 5}) for _ in range(50))
        )
        errors = [text_of(r) for r in results if r.is_error]
        assert errors == []
    assert simulator.state.commands["getContacts"] == 150
    opened = simulator.connections_accepted - before
    assert 0 < opened <= MAX_OPEN, f"{opened} new connections for 150 requests"
