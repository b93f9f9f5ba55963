"""A callback by phone goes to the customer whose number IS the number given, never to one found
only because a longer, other number of theirs ends with it (Ameyo's `0458681166572` for
`8681166572`): that customer is someone else unless the person means them. The lookup already says
so (`same_number: false`); the callback took them as the number's customer, or refused as
ambiguous when the number's own customer was there too."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

SEEDED = "0458681166572"  # customer 12458 of campaign 1, as Ameyo holds it
GIVEN = "8681166572"  # a whole number that 12458's only ends with
WHEN = "2031-05-01T11:00:00"


async def test_a_customer_whose_number_only_ends_with_the_one_given_is_not_called(
    simulator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        refused = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": GIVEN, "callback_time": WHEN}
        )
        assert simulator.state.executed["addCallback"] == 0, text_of(refused)
        # The refusal's way forward: the customer named, by id, is then called on their own number.
        meant = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": WHEN}
        )
        # Given with another customer's id, the number is not said to belong to 12458.
        other = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": 12001, "phone": GIVEN, "callback_time": WHEN},
        )
    text = text_of(refused)
    assert refused.is_error, text
    assert f"has the number {GIVEN}: customer 12458's number {SEEDED} only ends with it" in text, text
    assert "pass customer_id 12458" in text, text
    assert not meant.is_error, text_of(meant)
    assert [cb.phone for cb in simulator.state.callbacks(1) if cb.customer_id == 12458] == [SEEDED]
    assert other.is_error and "belongs to customer 12458" not in text_of(other), text_of(other)
    assert "is not one of customer 12001's numbers" in text_of(other), text_of(other)


async def test_the_customer_whose_number_is_the_one_given_is_chosen_over_one_it_only_ends(
    simulator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        added = await client.call_tool(
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": 1, "records": [{"phone1": GIVEN, "name": "Own Number"}]},
        )
        assert added.structured_content is not None, text_of(added)
        [own] = added.structured_content["added_customer_ids"]
        await synced(simulator, settings)
        result = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": f"+91 {GIVEN}", "callback_time": WHEN}
        )
    text = text_of(result)
    assert not result.is_error, text
    assert result.structured_content is not None and result.structured_content["customer_id"] == own
    sent = [
        (cb.customer_id, cb.phone) for cb in simulator.state.callbacks(1) if cb.customer_id in (own, 12458)
    ]
    assert sent == [(own, GIVEN)], sent
    assert f"Note: left aside customer 12458's number {SEEDED}, which only ends with" in text, text
