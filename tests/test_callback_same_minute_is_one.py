"""A callback to a customer in the same minute as one scheduled earlier is that callback.

A model's retry with the seconds changed ("15:00:30" for "15:00") was a second callback: Ameyo was
sent both and the customer rung twice within a minute, while both answers showed "When: 2030-06-01
15:00". The ledger keys a callback by its minute, so the retry sends nothing; it is answered as a
repeat of the first, saying both times to the second."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio

PRIYA = 12001


async def test_a_callback_in_the_same_minute_is_not_scheduled_twice(client: Client, simulator: Any) -> None:
    asked = {"campaign": 1, "customer_id": PRIYA}
    first = await client.call_tool("ameyo_add_callback", {**asked, "callback_time": "2030-06-01T15:00:00"})
    again = await client.call_tool("ameyo_add_callback", {**asked, "callback_time": "2030-06-01T15:00:30"})
    assert not first.is_error and not again.is_error, (text_of(first), text_of(again))
    assert simulator.state.executed["addCallback"] == 1, text_of(again)
    assert again.structured_content is not None
    assert again.structured_content["repeat_of_earlier_call"] is True
    assert again.structured_content["time"] == "2030-06-01 15:00 Asia/Kolkata"
    text = text_of(again)
    assert "2030-06-01 15:00:30 Asia/Kolkata was asked for" in text, text
    assert "allow_repeat=true" in text, text


async def test_a_second_within_the_minute_is_sent_when_meant(client: Client, simulator: Any) -> None:
    asked = {"campaign": 1, "customer_id": PRIYA}
    await client.call_tool("ameyo_add_callback", {**asked, "callback_time": "2030-06-01T15:00:00"})
    meant = await client.call_tool(
        "ameyo_add_callback", {**asked, "callback_time": "2030-06-01T15:00:30", "allow_repeat": True}
    )
    assert not meant.is_error, text_of(meant)
    assert simulator.state.executed["addCallback"] == 2
    assert meant.structured_content is not None
    assert meant.structured_content["time"] == "2030-06-01 15:00:30 Asia/Kolkata", text_of(meant)
