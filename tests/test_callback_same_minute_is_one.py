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


@pytest.mark.parametrize("order", ["upload first", "add_callback first"])
async def test_another_tools_callback_in_the_same_minute_is_told_at_its_own_time(
    client: Client, simulator: Any, order: str
) -> None:
    """Held by another tool's write in the same minute, a callback was refused saying that write
    had scheduled it at the seconds asked, a time at which no callback exists."""
    upload_at, asked_at = ("15:00:00", "15:00:30") if order == "upload first" else ("15:00:30", "15:00:00")
    record = {"customer": {"phone1": "+91 73080 59204"}, "callback_time": f"2030-06-01T{upload_at}"}
    upload = {"campaign": 1, "lead_id": 1, "records": [record], "update_existing": True}
    add = {"campaign": 1, "customer_id": PRIYA, "callback_time": f"2030-06-01T{asked_at}"}
    calls = [("ameyo_upload_contacts_with_callbacks", upload), ("ameyo_add_callback", add)]
    if order != "upload first":
        calls.reverse()
    first = await client.call_tool(*calls[0])
    assert not first.is_error, text_of(first)
    held = await client.call_tool(*calls[1])
    text = text_of(held)
    scheduled = upload_at if order == "upload first" else asked_at
    other = asked_at if order == "upload first" else upload_at
    assert "another write scheduled" in text, text
    assert (
        f"at 2030-06-01 {scheduled} (the Ameyo server's time), the same minute as the {other} asked" in text
    ), text
    assert f"at 2030-06-01 {other} (" not in text, text
