"""A phone number written as a decimal, as a spreadsheet writes a number cell ("9876543213.0") or a
model passes a JSON number (9876543214.0), is refused, saying how to give it: the dot had been read
as a separator and the number uploaded with a 0 more (98765432130), someone else's, whom the dialer
would call. A dot between digit groups ("98765.43213", "98765.00000") is still a separator."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

SAID = "is a decimal number (a spreadsheet's number cell ends in .0): give it as text, without the .0"


async def test_a_decimal_phone_is_refused_by_the_upload_tool(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    records = [
        {"phone1": "9876543213.0", "name": "Excel"},
        {"phone1": 9876543214.0, "name": "JSON"},
        {"phone1": "98765.43215", "name": "Dotted"},
        {"phone1": "+91 98765 43217.0", "name": "Spaced"},
        {"phone1": "98765.00000", "name": "Zeros"},
    ]
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        result = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records}
        )
    text = text_of(result)
    stored = {c.phone1 for c in simulator.state.contacts(1)}
    assert not {"98765432130", "98765432140"} & stored, text
    # Its digits are the number's: the decimal part a spreadsheet or JSON adds (".0") is not counted.
    assert f"record 1: phone1 has 10 digits and {SAID}" in text, text
    assert f"record 2: phone1 has 10 digits and {SAID}" in text, text
    assert f"record 4: phone1 has 12 digits and {SAID}" in text, text
    assert "Sent 2 records" in text and {"9876543215", "9876500000"} <= stored, text


async def test_a_decimal_phone_in_a_file_is_refused_as_its_row(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "excel.csv").write_text("phone1,name\n9876543213.0,Excel\n9876543216,Text\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "excel.csv", "campaign": 1, "lead_id": 21}
        )
    check = (folder / "excel.csv.lead-21.ameyo-check.csv").read_text(encoding="utf-8")
    assert "98765432130" not in check and "98765432130" not in text_of(dry), check
    assert "would send 1, refused before sending 1" in text_of(dry) and SAID in text_of(dry), text_of(dry)
    assert f"line 2: phone1 has 10 digits and {SAID}" in text_of(dry), text_of(dry)


SCIENTIFIC = (
    "is a spreadsheet's number in scientific notation (such as 9.87654E+11), which has lost its last "
    "digits: format the column as text in the spreadsheet, check the numbers and save it again"
)


async def test_a_phone_in_scientific_notation_is_refused_as_a_spreadsheets_not_a_wrong_column(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A spreadsheet shows a 12-digit number cell as 9.87654E+11 and saves it so: the row was refused
    as 'phone1 has letters … check that the right column is phone1', though the column was right and
    its digits were lost. A file as Excel saves it (BOM, semicolons, CRLF, a separator more) and a
    record of the upload tool are told what happened and what to do."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    body = (
        "\ufeffname;phone1;city;\r\nRavi;9876543217;Pune;\r\n"
        "Asha;9.87654E+11;Delhi;\r\nDe;9,87654E+11;Bonn;\r\n"
    )
    (folder / "excel.csv").write_text(body, encoding="utf-8")
    (folder / "export.jsonl").write_text('{"phone1": 9.87654E+11}\n{"phone1": 9876543218.0}\n')
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "excel.csv", "campaign": 1, "lead_id": 21}
        )
        lines = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "export.jsonl", "campaign": 1, "lead_id": 21}
        )
        records = await client.call_tool(
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": 21, "records": [{"phone1": "9.87654E+11"}], "dry_run": True},
        )
    text = text_of(dry)
    assert "would send 1, refused before sending 2" in text, text
    assert f"line 3: phone1 {SCIENTIFIC}" in text and f"line 4: phone1 {SCIENTIFIC}" in text, text
    assert "right column" not in text, text
    assert f"record 1: phone1 {SCIENTIFIC}" in text_of(records), text_of(records)
    # A JSON number keeps its spelling: read as the float 987654000000.0, it was told to be resent
    # without its .0, digits the spreadsheet had lost.
    assert f"line 1: phone1 {SCIENTIFIC}" in text_of(lines), text_of(lines)
    assert f"line 2: phone1 has 10 digits and {SAID}" in text_of(lines), text_of(lines)
    check = (folder / "excel.csv.lead-21.ameyo-check.csv").read_text(encoding="utf-8")
    assert SCIENTIFIC in check and "9.87654E" not in check.replace("such as 9.87654E+11", ""), check
