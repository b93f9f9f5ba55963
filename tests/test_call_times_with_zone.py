"""The call history's data gives each call's time, and the callback its outcome asked for, with the
zone they are in, as every other time an answer gives (`rules.times.show`): they came as bare wall
times ("2031-05-02 10:00:00"), which a program reading the data could not place, while the text's
table head named the zone once. So do the calls of today's resource and a customer's last call."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.server.calls_today import URI
from tests.conftest import InProcessSimulator, server_of, settings_for, text_of
from tests.test_fences import IST, TOKEN, receiver

pytestmark = pytest.mark.anyio


@pytest.fixture
def pushed_settings(simulator: InProcessSimulator, tmp_path: Path) -> Settings:
    return settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)


async def test_a_calls_time_and_its_callback_carry_their_zone(
    simulator: InProcessSimulator,
    pushed_settings: Settings,
) -> None:
    # Seconds ago (the resource's calls are today's), not on a whole minute: shown to the second.
    ten_ago = (datetime.now(IST) - timedelta(seconds=10)).replace(microsecond=0)
    started = ten_ago - timedelta(seconds=ten_ago.second == 0)
    async with receiver(pushed_settings) as push:
        await push(
            phone="9334419416",
            customerId="12001",
            campaignId="1",
            dispositionName="Callback Requested",
            callStartTime=started.strftime("%Y-%m-%d %H:%M:%S"),
            callbackTime="2031-05-02 10:00:00",
        )
    since = (started - timedelta(minutes=1)).isoformat()
    async with Client(server_of(simulator, pushed_settings)) as client:
        found = await client.call_tool("ameyo_call_history", {"phone": "9334419416", "since": since})
        contact = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001]})
        today = json.loads((await client.read_resource(URI)).contents[0].text)  # type: ignore[union-attr]
    out = found.structured_content
    assert out is not None and out["timezone"] == "Asia/Kolkata", text_of(found)
    [call] = out["calls"]
    assert call["at"] == f"{started:%Y-%m-%d %H:%M:%S} Asia/Kolkata", call
    assert call["callback_at"] == "2031-05-02 10:00 Asia/Kolkata", call
    assert today["newest"][0]["at"] == call["at"], today
    assert contact.structured_content is not None, text_of(contact)
    assert contact.structured_content["last_pushed_call"]["at"] == call["at"], contact.structured_content
    # The text's table names the zone once, in its head, not on every line.
    text = text_of(found)
    assert "time (Asia/Kolkata) |" in text and f"{started:%H:%M:%S} | #12001" in text, text
