"""Small answers that must not mislead: each count counts what it names, an empty look says why it
is empty, and a record is told what became of each of its fields. Through a real MCP client against
the simulator."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_a_customer_id_given_twice_is_counted_once(client: Client) -> None:
    """[12001, 12001, 12001] answered "1 contact matches 3 customer ids": read as two customers
    missing."""
    once = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001] * 3})
    text = text_of(once)
    assert "1 contact matches 1 customer id (2 repeats taken once)" in text, text
    two = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001, 12002, 12001]})
    assert "2 contacts match 2 customer ids (1 repeat taken once)" in text_of(two), text_of(two)
    plain = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001, 12002]})
    assert "2 contacts match 2 customer ids (looked in" in text_of(plain), text_of(plain)
