"""Answers a person can take at their word (issue 19): counts that are counts, the newest call as the
last one, one outcome under one name, refusals of what Ameyo would refuse or misread, and wording
that adds up. Through a real MCP client against the simulator."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio


LATER = "2031-05-01T11:00:00"


async def test_letters_in_a_phone_are_refused_not_dropped(client: Client) -> None:
    bad = "98765abc"
    for tool, args in (
        ("ameyo_get_contacts", {"campaign": 1, "phone": bad}),
        ("ameyo_call_history", {"phone": bad}),
        ("ameyo_add_callback", {"campaign": 1, "phone": bad, "callback_time": LATER}),
        ("ameyo_add_callback", {"campaign": 1, "phone": bad, "customer_id": 12458, "callback_time": LATER}),
    ):
        result = await client.call_tool(tool, args)
        text = text_of(result)
        assert result.is_error, (tool, text)
        assert "'98765abc' is not a phone number" in text, (tool, text)
        assert "…98765" not in text and "0 contacts" not in text
