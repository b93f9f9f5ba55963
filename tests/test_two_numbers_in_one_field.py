"""Two numbers in one field, as agents note a customer's second line ("9811110001/9811110002",
"98111 10001, 98111 10002"). The slash is something numbers are written with, so the two were read
as one: a lookup searched for the ending "…98111100019811110002" and answered that no customer has
it, a callback was refused as for someone not in the campaign, to be added again, and an upload was
refused as a number with "too many digits", as if a digit were mistyped."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, synced, text_of
from tests.test_file_do_not_call import added_after_the_sync

pytestmark = pytest.mark.anyio

TWO = "two phone numbers in one field"


async def test_a_lookup_or_callback_by_two_numbers_says_so_instead_of_finding_no_one(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    added_after_the_sync(simulator, {"phone1": "9811110001", "name": "प्रिया शर्मा"})
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        when = "2030-01-07T15:00:00"
        for phone in ("9811110001/9811110002", "98111 10001, 98111 10002", "+91 98111 10001 / 02"):
            calls = (
                ("ameyo_get_contacts", {"campaign": 1, "phone": phone}),
                ("ameyo_call_history", {"phone": phone}),
                ("ameyo_add_callback", {"campaign": 1, "phone": phone, "callback_time": when}),
            )
            for tool, arguments in calls:
                result = await client.call_tool(tool, arguments)
                text = text_of(result)
                assert result.is_error and TWO in text and "one number at a time" in text, (tool, text)
        one = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "98111-10001"})
        assert ": 1 contact matches" in text_of(one), text_of(one)


async def test_an_upload_refuses_two_numbers_in_one_field_by_what_they_are(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    records = [
        {"phone1": "9811110003/9811110004", "name": "মৌমিতা দাস"},
        {"phone1": "98111 10005; 98111 10006", "name": "கார்த்திக்"},
        {"phone1": "9811110007", "name": "ભાવેશ", "phone2": "9811110008 / 9811110009"},
        {"phone1": "98765/43210", "name": "one number, a slash among its digits"},
    ]
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records, "dry_run": True}
        )
    text = text_of(result)
    refused = {r["position"]: r["reason"] for r in (result.structured_content or {})["records"]}
    assert sorted(refused) == [1, 2, 3], text
    assert all(TWO in reason and "phone2" in reason for reason in refused.values()), text
    assert "too many digits" not in text and "letters" not in text, text
