"""The write ledger's rows (file_rows) across uploads: a record an upload tool sent and Ameyo
answered is held inside any other upload for AMEYO_LEDGER_DAYS (README, "duplicated writes"), not
only for the repeat window of the write that carried it; the same whole call after the window is
still a new write, sent again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of
from tests.test_rows_by_number import writes_to

pytestmark = [pytest.mark.anyio, pytest.mark.network]

BASE: dict[str, Any] = {"campaign": 1, "lead_id": 1, "update_existing": True}
PHONE, NAME = "9876512345", "Asha Rao"


async def test_a_tool_record_answered_is_held_past_the_repeat_window_inside_another_upload(
    simulator: SimulatorThread, tmp_path: Path, writes_ahead: list[float]
) -> None:
    settings = settings_for(simulator, tmp_path)
    record, other = {"phone1": PHONE, "name": NAME}, {"phone1": "9876512346", "name": "Bo"}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [record]})
        assert not first.is_error, text_of(first)
        writes_ahead[0] = 11 * 60.0  # past AMEYO_REPEAT_WINDOW_S (600), far within the ledger's 30 days
        second = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [record, other]})
    assert writes_to(simulator, PHONE) == ["ADDED"], (writes_to(simulator, PHONE), text_of(second))
    out = second.structured_content
    assert out is not None and out["set_aside"] == 1, out


async def test_a_tool_record_answered_is_held_past_the_repeat_window_inside_a_file(
    simulator: SimulatorThread, tmp_path: Path, writes_ahead: list[float]
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text(f"phone1,name\n{PHONE},{NAME}\n9876512346,Bo\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [{"phone1": PHONE, "name": NAME}]}
        )
        assert not first.is_error, text_of(first)
        writes_ahead[0] = 11 * 60.0
        second = await client.call_tool(
            "ameyo_upload_contacts_file", BASE | {"file": "today.csv", "dry_run": False}
        )
    assert writes_to(simulator, PHONE) == ["ADDED"], (writes_to(simulator, PHONE), text_of(second))


async def test_the_same_whole_call_after_the_repeat_window_is_sent_again(
    simulator: SimulatorThread, tmp_path: Path, writes_ahead: list[float]
) -> None:
    """Its own records hold nothing back: the window is what a plain repeat of one write is bound by."""
    settings = settings_for(simulator, tmp_path)
    call = BASE | {"records": [{"phone1": PHONE, "name": NAME}]}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", call)
        within = await client.call_tool("ameyo_upload_contacts", call)
        writes_ahead[0] = 11 * 60.0
        after = await client.call_tool("ameyo_upload_contacts", call)
    assert not first.is_error and not after.is_error, (text_of(first), text_of(after))
    assert within.structured_content is not None and within.structured_content["repeat_of_earlier_call"]
    out = after.structured_content
    assert out is not None and not out.get("repeat_of_earlier_call") and out["sent"] == 1, out
    assert len(writes_to(simulator, PHONE)) == 2, writes_to(simulator, PHONE)


async def test_a_tool_record_goes_again_inside_another_upload_once_the_ledger_days_are_over(
    simulator: SimulatorThread, tmp_path: Path, writes_ahead: list[float]
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_LEDGER_DAYS="2")
    record, other = {"phone1": PHONE, "name": NAME}, {"phone1": "9876512346", "name": "Bo"}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [record]})
        assert not first.is_error, text_of(first)
        writes_ahead[0] = 1.9 * 86400
        held = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [record, other]})
        writes_ahead[0] = 2.1 * 86400
        third = {"phone1": "9876512347", "name": "Cy"}
        later = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [third, record]})
    assert held.structured_content is not None and held.structured_content["set_aside"] == 1, text_of(held)
    out = later.structured_content
    assert out is not None and out["set_aside"] == 0 and out["sent"] == 2, text_of(later)
    assert len(writes_to(simulator, PHONE)) == 2, writes_to(simulator, PHONE)
