"""Callbacks still to come are listed one by one, each with its agent when it has one, and counted.

Three callbacks to one customer at the same time (for agent1, agent2 and any agent) are three calls
Ameyo makes; they were listed as a set of times ("still to come: scheduled at 2030-06-01 11:00:00"),
so a model asked "what callbacks does Priya have?" answered one, and two more rang."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio

PRIYA = 12001
AT = "2030-06-01T11:00:00"


async def test_every_callback_still_to_come_is_listed_with_its_agent(client: Client, simulator: Any) -> None:
    for agent in ("agent1", "agent2", None):
        args: dict[str, Any] = {"campaign": 1, "customer_id": PRIYA, "callback_time": AT}
        if agent:
            args["agent"] = agent
        result = await client.call_tool("ameyo_add_callback", args)
        assert not result.is_error, text_of(result)
    last = result.structured_content
    assert last is not None
    assert last["also_scheduled"] == [
        "2030-06-01 11:00 Asia/Kolkata for agent agent1",
        "2030-06-01 11:00 Asia/Kolkata for agent agent2",
    ]
    assert "also has 2 callbacks" in text_of(result), text_of(result)
    held = [c for c in simulator.state.callbacks(1) if c.customer_id == PRIYA]
    assert len(held) == 3
    found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [PRIYA]})
    assert found.structured_content is not None
    assert found.structured_content["callbacks_scheduled"] == [
        "2030-06-01 11:00 Asia/Kolkata",
        "2030-06-01 11:00 Asia/Kolkata for agent agent1",
        "2030-06-01 11:00 Asia/Kolkata for agent agent2",
    ]
    text = text_of(found)
    assert (
        "still to come: 3 callbacks scheduled at 2030-06-01 11:00 Asia/Kolkata, 2030-06-01 11:00 "
        "Asia/Kolkata for agent agent1, 2030-06-01 11:00 Asia/Kolkata for agent agent2."
    ) in text, text
