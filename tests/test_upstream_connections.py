"""Connections to Ameyo are reused: bursts of concurrent calls through a real MCP client open no
more TCP connections than the client may hold (behind TLS each new one is a handshake)."""

from __future__ import annotations

import asyncio

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of

# Other processes and real connections are what these tests are about.
pytestmark = [pytest.mark.anyio, pytest.mark.network]

MAX_OPEN = 16  # the client's connection limit


async def test_bursts_of_fifty_calls_reuse_connections(client: Client, simulator: SimulatorThread) -> None:
    await client.call_tool("ameyo_list_campaigns", {})
    before = simulator.connections_accepted
    for _ in range(3):
        results = await asyncio.gather(
            *(client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 5}) for _ in range(50))
        )
        assert not any(r.is_error for r in results), text_of(results[0])
    assert simulator.state.commands["getContacts"] == 150
    opened = simulator.connections_accepted - before
    assert 0 < opened <= MAX_OPEN, f"{opened} new connections for 150 requests"
