"""A callback scheduled further ahead than AMEYO_LEDGER_DAYS (30) is held in the write ledger until
it is due, pruning included: it had been forgotten 30 days after it was scheduled, while Ameyo still
held it. The customer's lookup then named no callback still to come, another time for them was
scheduled without a word about it, and the same callback asked again was sent again."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

PRIYA = 12001
FAR = "2030-06-01T11:00:00"  # within five years, months ahead


async def test_a_callback_still_to_come_is_not_forgotten_after_the_ledger_days(
    simulator: SimulatorThread, tmp_path: Path, writes_ahead: list[float]
) -> None:
    ahead = writes_ahead
    settings = settings_for(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": PRIYA, "callback_time": FAR}
        )
        assert not first.is_error, text_of(first)
        ahead[0] = 31 * 86400.0  # a month later; the callback is still months away
        looked = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [PRIYA]})
        assert "2030-06-01 11:00 Asia/Kolkata" in text_of(looked), text_of(looked)
        moved = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": PRIYA, "callback_time": "2030-06-02T11:00:00"},
        )
        assert "2030-06-01 11:00 Asia/Kolkata" in text_of(moved), text_of(moved)
        again = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": PRIYA, "callback_time": FAR}
        )
        assert text_of(again).startswith("REPEAT:") or again.is_error, text_of(again)
    times = [c.callback_time for c in simulator.state.callbacks(1) if c.customer_id == PRIYA]
    assert len(times) == 2 and len(set(times)) == 2, times  # the first once, and the one moved to
