"""A listing Ameyo orders is read live: its answer says once where its counts by status come from."""

from __future__ import annotations

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from tests.conftest import Simulator, server_of, synced, text_of

pytestmark = pytest.mark.anyio


async def test_an_ordered_listing_says_once_that_its_counts_are_read_live(
    simulator: Simulator, settings: Settings
) -> None:
    """With an index, a listing in Ameyo's order reads every contact live and counts them as read
    ("By status now"): the answer also said "the whole campaign's counts by status are the index's",
    two sources for one count."""
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        answer = await client.call_tool(
            "ameyo_get_contacts", {"campaign": 1, "order_by": "last_dialed_time desc", "limit": 3}
        )
    text = text_of(answer)
    assert not answer.is_error, text
    assert "By status now: " in text, text
    assert "index's" not in text and "as of the index" not in text, text
    assert "read live" in text, text
