"""A date with an offset and no time of day ("2030-06-04+10:00", "2030-06-04Z", or "20300604") is a
date alone: a callback at it is refused as having no time of day, as "2030-06-04" is, and the call
history reads it as the date's midnight in its offset. Python's own reading took the offset for a
time of day, and a callback was scheduled at 10:00 in the server's zone without a word. So is a week
date ("2030-W23-2", that Tuesday), which had been scheduled at its midnight."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "given",
    [
        "2030-06-04+10:00",
        "2030-06-04-04:00",
        "2030-06-04Z",
        "20300604",
        "2030-W23-2",
        "2030W232",
        "2030-W23-2+10:00",
    ],
)
async def test_a_date_with_an_offset_but_no_time_is_refused(
    client: Client, simulator: SimulatorThread, given: str
) -> None:
    result = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12001, "callback_time": given}
    )
    assert result.is_error and "no time of day" in text_of(result), text_of(result)
    assert "e.g. 2030-06-04T10:00:00" in text_of(result), text_of(result)
    assert simulator.state.executed["addCallback"] == 0


async def test_the_call_history_reads_a_date_with_an_offset_as_its_midnight_there(client: Client) -> None:
    today = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    result = await client.call_tool("ameyo_call_history", {"since": f"{today}-04:00"})
    # Midnight at -04:00 is 09:30 in Kolkata (it had been read as 04:00 there).
    assert f"{today} 09:30" in text_of(result) or f"{today} 09:30" in str(result.structured_content), text_of(
        result
    )


async def test_the_call_history_says_a_date_the_calendar_lacks_is_one(client: Client) -> None:
    result = await client.call_tool("ameyo_call_history", {"since": "2026-02-30"})
    said = text_of(result)
    assert result.is_error and "since '2026-02-30' is not a real date and time" in said, said
    assert "day is out of range for month" in said and "not an ISO 8601" not in said, said
