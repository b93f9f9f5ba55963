"""A customer an upload finds already in the campaign and leaves as it was: the answer says which lead
they are in, and offers a move only where one would change something."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from tests.conftest import Simulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio


async def upload_one(simulator: Simulator, settings: Settings, lead_id: int, phone1: str) -> str:
    """The answer to `ameyo_upload_contacts` of one record, `phone1`, into lead `lead_id`."""
    async with Client(server_of(simulator, settings)) as client:
        answer = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": lead_id, "records": [{"phone1": phone1}]}
        )
    return text_of(answer)


async def test_a_duplicate_already_in_the_lead_is_not_told_to_be_moved_into_it(
    simulator: Simulator, settings: Settings
) -> None:
    """Uploading a customer into the lead they are already in: Ameyo leaves them as they are, and
    the answer must not advise migrate_existing=true to 'move them into this lead' (a pointless
    second write a model would make); it should say they are already in it."""
    already = next(c for c in simulator.state.contacts(1) if c.lead_id == 21)
    text = await upload_one(simulator, settings, 21, already.phone1)
    assert "duplicates left unchanged 1" in text, text
    assert "moves them into this lead" not in text and "migrate_existing" not in text, text
    assert f"customer {already.customer_id} already in lead 21, left as it was" in text, text


async def test_a_duplicate_already_in_a_disabled_lead_is_told_it_is_there(
    simulator: Simulator, settings: Settings
) -> None:
    """Into a disabled lead the customer is already in: no word of moves Ameyo would not make."""
    simulator.state.set_lead_enabled(35, False)
    already = next(c for c in simulator.state.contacts(1) if c.lead_id == 35 and c.phone1)
    text = await upload_one(simulator, settings, 35, already.phone1)
    assert f"customer {already.customer_id} already in lead 35, left as it was" in text, text
    assert "moves no customer into it" not in text and "migrate_existing" not in text, text


async def test_a_duplicate_in_another_lead_is_told_where_and_offered_the_move(
    simulator: Simulator, settings: Settings
) -> None:
    """In another lead, the move is the way on, and the answer names the lead they are in."""
    elsewhere = next(c for c in simulator.state.contacts(1) if c.lead_id == 21 and c.phone1)
    text = await upload_one(simulator, settings, 39, elsewhere.phone1)
    assert f"customer {elsewhere.customer_id} already in lead 21, left as it was" in text, text
    assert "migrate_existing=true moves them into this lead" in text, text


async def test_a_files_duplicate_already_in_the_lead_is_told_as_the_records_tool_tells_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The file tool says what the records tool says: one rule for both."""
    already = next(c for c in simulator.state.contacts(1) if c.lead_id == 21 and c.phone1)
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "again.csv").write_text(f"phone1\n{already.phone1}\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        answer = await client.call_tool(
            "ameyo_upload_contacts_file",
            {"file": "again.csv", "campaign": 1, "lead_id": 21, "dry_run": False},
        )
    text = text_of(answer)
    assert f"customer {already.customer_id} already in lead 21, left as it was" in text, text
    assert "moves them into this lead" not in text and "migrate_existing" not in text, text
