"""A record an earlier upload sent, and that a later upload sets aside as sent earlier, is told what
Ameyo answered it then, as the ledger kept it: the customer it was added as or updated, and the
callback scheduled. It was told only that Ameyo had answered, while a repeated callback gave its
earlier answer again: the model could not say which customer the person's record had become."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.conftest import Simulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

BASE: dict[str, Any] = {"campaign": 1, "lead_id": 1}
FILE_TOOL = "ameyo_upload_contacts_file"
ASHA, BO, CY = (
    {"phone1": "9876512345", "name": "Asha"},
    {"phone1": "9876512346", "name": "Bo"},
    {"phone1": "9876512347", "name": "Cy"},
)


def by_position(result: Any) -> dict[int, dict[str, Any]]:
    out = result.structured_content
    assert out is not None, text_of(result)
    return {r["position"]: r for r in out["records"]}


async def test_records_sent_earlier_are_told_the_customer_ameyo_made_of_each(client: Client) -> None:
    first = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [ASHA, BO]})
    assert "12521 (record 1), 12522 (record 2)" in text_of(first), text_of(first)
    # The same two in another order, and one more: each is told its own answer then.
    again = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [BO, ASHA, CY]})
    text = text_of(again)
    assert (
        "record 1: 9876512346: not sent again" in text and "answered it then: added as customer 12522" in text
    )
    assert "answered it then: added as customer 12521" in text, text
    records = by_position(again)
    assert records[1]["result"] == "SENT_EARLIER" and records[1]["customer_id"] == 12522, records
    assert records[2]["result"] == "SENT_EARLIER" and records[2]["customer_id"] == 12521, records
    assert records[1]["ok"] and records[2]["ok"], records
    assert "Sent 1 record" in text and "12523 (record 3)" in text, text


async def test_a_record_sent_earlier_with_its_callback_is_told_that_callback(client: Client) -> None:
    asha = {"customer": ASHA, "callback_time": "2031-05-01T11:00:00", "agent": "agent7"}
    bo = {"customer": BO, "callback_time": "2031-05-01T12:00:00"}
    tool = "ameyo_upload_contacts_with_callbacks"
    first = await client.call_tool(tool, BASE | {"records": [asha]})
    [scheduled] = by_position(first).values()
    again = await client.call_tool(tool, BASE | {"records": [asha, bo]})
    text = text_of(again)
    held = by_position(again)[1]
    assert held["result"] == "SENT_EARLIER" and held["customer_id"] == scheduled["customer_id"], held
    assert held["callback_id"] == scheduled["callback_id"], (held, scheduled)
    assert held["callback_time"] == "2031-05-01 11:00 Asia/Kolkata" and held["assigned_to"] == "agent7", held
    said = f"added as customer {scheduled['customer_id']}, callback {scheduled['callback_id']} scheduled at"
    assert said in text, text
    # Not told as a callback this call scheduled: only Bo's is new.
    out = again.structured_content
    assert out is not None and out["callbacks"] == 1, out
    assert "Callbacks scheduled: 1" in text and f"record 1: {scheduled['callback_id']}" not in text, text


async def test_a_file_row_a_tool_sent_earlier_is_told_the_customer_ameyo_made_of_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The same record, sent by ameyo_upload_contacts and then met in a file, was set aside with
    only "Ameyo answered them then (the audit trail … keeps those answers)", naming no upload: the
    check and result files now say what the tool's write was and what Ameyo made of the record."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text("phone1,name\n9876512346,Bo\n9876512347,Cy\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    file_args = BASE | {"file": "today.csv"}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", BASE | {"records": [ASHA, BO]})
        assert "12522 (record 2)" in text_of(first), text_of(first)
        checked = await client.call_tool(FILE_TOOL, file_args)
        sent = await client.call_tool(FILE_TOOL, file_args | {"dry_run": False})
    assert "Would not be sent again: 1 row" in text_of(checked), text_of(checked)
    assert "Not sent again: 1 row" in text_of(sent) and "sent in this run 1" in text_of(sent), text_of(sent)
    said = "by another write (2 records into lead 1 of MoviStarSurvey (1))"
    for output in ("today.csv.lead-1.ameyo-check.csv", "today.csv.lead-1.ameyo-result.csv"):
        rows = {row["line"]: row for row in csv.DictReader((folder / output).open(encoding="utf-8"))}
        bo = rows["2"]
        assert bo["result"] == "SENT_EARLIER" and bo["ok"] == "yes", (output, bo)
        assert bo["customer_id"] == "12522", (output, bo)
        assert said in bo["reason"] and "Ameyo answered it then: added as customer 12522" in bo["reason"], (
            output,
            bo,
        )
    assert simulator.state.executed["uploadContacts"] == 2


async def _a_tool_then_the_file(
    simulator: Simulator, tmp_path: Path, at: str
) -> tuple[CallToolResult, CallToolResult, CallToolResult]:
    """Asha's callback at `at` (agent7) sent by ameyo_upload_contacts_with_callbacks, then the file
    tool's dry run and run of a file in an upload folder with her row (11:00, Agent7) and Cy's."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text(
        "phone1,name,callback_time,callback_user\n"
        "9876512345,Asha,2031-05-01 11:00,Agent7\n"
        "9876512347,Cy,2031-05-01 12:00,\n",
        encoding="utf-8",
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    asha = {"customer": ASHA, "callback_time": at, "agent": "agent7"}
    file_args = BASE | {"file": "today.csv"}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts_with_callbacks", BASE | {"records": [asha]})
        checked = await client.call_tool(FILE_TOOL, file_args)
        sent = await client.call_tool(FILE_TOOL, file_args | {"dry_run": False})
    return first, checked, sent


async def test_a_file_row_whose_callback_a_tool_sent_is_told_what_ameyo_answered(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The same customer with the same callback, sent by ameyo_upload_contacts_with_callbacks and
    then met in a file: the file's row also asks the upload's status of the customer (NOT_TRIED,
    what a new customer starts as anyway), so it was kept as another row, and told NOT_SENT, as
    held by "another write", with no word of the callback Ameyo had scheduled for it."""
    first, checked, sent = await _a_tool_then_the_file(simulator, tmp_path, "2031-05-01T11:00:30")
    [scheduled] = by_position(first).values()
    folder = tmp_path / "uploads"
    assert "Would not be sent again: 1 row" in text_of(checked), text_of(checked)
    assert "Not sent again: 1 row" in text_of(sent) and "sent in this run 1" in text_of(sent), text_of(sent)
    said = (
        f"Ameyo answered it then: added as customer {scheduled['customer_id']}, "
        f"callback {scheduled['callback_id']} scheduled at"
    )
    for output in ("today.csv.lead-1.ameyo-check.csv", "today.csv.lead-1.ameyo-result.csv"):
        rows = {row["line"]: row for row in csv.DictReader((folder / output).open(encoding="utf-8"))}
        row = rows["2"]
        assert row["result"] == "SENT_EARLIER" and row["ok"] == "yes", (output, row)
        assert row["customer_id"] == str(scheduled["customer_id"]), (output, row)
        assert row["callback_id"] == str(scheduled["callback_id"]), (output, row)
        reason = row["reason"]
        assert "by another write (1 record into lead 1" in reason and said in reason, (output, row)
    assert simulator.state.executed["uploadContactAndAddCallback"] == 2


async def test_a_file_row_that_would_requeue_its_customer_is_not_the_tools_write(
    simulator: Simulator, tmp_path: Path
) -> None:
    """With update_existing, the file's status churns a customer already there (Ameyo dials them
    again as new), which the tool's record, giving no status, did not: that row was not sent by
    the tool's write, and is not told so; its callback is still not scheduled twice."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "today.csv").write_text(
        "phone1,name,callback_time\n9876512345,Asha,2031-05-01 11:00\n", encoding="utf-8"
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    asha = {"customer": ASHA, "callback_time": "2031-05-01T11:00:00"}
    update = BASE | {"update_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        await client.call_tool("ameyo_upload_contacts_with_callbacks", update | {"records": [asha]})
        sent = await client.call_tool(FILE_TOOL, update | {"file": "today.csv", "dry_run": False})
    rows = {r["line"]: r for r in csv.DictReader((folder / "today.csv.lead-1.ameyo-result.csv").open())}
    assert rows["2"]["result"] == "NOT_SENT" and "another write scheduled" in rows["2"]["reason"], rows
    assert "sent in this run 0" in text_of(sent), text_of(sent)
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


async def test_a_file_row_whose_callback_a_tool_sent_is_not_counted_as_scheduled_by_the_file(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A row told SENT_EARLIER carries the callback Ameyo scheduled for the tool's write, to say what
    became of it; the file's counts took it as one of its own: the dry run said it "would send 1
    (with 2 callbacks to schedule)", and the run "added 1 … Callbacks scheduled: 2", though Ameyo
    scheduled one for it. The record tools count only the callbacks their own write scheduled."""
    _, checked, sent = await _a_tool_then_the_file(simulator, tmp_path, "2031-05-01T11:00:00")
    said = text_of(checked)
    assert "would send 1 (with 1 callback to schedule)" in said and "(the first" not in said, said
    assert (checked.structured_content or {})["callbacks"] == 1, checked.structured_content
    said = text_of(sent)
    assert "Not sent again: 1 row" in said and "Callbacks scheduled: 1." in said, said
    assert (sent.structured_content or {})["callbacks"] == 1, sent.structured_content
    assert simulator.state.executed["uploadContactAndAddCallback"] == 2  # the tool's, and Cy's
