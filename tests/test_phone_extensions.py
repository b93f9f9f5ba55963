"""A number with an extension, as offices give theirs ("022-2345 6789 ext 101"). Its letters made it
"no phone number", and an upload's refusal advised checking "that the right column is phone1": the
column was right, and nothing said the extension was what Ameyo cannot dial."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

NUMBERS = ("022-2345 6789 ext 101", "(080) 23456789 Ext. 12", "9811140001 x 5", "+91 22 2345 6789 extn 7")


async def test_a_number_with_an_extension_is_refused_for_its_extension(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    records = [{"phone1": number, "name": "कार्यालय"} for number in NUMBERS]
    async with Client(server_of(simulator, settings)) as client:
        upload = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records, "dry_run": True}
        )
        lookups = [await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": n}) for n in NUMBERS]
    reasons = [r["reason"] for r in (upload.structured_content or {})["records"]]
    assert len(reasons) == len(NUMBERS), text_of(upload)
    assert all("extension" in reason and "right column" not in reason for reason in reasons), reasons
    for lookup in lookups:
        assert lookup.is_error and "without its extension" in text_of(lookup), text_of(lookup)
