"""The dry run of an upload with callbacks names the callbacks still to come for its customers, as
its real run does: the person approved what read as a move, and learnt of the earlier callback only
once the new one was scheduled beside it (Ameyo can neither move nor cancel one)."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import text_of

pytestmark = pytest.mark.anyio


async def test_the_dry_run_names_the_callbacks_still_to_come(client: Client) -> None:
    first = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12001, "callback_time": "2030-06-03T11:00:00"}
    )
    assert not first.is_error, text_of(first)
    record = {
        "customer": {"phone1": "917308059204", "name": "Priya Sharma"},
        "callback_time": "2030-06-07T11:00:00",
    }
    dry = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {"campaign": 1, "lead_id": 21, "records": [record], "dry_run": True},
    )
    assert not dry.is_error, text_of(dry)
    assert "2030-06-03 11:00" in text_of(dry) and "still to come" in text_of(dry), text_of(dry)
