"""A record upload's dry run sends nothing, and its structured answer says so: "sent" is 0 and the
records that passed the checks are counted in "would_send" (as the file tool's dry run has
"sent_now": 0), so that a client or model reading the structured data alone does not report them
sent. A real run's "would_send" is 0."""

from __future__ import annotations

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio


async def test_a_dry_run_counts_records_it_would_send_not_sent(client: Client, simulator) -> None:  # type: ignore[no-untyped-def]
    records = [{"phone1": f"98765000{i:02d}", "name": f"N{i}"} for i in range(3)]
    dry = await client.call_tool(
        "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records, "dry_run": True}
    )
    out = dry.structured_content
    assert out is not None and out["dry_run"] is True
    assert simulator.state.executed["uploadContacts"] == 0
    assert (out["sent"], out["would_send"]) == (0, 3), out
    sent = await client.call_tool("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records})
    assert sent.structured_content is not None
    assert (sent.structured_content["sent"], sent.structured_content["would_send"]) == (3, 0)


async def test_a_callback_dry_run_counts_records_it_would_send_not_sent(client: Client, simulator) -> None:  # type: ignore[no-untyped-def]
    records = [{"customer": {"phone1": "9876500555", "name": "Asha"}, "callback_time": "2030-03-04T11:00:00"}]
    dry = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {"campaign": 1, "lead_id": 21, "records": records, "dry_run": True},
    )
    out = dry.structured_content
    assert out is not None and out["dry_run"] is True, out
    assert simulator.state.executed["uploadContactsWithCallback"] == 0
    assert (out["sent"], out["would_send"]) == (0, 1), out
