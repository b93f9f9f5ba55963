"""The customers added in Ameyo since the sync, read for a lookup (and for every upload's do-not-call
check), newest first: the first page asked for 500 contacts even when nobody was added since (most
lookups), where a few reach the customers the sync read. It asks for FIRST_PAGE."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.index.added import FIRST_PAGE
from ameyo_mcp.simulator import SimulatorConfig
from ameyo_mcp.simulator.state import ContactQuery, ContactRow, SimulatorState
from tests.conftest import InProcessSimulator, server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

NEWEST = ("customerId desc", f"LIMIT {FIRST_PAGE} OFFSET 0")
BY_ID = (None, None)


class Asked(SimulatorState):
    """The simulated Ameyo, keeping what each getContacts asked for: (order, limit and offset)."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.asked: list[tuple[str | None, str | int | None]] = []

    def get_contacts(self, query: ContactQuery) -> list[ContactRow]:
        self.asked.append((query.order_by, query.limit_offset))
        return super().get_contacts(query)


class Lookups:
    """An MCP client session of a server whose campaign 1 is synced, and the getContacts each tool
    call asks for."""

    def __init__(self, state: Asked, client: Client) -> None:
        self.state, self.client = state, client

    async def __call__(self, tool: str, args: dict[str, object]) -> tuple[str, list[tuple[object, object]]]:
        self.state.asked.clear()
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, text_of(result)
        return text_of(result), list(self.state.asked)


@pytest.fixture
async def synced_simulator(tmp_path: Path) -> tuple[InProcessSimulator, Asked, Path]:
    state = Asked(SimulatorConfig(password="pw-5ec2e7-simulated"))
    simulator = InProcessSimulator(state.config, state)
    await synced(simulator, settings_for(simulator, tmp_path))
    return simulator, state, tmp_path


async def test_a_lookup_that_finds_nobody_reads_a_small_page_of_the_newest(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    simulator, state, tmp_path = synced_simulator
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        text, requests = await Lookups(state, client)(
            "ameyo_get_contacts", {"campaign": 1, "phone": "9000011111"}
        )
    assert requests == [NEWEST], requests
    assert "0 contacts match" in text and "number or name changed in Ameyo since the sync" in text, text
    assert f"and the {FIRST_PAGE} newest contacts in Ameyo, read live" in text, text
