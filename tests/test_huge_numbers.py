"""A whole number longer than Python converts to text (4,300 digits) in a customer's value: in a
JSON-lines file it had failed the whole upload as "Something unexpected went wrong (ValueError)",
saying a write may have been applied though nothing was sent, and naming no row; so did such a
number in a record's field, and a line nested deeper than Python's recursion. Each is now its own
record's refusal, and the rest is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

UNEXPECTED = "Something unexpected went wrong"


async def test_a_file_row_holding_a_huge_number_or_deep_nesting_is_refused_as_that_row(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "c.jsonl").write_text(
        '{"phone1": "9876500101", "name": "Ana", "score": 12}\n'
        '{"phone1": "9876500102", "score": ' + "1" * 5000 + "}\n"
        '{"phone1": "9876500103", "score": ' + "[" * 30_000 + "]" * 30_000 + "}\n"
        '{"phone1": 9876500104, "name": "Bo"}\n',
        encoding="utf-8",
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args = {"campaign": 1, "lead_id": 1, "file": "c.jsonl"}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts_file", args | {"dry_run": True})
        sent = await client.call_tool("ameyo_upload_contacts_file", args | {"dry_run": False})
    for answer in (dry, sent):
        text = text_of(answer)
        assert UNEXPECTED not in text and not answer.is_error, text
        assert "line 2: " in text and "field 'score' is longer than 1,000 characters" in text, text
        assert "line 3: " in text and "not valid JSON: nested too deeply" in text, text
    assert "sent in this run 2;" in text_of(sent), text_of(sent)
    saved = {c.phone1: c.customer_data for c in simulator.state.contacts(1)}
    assert saved["9876500101"]["score"] == "12" and "9876500104" in saved


async def test_a_record_field_holding_a_huge_integer_is_that_records_refusal(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    records = [{"phone1": "9876500111", "score": 10**5000}, {"phone1": "9876500112", "score": 7}]
    async with Client(server_of(simulator, settings)) as client:
        answer = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 1, "records": records}
        )
    text = text_of(answer)
    assert UNEXPECTED not in text and not answer.is_error, text
    assert "record 1: " in text and "field 'score' is longer than 1,000 characters" in text, text
    assert "Sent 1 record" in text, text
