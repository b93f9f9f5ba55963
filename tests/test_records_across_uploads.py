"""A record sent with an unknown outcome is not sent again inside another write: a file's row, then
the same record through ameyo_upload_contacts; the other way round; and inside a larger upload of
the same tool, or through the upload with callbacks; and a record Ameyo's answer left out. The
single-upload tools had known only whole writes, so each went out twice. A record answered earlier
is not sent again inside a larger upload either."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of
from tests.test_rows_by_number import writes_to

pytestmark = [pytest.mark.anyio, pytest.mark.network]

FILE_TOOL = "ameyo_upload_contacts_file"
BASE: dict[str, Any] = {"campaign": 1, "lead_id": 1}
PHONE, NAME = "9876512345", "Asha Rao"


def one_row_file(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "today.csv").write_text(f"phone1,name\n{PHONE},{NAME}\n", encoding="utf-8")


async def test_a_file_row_of_unknown_outcome_is_not_resent_by_the_upload_tool(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    one_row_file(folder)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.empty_list = {"uploadContacts"}, 1  # Ameyo saves it; the answer says nothing
        first = await client.call_tool(FILE_TOOL, BASE | {"file": "today.csv", "dry_run": False})
        assert "outcome unknown 1" in text_of(first), text_of(first)
        faults.reset()
        assert simulator.state.executed["uploadContacts"] == 1
        # The model, told the outcome is unknown, now "just uploads that contact" with the tool.
        second = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [{"phone1": PHONE, "name": NAME}]}
        )
    assert simulator.state.executed["uploadContacts"] == 1, text_of(second)
    assert "its number went out" in text_of(second) and "outcome is unknown" in text_of(second), text_of(
        second
    )


async def test_an_upload_tool_record_of_unknown_outcome_is_not_resent_by_a_file(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    one_row_file(folder)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.empty_list = {"uploadContacts"}, 1
        first = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [{"phone1": PHONE, "name": NAME}]}
        )
        assert first.is_error and "unknown" in text_of(first), text_of(first)
        faults.reset()
        # The same tool call again is refused (allow_repeat needed) ...
        again = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [{"phone1": PHONE, "name": NAME}]}
        )
        assert again.is_error and simulator.state.executed["uploadContacts"] == 1, text_of(again)
        # ... but the same record in a one-row file goes out.
        second = await client.call_tool(FILE_TOOL, BASE | {"file": "today.csv", "dry_run": False})
    assert simulator.state.executed["uploadContacts"] == 1, text_of(second)
    assert "sent in this run 0;" in text_of(second) and "outcome unknown" in text_of(second), text_of(second)
    # The line names the write that sent it, as "the reason on each of their lines names it" says.
    assert "went to this lead by another write (1 record into lead 1" in text_of(second), text_of(second)


async def test_a_record_of_unknown_outcome_is_not_resent_inside_a_larger_upload(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    faults = simulator.state.faults
    record = {"phone1": PHONE, "name": NAME}
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.empty_list = {"uploadContacts"}, 1
        first = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [record], "update_existing": True}
        )
        assert first.is_error and "unknown" in text_of(first), text_of(first)
        faults.reset()
        # One more contact beside it: the write is "another" one, and Asha goes out again.
        second = await client.call_tool(
            "ameyo_upload_contacts",
            BASE | {"records": [record, {"phone1": "9876512346", "name": "Bo"}], "update_existing": True},
        )
    assert writes_to(simulator, PHONE) == ["ADDED"], (writes_to(simulator, PHONE), text_of(second))
    assert "Sent 1 record" in text_of(second) and "record 1: " in text_of(second), text_of(second)
    assert "outcome is unknown" in text_of(second), text_of(second)
    out = second.structured_content
    assert out is not None and out["set_aside"] == 1 and out["refused"] == 0, out
    assert [r["result"] for r in out["records"] if r["position"] == 1] == ["OUTCOME_UNKNOWN"], out


async def test_a_record_answered_is_not_sent_again_inside_a_larger_upload_but_on_request(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    record, other = {"phone1": PHONE, "name": NAME}, {"phone1": "9876512346", "name": "Bo"}
    args = BASE | {"update_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        await client.call_tool("ameyo_upload_contacts", args | {"records": [record]})
        both = args | {"records": [record, other]}
        dry = await client.call_tool("ameyo_upload_contacts", both | {"dry_run": True})
        second = await client.call_tool("ameyo_upload_contacts", both)
        again = await client.call_tool("ameyo_upload_contacts", both)  # the same call: a repeat
        asked = await client.call_tool("ameyo_upload_contacts", both | {"allow_repeat": True})
    said = "not sent again: the same record went to this lead"
    assert said in text_of(dry) and "would send 1 record" in text_of(dry), text_of(dry)
    assert said in text_of(second) and "Sent 1 record" in text_of(second), text_of(second)
    # Told as what it is, not a refusal: Ameyo holds it, from the earlier upload.
    out = second.structured_content
    assert out is not None and out["set_aside"] == 1 and out["refused"] == 0, out
    [held] = [r for r in out["records"] if r["position"] == 1]
    assert held["result"] == "SENT_EARLIER" and held["ok"], held
    assert "1 set aside, as other writes sent or hold them" in text_of(second), text_of(second)
    assert "repeat" in text_of(again).lower() and said in text_of(again), text_of(again)
    assert "Sent 2 records" in text_of(asked), text_of(asked)
    assert writes_to(simulator, PHONE) == ["ADDED", "UPDATED"]  # the second on request only
    assert writes_to(simulator, "9876512346") == ["ADDED", "UPDATED"]


async def test_a_file_row_of_unknown_outcome_is_not_resent_by_the_callbacks_upload_tool(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text(f"phone1,name\n{PHONE},{NAME}\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.empty_list = {"uploadContacts"}, 1  # saved; the answer says nothing
        first = await client.call_tool(
            "ameyo_upload_contacts_file",
            BASE | {"file": "today.csv", "dry_run": False, "update_existing": True},
        )
        assert "outcome unknown 1" in text_of(first), text_of(first)
        faults.reset()
        record = {"customer": {"phone1": PHONE, "name": NAME}, "callback_time": "2031-05-01T11:00:00"}
        second = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks", BASE | {"records": [record], "update_existing": True}
        )
    # The record went out once; its number's outcome is unknown: it is set aside.
    assert simulator.state.executed["uploadContactAndAddCallback"] == 0, (
        writes_to(simulator, PHONE),
        text_of(second),
    )


async def test_a_callbacks_upload_of_unknown_outcome_is_not_resent_by_the_upload_tool(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.empty_list = {"uploadContactAndAddCallback"}, 1
        record = {"customer": {"phone1": PHONE, "name": NAME}, "callback_time": "2031-05-01T11:00:00"}
        first = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks", BASE | {"records": [record], "update_existing": True}
        )
        assert first.is_error and "unknown" in text_of(first), text_of(first)
        faults.reset()
        second = await client.call_tool(
            "ameyo_upload_contacts",
            BASE | {"records": [{"phone1": PHONE, "name": NAME}], "update_existing": True},
        )
    assert simulator.state.executed["uploadContacts"] == 0, (writes_to(simulator, PHONE), text_of(second))


ASHA, BO = {"phone1": "9876512345", "name": "Asha"}, {"phone1": "9876512346", "name": "Bo"}


async def test_a_record_the_answer_left_out_is_not_told_answered(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Ameyo answered the write, but not for this record: its outcome is unknown, not answered."""
    settings = settings_for(simulator, tmp_path)
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.short_list = {"uploadContacts"}, 1  # Bo saved, left out of the answer
        first = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [ASHA, BO]})
        assert "record 2: 9876512346: Ameyo's answer left this record out" in text_of(first), text_of(first)
        faults.reset()
        again = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"records": [BO, {"phone1": "9876512347", "name": "C"}]}
        )
    assert "Ameyo answered it then" not in text_of(again), text_of(again)
    assert "record 1: " in text_of(again) and "outcome is unknown" in text_of(again), text_of(again)


async def test_a_corrected_record_of_a_left_out_number_waits_for_the_check(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.short_list = {"uploadContacts"}, 1
        await client.call_tool("ameyo_upload_contacts", BASE | {"records": [ASHA, BO]})
        faults.reset()
        fixed = await client.call_tool(
            "ameyo_upload_contacts",
            BASE | {"records": [{"phone1": "9876512346", "name": "Bob"}], "update_existing": True},
        )
    # As for a whole write of unknown outcome: "not sent: its number went out ... outcome is unknown".
    assert writes_to(simulator, "9876512346") == ["ADDED"], (
        writes_to(simulator, "9876512346"),
        text_of(fixed),
    )


LEFT = "9876512346"


async def test_a_left_out_record_is_still_unknown_after_the_repeat_window(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Held as long as a write of unknown outcome (AMEYO_LEDGER_DAYS), not the repeat window."""
    settings = settings_for(simulator, tmp_path, AMEYO_REPEAT_WINDOW_S="1")
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.short_list = {"uploadContacts"}, 1  # Bo saved, left out of the answer
        first = await client.call_tool(
            "ameyo_upload_contacts", BASE | {"update_existing": True, "records": [ASHA, BO]}
        )
        assert "left this record out" in text_of(first), text_of(first)
        faults.reset()
        await anyio.sleep(1.5)  # past the repeat window, not the ledger's days
        again = await client.call_tool(
            "ameyo_upload_contacts",
            BASE | {"update_existing": True, "records": [BO, {"phone1": "9876512347", "name": "C"}]},
        )
    # Bo's outcome was never learnt: it is not sent again without allow_repeat.
    assert writes_to(simulator, BO["phone1"]) == ["ADDED"], (
        writes_to(simulator, BO["phone1"]),
        text_of(again),
    )


async def test_a_left_out_row_resent_and_answered_is_no_longer_unknown(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Checked, sent again with allow_repeat and answered: its number's outcome is known, and a later
    correction goes (it had been held back as unknown for the ledger's days)."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text(f"phone1,name\n9876512345,Asha\n{LEFT},Bo\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.short_list = {"uploadContacts"}, 1
        first = await client.call_tool(
            "ameyo_upload_contacts_file",
            BASE | {"update_existing": True, "file": "today.csv", "dry_run": False},
        )
        assert "outcome unknown 1" in text_of(first), text_of(first)
        faults.reset()
        # As told: checked, then sent again with allow_repeat; Ameyo answers it.
        resent = await client.call_tool(
            "ameyo_upload_contacts",
            BASE
            | {"update_existing": True, "records": [{"phone1": LEFT, "name": "Bo"}], "allow_repeat": True},
        )
        assert "Sent 1 record" in text_of(resent), text_of(resent)
        # Later, a correction of Bo's name.
        fixed = await client.call_tool(
            "ameyo_upload_contacts",
            BASE | {"update_existing": True, "records": [{"phone1": LEFT, "name": "Bob"}]},
        )
    assert writes_to(simulator, LEFT) == ["ADDED", "UPDATED", "UPDATED"], (
        writes_to(simulator, LEFT),
        text_of(fixed),
    )
