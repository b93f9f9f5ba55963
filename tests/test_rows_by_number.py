"""The same row in a second file with its number in another digits-only spelling of the same number:
the ledger would send it in the spelling Ameyo holds, so it is the same write, and is not sent again.
Its digest had taken the number as the file spells it, and Ameyo ran the same write twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.network]

FILE_TOOL = "ameyo_upload_contacts_file"


def writes_to(simulator: SimulatorThread, phone: str) -> list[str]:
    """What Ameyo (the simulator) did to the customer with `phone`: one entry per write."""
    ids = {c.customer_id for c in simulator.state.contacts(1) if c.phone1.endswith(phone)}
    return [w.detail for w in simulator.state.records_written if w.kind == "contact" and w.customer_id in ids]


ARGS: dict[str, Any] = {"campaign": 1, "lead_id": 1, "dry_run": False, "update_existing": True}


@pytest.mark.parametrize("other", ["09876512345", "919876512345"])
async def test_a_files_row_answered_is_not_sent_again_from_a_file_spelling_its_number_otherwise(
    simulator: SimulatorThread, tmp_path: Path, other: str
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "monday.csv").write_text("phone1,name\n9876512345,Asha Rao\n", encoding="utf-8")
    (folder / "tuesday.csv").write_text(f"phone1,name\n{other},Asha Rao\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool(FILE_TOOL, ARGS | {"file": "monday.csv"})
        assert "added 1" in text_of(first), text_of(first)
        second = await client.call_tool(FILE_TOOL, ARGS | {"file": "tuesday.csv"})
    # Ameyo got the very same request twice (the second went out as "9876512345", as the ledger
    # holds it): the customer was updated again (status and attempts reset).
    assert simulator.state.executed["uploadContacts"] == 1, text_of(second)
    assert writes_to(simulator, "9876512345") == ["ADDED"], text_of(second)
