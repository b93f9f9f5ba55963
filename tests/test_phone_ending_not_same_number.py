"""A whole number finds, beside itself in any spelling, a longer number that ends with it (Ameyo's
`0458681166572` for `8681166572`): another number under the phone rule. The lookup says a contact
matched only so, in its text and structured answer, and an upload's dry run of that number says it
adds a new customer beside the one the lookup named, rather than letting "update_existing" read as
correcting them: Ameyo matches customers by phone1 exactly, and the real run adds one."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

SEEDED = "0458681166572"  # customer 12458 of campaign 1, as Ameyo holds it


async def test_lookup_says_a_contact_matched_only_by_the_numbers_ending(simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        ending = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "+91 86811 66572"})
        same = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": SEEDED})
        last = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "66572"})
    out = ending.structured_content
    assert out is not None and [c["customer_id"] for c in out["contacts"]] == [12458]
    assert out["contacts"][0]["same_number"] is False
    text = text_of(ending)
    assert f"{SEEDED} (ends with the number searched for: another number)" in text, text
    assert "Matched by its ending only: #12458" in text, text
    assert "would add a new customer, not update them" in text, text
    # Its own number is the number; last digits name no number, so nothing is said of them.
    assert same.structured_content is not None
    assert same.structured_content["contacts"][0]["same_number"] is True
    assert "ending only" not in text_of(same) and "another number" not in text_of(same)
    assert last.structured_content is not None
    assert "same_number" not in last.structured_content["contacts"][0]
    assert "ending only" not in text_of(last)


async def test_upload_dry_run_says_the_number_adds_a_customer_beside_the_one_it_ends(
    simulator, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        args = {
            "campaign": 1,
            "lead_id": 1,
            "update_existing": True,
            "records": [{"phone1": "+91 86811 66572", "name": "Fixed Name"}],
        }
        dry = await client.call_tool("ameyo_upload_contacts", args | {"dry_run": True})
        held = await client.call_tool(
            "ameyo_upload_contacts",
            args | {"dry_run": True, "records": [{"phone1": SEEDED, "name": "Fixed Name"}]},
        )
        real = await client.call_tool("ameyo_upload_contacts", args)
    before = text_of(dry)
    assert f"customer 12458's phone1 {SEEDED} only ends with record 1's 8681166572" in before, before
    assert "this record would add a new customer, whatever update_existing says" in before, before
    assert dry.structured_content is not None
    assert any("customer 12458's phone1" in n for n in dry.structured_content["notes"])
    # What the dry run said is what Ameyo does: a new customer, 12458 left as it was.
    assert real.structured_content is not None and real.structured_content["added"] == 1, text_of(real)
    assert 12458 not in real.structured_content["added_customer_ids"]
    # Its phone1 as Ameyo holds it is that customer: no such note, the update is said.
    assert "only ends with" not in text_of(held), text_of(held)
    assert "1 of these numbers is a customer the campaign's index holds" in text_of(held), text_of(held)


async def test_a_files_dry_run_says_the_same_of_its_lines(simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "fixes.csv").write_text(f"phone1,name\n+91 86811 66572,Fixed Name\n{SEEDED},Held Name\n")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(
            "ameyo_upload_contacts_file",
            {"campaign": 1, "lead_id": 1, "file": "fixes.csv", "update_existing": True},
        )
    text = text_of(dry)
    assert f"customer 12458's phone1 {SEEDED} only ends with line 2's 8681166572" in text, text
    assert "this line would add a new customer, whatever update_existing says" in text, text
    assert "line 3's" not in text, text
