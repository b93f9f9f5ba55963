"""An upload with update_existing gives each existing customer it updates the upload's status and
attempts: a do-not-call customer (Karthik Joshi, last disposition DNC) came back NOT_TRIED with 0
attempts, to be dialled again as if new, without a word about do-not-call and without the person's
yes, where a callback to the same customer is refused without despite_do_not_call."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

KARTHIK = 12005  # Karthik Joshi, lead 1 of MoviStarSurvey: last disposition DNC
KARTHIKS_NUMBER = "918783936422"


def status_of(simulator: Simulator, customer_id: int) -> tuple[str, int]:
    with simulator.state._lock:
        found = simulator.state._find(customer_id)
        assert found is not None
        return found.columns["status"], int(found.columns["attempts"])


async def test_updating_a_do_not_call_customer_needs_the_persons_yes(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    before = status_of(simulator, KARTHIK)
    upload = {
        "campaign": "MoviStarSurvey",
        "lead_id": 1,
        "update_existing": True,
        "records": [
            {"phone1": KARTHIKS_NUMBER, "name": "Karthik Joshi"},
            {"phone1": "9123499991", "name": "New"},
        ],
    }
    said = f"customer {KARTHIK}'s last disposition is 'DNC' (do not call)"
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
        assert said in text_of(dry) and "despite_do_not_call=true" in text_of(dry), text_of(dry)
        sent = await client.call_tool("ameyo_upload_contacts", upload)
        records = (sent.structured_content or {})["records"]
        assert [(r["position"], r["result"]) for r in records] == [(1, "REFUSED")], text_of(sent)
        assert said in records[0]["reason"], records
        assert (sent.structured_content or {})["added"] == 1, text_of(sent)
        assert status_of(simulator, KARTHIK) == before  # not requeued behind the person's back
        confirmed = await client.call_tool("ameyo_upload_contacts", upload | {"despite_do_not_call": True})
    assert not confirmed.is_error and (confirmed.structured_content or {})["updated"] == 1, text_of(confirmed)
    assert "goes ahead as the person confirmed" in text_of(confirmed), text_of(confirmed)
    assert status_of(simulator, KARTHIK) == ("NOT_TRIED", 0)


async def test_adding_without_update_is_not_held_back(simulator: Simulator, tmp_path: Path) -> None:
    """Without update_existing Ameyo leaves the customer as they are: nothing to hold back."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    upload = {"campaign": 1, "lead_id": 1, "records": [{"phone1": KARTHIKS_NUMBER}]}
    async with Client(server_of(simulator, settings)) as client:
        sent = await client.call_tool("ameyo_upload_contacts", upload)
    assert (sent.structured_content or {})["duplicate"] == 1, text_of(sent)


async def test_without_an_index_an_update_says_it_was_not_checked(
    simulator: Simulator, tmp_path: Path
) -> None:
    """No index finds the customers by number: the update goes, and the answer says what was not
    checked, as the upload with callbacks says it of its callbacks."""
    settings = settings_for(simulator, tmp_path)
    upload = {"campaign": 1, "lead_id": 1, "update_existing": True, "records": [{"phone1": KARTHIKS_NUMBER}]}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
    text = text_of(dry)
    assert "whether the customers of 1 record asked not to be called" in text, text
    assert "has no contacts index" in text and "an update has them dialled again" in text, text
