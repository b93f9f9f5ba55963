"""The one phone rule at work, through a real MCP client against the simulator: a number is found
however it is spelt, "last digits" match the end only, and uploads accept pasted spellings and
say what they send instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.rules.phones import ends_with
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

STORED_WITH_TRUNK_ZERO = (12006, "09334419416")  # a seeded contact of campaign 1


async def _found(client: Client, phone: str) -> tuple[list[int], str]:
    result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": phone, "limit": 100})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out is not None
    return [c["customer_id"] for c in out["contacts"]], text_of(result)


@pytest.mark.parametrize("spelling", ["+91 93344 19416", "9334419416", "919334419416", "0091-9334-419416"])
async def test_a_number_is_found_however_it_is_spelt(
    client: Client, simulator: SimulatorThread, spelling: str
) -> None:
    customer_id, stored = STORED_WITH_TRUNK_ZERO
    contact = simulator.state.contact(customer_id)
    assert contact is not None and contact.phone1 == stored
    ids, text = await _found(client, spelling)
    assert ids == [customer_id], text


async def test_last_digits_match_the_end_of_a_number_only(client: Client, simulator: SimulatorThread) -> None:
    # A number stored with its country code, e.g. 917485017980: its first four digits are in it,
    # but it does not end with them.
    holder = next(
        c
        for c in simulator.state.contacts(1)
        if c.phone1.startswith("91") and len(c.phone1) == 12 and "phone2" not in c.customer_data
    )
    head, tail = holder.phone1[:4], holder.phone1[-4:]
    ids, text = await _found(client, head)
    assert holder.customer_id not in ids, text
    for customer_id in ids:
        found = simulator.state.contact(customer_id)
        assert found is not None
        numbers = [str(v) for k, v in found.customer_data.items() if "phone" in k]
        assert any(ends_with(n, head, "IN") for n in numbers), numbers
    ids, text = await _found(client, tail)
    assert holder.customer_id in ids, text


async def test_too_few_digits_is_one_plain_sentence(client: Client) -> None:
    result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "+9-1"})
    assert result.is_error and "at least 4 digits" in text_of(result) and len(text_of(result)) < 200


async def test_uploads_accept_pasted_spellings_and_say_they_were_rewritten(
    client: Client, simulator: SimulatorThread
) -> None:
    records = [
        {"phone1": "+91 98765 43211", "name": "Pasted International"},
        {"phone1": "98-330-00004", "name": "Dashed"},
        {"phone1": "9812300005", "name": "Plain"},
        {"phone1": "9766", "name": "Partial"},
        {"phone1": "+44 20 7946 0958", "name": "Londoner"},
    ]
    args: dict[str, Any] = {"campaign": 1, "lead_id": 1, "records": records}
    dry = await client.call_tool("ameyo_upload_contacts", {**args, "dry_run": True})
    assert "would send 4 records" in text_of(dry) and "1 would be refused" in text_of(dry), text_of(dry)
    assert "3 numbers would be rewritten" in text_of(dry)

    result = await client.call_tool("ameyo_upload_contacts", args)
    text = text_of(result)
    assert not result.is_error, text
    assert "added 4," in text
    assert "3 numbers were rewritten to the form Ameyo dials (AMEYO_PHONE_FORMAT=national)" in text
    assert "+91 98765 43211 → 9876543211" in text
    assert "record 4: phone1 has 4 digits and is not a complete phone number" in text
    saved = {c.phone1 for c in simulator.state.contacts(1)}
    # Another country's number is sent as dialed from India: 00, its country code, the number.
    assert {"9876543211", "9833000004", "9812300005", "00442079460958"} <= saved
    assert "9766" not in saved and not any("+" in p or "-" in p for p in saved)


async def test_callback_upload_rewrites_the_callback_number_too(
    client: Client, simulator: SimulatorThread
) -> None:
    record = {
        "customer": {"phone1": "(0) 98765 43219", "name": "Callback Pasted"},
        "callback_time": "2031-03-01T11:00:00",
        "callback_phone": "+91 98765-43219",
    }
    result = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 1, "records": [record]}
    )
    text = text_of(result)
    assert not result.is_error, text
    assert "1 number was rewritten" in text and "(0) 98765 43219 → 9876543219" in text
    callbacks = [c for c in simulator.state.callbacks(1) if c.phone == "9876543219"]
    assert len(callbacks) == 1


async def test_file_upload_rewrites_and_finds_duplicates_by_number(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "pasted.csv").write_text(
        "phone1,name\n"
        "+91 98765 43311,International\n"
        "98-330-00014,Dashed\n"
        "9812300015,Plain\n"
        "09876543311,Same As Line 2\n"
        "917,Partial\n",
        encoding="utf-8",
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args: dict[str, Any] = {"file": "pasted.csv", "campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts_file", args)
        assert "2 numbers would be rewritten" in text_of(dry), text_of(dry)
        real = await client.call_tool("ameyo_upload_contacts_file", {**args, "dry_run": False})
    text = text_of(real)
    assert not real.is_error, text
    assert "refused before sending 2; sent in this run 3" in text and "added 3," in text, text
    assert "2 numbers were rewritten to the form Ameyo dials" in text
    assert "+91 98765 43311 → 9876543311" in text
    assert "line 5: 09876543311: duplicate: phone1 already on line 2" in text
    assert "line 6: phone1 has 3 digits and is not a phone number: it has too few digits" in text
    saved = {c.phone1 for c in simulator.state.contacts(1)}
    assert {"9876543311", "9833000014", "9812300015"} <= saved and "09876543311" not in saved
