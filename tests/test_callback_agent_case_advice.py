"""Advice about an agent id spelt in another case than the pushed calls' is advice that works.

A callback routed to "AGENT2", when the calls spell the agent "agent2", is answered with advice to
schedule it for the id as spelt there. The ledger takes agent ids in any case as one callback, so
doing just that was refused ("pass allow_repeat=true only if a second callback is meant"). The
advice says allow_repeat=true, and following it sends the callback to the id as spelt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.conftest import server_of, settings_for, text_of
from tests.test_fences import TOKEN, receiver

pytestmark = pytest.mark.anyio


async def test_following_the_agent_case_advice_schedules_it(simulator: Any, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)
    async with receiver(settings) as push:
        await push(customerId="12003", campaignId="1", userId="agent2", systemDisposition="CONNECTED")
    args = {
        "campaign": 1,
        "customer_id": 12001,
        "callback_time": "2030-06-01T12:00:00",
        "self_callback": True,
    }
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_add_callback", {**args, "agent": "AGENT2"})
        advice = text_of(first)
        assert (
            "schedule it again for the id as spelt there with ameyo_add_callback and allow_repeat=true"
            in (advice)
        ), advice
        assert "can neither move nor cancel a callback" in advice, advice
        second = await client.call_tool(
            "ameyo_add_callback", {**args, "agent": "agent2", "allow_repeat": True}
        )
    assert not second.is_error, text_of(second)
    assert second.structured_content is not None and second.structured_content["assigned_to"] == "agent2"
    assert simulator.state.executed["addCallback"] == 2
