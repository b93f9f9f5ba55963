"""Answers that say what their figures are about: the lead a call history was asked for that is no
lead at all, the contacts a campaign's counts by status cover, and the agent an upload's callbacks
go to. Through a real MCP client against the simulator."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio

LATER = "2031-05-01T11:00:00"


async def test_the_call_history_of_a_lead_that_is_in_no_campaign_says_so(client: Client) -> None:
    """A bare "0 … none match" read as a quiet lead; ameyo_get_contacts refuses the same lead."""
    anywhere = text_of(await client.call_tool("ameyo_call_history", {"lead_id": 77}))
    assert "Lead 77 is in none of this user's campaigns; their leads are " in anywhere, anywhere
    assert "MoviStarSurvey (1): 1, 21, 35, 39" in anywhere and "MOSL_Frenchise (5): 51" in anywhere
    here = text_of(await client.call_tool("ameyo_call_history", {"lead_id": 77, "campaign": 1}))
    refused = text_of(await client.call_tool("ameyo_get_contacts", {"campaign": 1, "lead_ids": [77]}))
    assert refused in here, (refused, here)  # the same words as the contacts' refusal
    # A lead of the campaign, or of another, with no calls: a plain zero.
    for args in ({"lead_id": 21}, {"lead_id": 21, "campaign": 1}, {"lead_id": 51}):
        quiet = text_of(await client.call_tool("ameyo_call_history", args))
        assert ": 0." in quiet and "Lead " not in quiet, (args, quiet)
    elsewhere = text_of(await client.call_tool("ameyo_call_history", {"lead_id": 51, "campaign": 1}))
    assert "Lead 51 is not in campaign MoviStarSurvey (1); its leads are 1, 21, 35, 39" in elsewhere
