"""A contact file's dry run shows each callback it would schedule as the real run's result file
does, with the zone the time is read in ("2030-03-04 11:00 Asia/Kolkata"): the dry run is where the
person confirms "3 pm, in which zone". Its check file names the zone, and its answer lists the
first few callbacks the way the upload with callbacks' dry run does."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio


async def test_dry_run_check_file_and_answer_name_the_zone_of_callbacks(simulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "uploads"
    folder.mkdir()
    # Given in UTC: read in the server's zone (Asia/Kolkata), 05:30Z is 11:00 there.
    (folder / "cb.csv").write_text(
        "phone1,name,callback_time\n9876500777,Ravi,2030-03-04T05:30:00Z\n", encoding="utf-8"
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "cb.csv", "campaign": 1, "lead_id": 21}
        )
    assert not dry.is_error, text_of(dry)
    check = (folder / "cb.csv.lead-21.ameyo-check.csv").read_text(encoding="utf-8")
    [row] = list(csv.DictReader(check.splitlines()))
    assert row["callback_time"] == "2030-03-04 11:00 Asia/Kolkata", row
    assert "line 2: 9876500777 at 2030-03-04 11:00 Asia/Kolkata, assigned to any agent" in text_of(dry)
    assert simulator.state.executed["uploadContactsWithCallback"] == 0
