"""Small answers that must not mislead: each count counts what it names, an empty look says why it
is empty, and a record is told what became of each of its fields. Through a real MCP client against
the simulator."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import InProcessSimulator, text_of

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


async def test_a_disabled_lead_skipped_by_enabled_leads_only_is_not_called_empty(
    client: Client, simulator: InProcessSimulator
) -> None:
    """Lead 35 is disabled: with enabled_leads_only the answer said it "looked in: all 0 contacts of
    lead 35", an empty lead, and with lead 21 beside it "all 97 contacts of leads 35, 21", though
    none of them was lead 35's. It is said to be skipped, and not named among the leads read."""
    assert not next(lead for lead in simulator.state.leads(1) if lead.lead_id == 35).enabled
    alone = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "lead_ids": [35], "enabled_leads_only": True}
    )
    text = text_of(alone)
    assert not alone.is_error, text
    assert "0 contacts of lead 35" not in text, text
    assert "(looked in: nothing: lead 35 is disabled, and enabled_leads_only skips it)" in text, text
    assert "Lead 35 is disabled, and enabled_leads_only leaves disabled leads out" in text, text
    assert alone.structured_content is not None and alone.structured_content["scanned"] == 0
    beside = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "lead_ids": [35, 21], "enabled_leads_only": True}
    )
    text = text_of(beside)
    in_21 = sum(1 for c in simulator.state.contacts(1) if c.lead_id == 21)
    assert f"looked in: all {in_21} contacts of lead 21, read live" in text, text
    assert "leads 35, 21" not in text and "Lead 35 is disabled" in text, text
