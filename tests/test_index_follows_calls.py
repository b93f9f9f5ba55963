"""A synced campaign's listings by status and disposition as the day's calls change them: a pushed
call updates its customer's status and, where an agent chose one, disposition in the index, and the
counts by status with them; so do uploads. Checked against the simulator's own contacts after its
dialer's calls, through a real MCP client session, with the pushes through the receiver."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import calls
from ameyo_mcp.simulator.data import Contact
from tests.conftest import InProcessSimulator, server_of, settings_for, synced, text_of
from tests.test_fences import TOKEN, receiver

pytestmark = pytest.mark.anyio


def truth(simulator: InProcessSimulator, column: str, value: str) -> set[int]:
    def holds(contact: Contact) -> bool:
        return str(contact.columns.get(column) or "") == value

    return {c.customer_id for c in simulator.state.contacts(1) if holds(c)}


async def listed(client: Client, **criteria: Any) -> tuple[int, set[int], str]:
    """How many the listing says match, and every contact its pages show."""
    shown: set[int] = set()
    offset: int | None = 0
    matched, text = 0, ""
    while offset is not None:
        result = await client.call_tool(
            "ameyo_get_contacts", {"campaign": 1, "limit": 100, "offset": offset, **criteria}
        )
        out = result.structured_content
        assert not result.is_error and out is not None, text_of(result)
        text = text or text_of(result)
        matched = out["matched"]
        shown |= {c["customer_id"] for c in out["contacts"]}
        offset = out.get("next_offset")
    return matched, shown, text


async def test_listings_by_status_and_disposition_follow_the_days_calls(
    simulator: InProcessSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every push says all it knows (the simulator leaves fields out of some, as Ameyo's may): the
    # listings can then follow every call. What the index makes of a push that says less is below.
    monkeypatch.setattr(calls, "MISSING_RATE", 0.0)
    monkeypatch.setattr(calls, "BLANK_RATE", 0.0)
    settings = settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)
    await synced(simulator, settings)
    rng = random.Random(20261207)
    async with receiver(settings) as push:
        for _ in range(200):
            placed = simulator.state.place_call(rng, "simulator.invalid")
            if placed is not None:
                await push(**placed.fields)
    async with Client(server_of(simulator, settings)) as client:
        busy = truth(simulator, "status", "BUSY")
        matched, shown, text = await listed(client, status=["BUSY"])
        # It had listed those BUSY at the sync only: the calls since were not in the index.
        assert (matched, shown) == (len(busy), busy), text
        for disposition in ("DNC", "Sale"):
            holding = truth(simulator, "disposition", disposition)
            matched, shown, text = await listed(client, disposition=[disposition])
            # A call without an agent's disposition (BUSY, NO_ANSWER) had replaced the customer's.
            assert holding and (matched, shown) == (len(holding), holding), (disposition, text)
        matched, shown, text = await listed(client, disposition=["NO_ANSWER"])
        assert (matched, shown) == (0, set()), text  # a system outcome is no customer's disposition

        # Uploads are counted as they are indexed: the count and the pages agree.
        records = [{"phone1": f"98123004{n:02d}", "name": f"New {n}"} for n in range(3)]
        args = {"campaign": 1, "lead_id": 21, "records": records, "status": "BUSY"}
        added = await client.call_tool("ameyo_upload_contacts", args)
        assert "added 3" in text_of(added), text_of(added)
        busy = truth(simulator, "status", "BUSY")
        matched, shown, text = await listed(client, status=["BUSY"])
        assert (matched, shown) == (len(busy), busy), text
        everyone = {c.customer_id for c in simulator.state.contacts(1)}
        matched, shown, text = await listed(client)
        assert (matched, shown) == (len(everyone), everyone), text


async def test_a_status_held_in_another_case_is_listed_as_the_live_filter_lists_it(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    busy = sorted(truth(simulator, "status", "BUSY"))
    for customer_id, spelling in zip(busy[:2], ("busy", "Busy"), strict=True):
        simulator.state._tables[1].for_update(customer_id).columns["status"] = (
            spelling  # as another client left it
        )
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        matched, shown, text = await listed(client, status=["BUSY"])
    assert (matched, shown) == (len(busy), set(busy)), text


async def test_a_lead_the_campaign_lacks_is_refused_by_the_index_as_by_ameyo(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        live = text_of(await client.call_tool("ameyo_get_contacts", {"campaign": 1, "lead_ids": [77]}))
        await synced(simulator, settings)
        indexed = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "lead_ids": [77]})
    # It had said "0 contacts match lead 77 as the index holds them".
    assert indexed.is_error and "Lead 77 is not in campaign MoviStarSurvey (1)" in text_of(indexed), text_of(
        indexed
    )
    assert "Lead 77 is not in campaign MoviStarSurvey (1)" in live, live


async def test_a_disposition_pushed_as_its_code_is_listed_under_its_name(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    """A push that left the disposition's name out carries its code (NOT_INTERESTED), which the
    index then holds: a listing by "Not Interested" left that customer out."""
    settings = settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)
    await synced(simulator, settings)
    customer = next(
        c for c in simulator.state.contacts(1) if c.columns.get("disposition") != "Not Interested"
    )
    held = simulator.state._tables[1].for_update(customer.customer_id)  # the call, as Ameyo records it
    held.columns.update(disposition="Not Interested", status="CONNECTED")
    async with receiver(settings) as push:
        await push(
            customerId=str(customer.customer_id),
            campaignId="1",
            phone=customer.phone1,
            dispositionCode="NOT_INTERESTED",
            systemDisposition="CONNECTED",
            lastStatus="CONNECTED",
        )
    holding = truth(simulator, "disposition", "Not Interested")
    async with Client(server_of(simulator, settings)) as client:
        matched, shown, text = await listed(client, disposition=["Not Interested"])
    assert customer.customer_id in holding and (matched, shown) == (len(holding), holding), text
