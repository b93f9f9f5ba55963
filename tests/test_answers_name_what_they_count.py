"""Answers that say what their figures are about: the lead a call history was asked for that is no
lead at all, the contacts a campaign's counts by status cover, and the agent an upload's callbacks
go to. Through a real MCP client against the simulator."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.index import lookup
from tests.conftest import InProcessSimulator, Simulator, server_of, settings_for, synced, text_of

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


async def test_the_whole_campaign_s_count_says_it_is_the_sync_s(
    simulator: InProcessSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With uploads since the sync, "Whole campaign … (301 contacts)" stood beside "index of 306
    contacts" in the next answer, neither saying what it counts."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    records = [{"phone1": f"98760124{i:02d}", "name": f"New {i}"} for i in range(5)]
    monkeypatch.setattr(lookup, "SCAN_CAP", 100)
    async with Client(server_of(simulator, settings)) as client:
        sent = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records}
        )
        assert not sent.is_error, text_of(sent)
        listing = text_of(await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 2}))
        capped = text_of(
            await client.call_tool(
                "ameyo_get_contacts", {"campaign": 1, "limit": 2, "enabled_leads_only": True}
            )
        )
    assert "index of 306 contacts" in listing, listing
    assert (
        "Whole campaign by status, as of the index's sync just now (301 contacts at that sync; the calls "
        "and uploads since are not counted)" in capped
    ), capped


async def test_an_upload_s_callbacks_name_the_agent_they_are_assigned_to(client: Client) -> None:
    """ameyo_add_callback says "Assigned to: …"; an upload with callbacks named nobody."""

    def record(phone: str, **more: object) -> dict[str, object]:
        return {"customer": {"phone1": phone, "name": "Cb"}, "callback_time": LATER, **more}

    records = [
        record("9876012501", agent="agent2"),
        record("9876012502"),
        record("9876012503", agent="agent3", self_callback=True),
    ]
    args = {"campaign": 1, "lead_id": 21, "records": records}
    dry = text_of(await client.call_tool("ameyo_upload_contacts_with_callbacks", {**args, "dry_run": True}))
    done = await client.call_tool("ameyo_upload_contacts_with_callbacks", args)
    assert not done.is_error, text_of(done)
    for text in (dry, text_of(done)):
        lines = text.splitlines()
        assert any(
            line.startswith("record 1: ") and line.endswith(", assigned to agent2") for line in lines
        ), text
        assert any(
            line.startswith("record 2: ") and line.endswith(", assigned to any agent") for line in lines
        ), text
        assert any(
            line.startswith("record 3: ") and line.endswith(", assigned to agent3 only (self callback)")
            for line in lines
        ), text
    single = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12001, "callback_time": LATER, "agent": "agent2"}
    )
    assert "Assigned to: agent2." in text_of(single), text_of(single)


async def test_a_zero_for_a_lead_waits_on_a_slow_ameyo_a_second_at_most(
    simulator: Simulator, client: Client
) -> None:
    """The history is the store's: whether the lead is one at all is asked of Ameyo for a second at
    most (every campaign's leads at once), slow or hung, and the zero is answered without the note."""
    await client.call_tool("ameyo_list_campaigns", {})  # logged in: Ameyo is up, not known down
    simulator.state.faults.commands = {"getLeadsForCampaign"}
    try:
        for delay_s, arguments in ((1.5, {"lead_id": 77}), (30, {"lead_id": 77, "campaign": 1})):
            simulator.state.faults.delay_s = delay_s
            started = time.monotonic()
            answer = text_of(await client.call_tool("ameyo_call_history", arguments))
            took = time.monotonic() - started
            assert took < 2.0, (took, arguments, answer)
            assert "0" in answer and "Lead 77" not in answer, answer
    finally:
        simulator.state.faults.reset()
