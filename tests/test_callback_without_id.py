"""A callback Ameyo scheduled but gave no id is a scheduled callback: through a real MCP client against
the simulator over loopback HTTP.

The vendor document's own answer to uploadContactAndAddCallback (sample 4.8.5) carries `"id": null`
beside the callback time, and rule 4.8.2 5.b.iii adds the callback for the phone number even when
the customer is a DUPLICATE_NOT_ADDED. Reading either row as "no callback was scheduled" leads a
model to schedule it again, and the customer is rung twice.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

COMMAND = "uploadContactAndAddCallback"
NEW_PHONE = "9333300041"
EXISTING = "0458681166572"  # a seeded contact of campaign 1: DUPLICATE_NOT_ADDED without update


def answer_ids_null(simulator: SimulatorThread) -> None:
    """Every callback row of the next answers carries `"id": null`, as sample 4.8.5 does."""
    simulator.state.faults.commands = {COMMAND}
    simulator.state.faults.null_callback_ids = -1


def scheduled_for(simulator: SimulatorThread, phone: str) -> int:
    return sum(1 for cb in simulator.state.callbacks(1) if cb.phone == phone)


def read_result(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {int(row["line"]): row for row in csv.DictReader(handle)}


def assert_says_scheduled(text: str) -> None:
    assert "no callback was scheduled" not in text, text
    assert "ameyo_add_callback" not in text, text
    # Sending the duplicate again with update_existing would schedule its callback a second time.
    assert "update_existing=true" not in text, text
    assert "Ameyo gave it no id" in text, text


async def test_upload_with_callbacks_reads_a_null_id_as_a_scheduled_callback(
    client: Client, simulator: SimulatorThread
) -> None:
    answer_ids_null(simulator)
    result = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {
            "campaign": 1,
            "lead_id": 21,
            "update_existing": False,
            "records": [
                {"customer": {"phone1": NEW_PHONE, "name": "New"}, "callback_time": "2031-02-01T10:00:00"},
                {"customer": {"phone1": EXISTING}, "callback_time": "2031-02-01T11:00:00"},
            ],
        },
    )
    text, out = text_of(result), result.structured_content
    assert not result.is_error, text
    assert scheduled_for(simulator, NEW_PHONE) == 1 and scheduled_for(simulator, EXISTING) == 1
    assert out is not None and out["callbacks"] == 2 and out["failed"] == 0, out
    assert (out["added"], out["duplicate"]) == (1, 1), out
    by_position: dict[int, dict[str, Any]] = {r["position"]: r for r in out["records"]}
    assert by_position[1]["ok"] and by_position[1].get("callback_id") is None
    assert by_position[2]["ok"] and by_position[2]["result"] == "DUPLICATE_NOT_ADDED"
    assert "2031-02-01 10:00" in by_position[1]["callback_time"]
    assert "2031-02-01 11:00" in by_position[2]["callback_time"]
    assert_says_scheduled(text)
    assert "Callbacks scheduled: 2" in text and "Not done" not in text, text
    assert "callback scheduled at 2031-02-01 10:00" in text, text
    assert "callback scheduled at 2031-02-01 11:00" in text, text
    # The customer was left as it was: Ameyo put that callback on the number alone (4.8.2 5.b.iii).
    held = [cb for cb in simulator.state.callbacks(1) if cb.phone == EXISTING]
    assert [cb.customer_id for cb in held] == [None]
    assert "Ameyo put the callback on the number alone, not on customer 12458's record" in text, text


async def test_file_upload_reads_a_null_id_as_a_scheduled_callback(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    (tmp_path / "cb.csv").write_text(
        f"phone1,name,callback_time\n{NEW_PHONE},New,2031-02-01T10:00:00\n{EXISTING},Known,2031-02-01T11:00:00\n",
        encoding="utf-8",
    )
    answer_ids_null(simulator)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(tmp_path))
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "cb.csv", "campaign": 1, "lead_id": 21, "dry_run": False}
        )
    text, out = text_of(result), result.structured_content
    assert not result.is_error, text
    assert simulator.state.executed[COMMAND] == 1
    assert scheduled_for(simulator, NEW_PHONE) == 1 and scheduled_for(simulator, EXISTING) == 1
    assert out is not None and out["callbacks"] == 2 and out["ok"] == 2 and out["failures"] == [], out
    assert out["counts"] == {"ADDED": 1, "DUPLICATE_NOT_ADDED": 1}, out
    assert "Callbacks scheduled: 2." in text, text
    assert "no callback was scheduled" not in text and "ameyo_add_callback" not in text, text

    rows = read_result(Path(out["result_file"]))
    for line, hour in ((2, "10:00"), (3, "11:00")):
        row = rows[line]
        assert row["ok"] == "yes" and row["callback_id"] == "", row
        assert f"2031-02-01 {hour}" in row["callback_time"], row
        assert_says_scheduled(row["reason"])
