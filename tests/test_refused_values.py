"""A refused row never quotes a value that is not a phone number.

A column mapped to phone1 by mistake (a password, a PIN, a card number) must not leave through the
refusal: the row is named by its line or position and the value is described ("phone1 has letters and
symbols, 17 characters"), in answers, structured content, result and check files, and the CLI's output.

Real boundaries throughout: the tools through a real MCP client session, the CLI as a real process,
every request to the simulator over loopback HTTP.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import process_env, server_of, settings_for, text_of
from tests.test_bulk_upload import read_result

pytestmark = pytest.mark.anyio

SECRET = "hunter2-S3cret!"
PIN = "482913"  # digits, but no complete number: described like any other refused value
CARD = "4111111111111111999"  # 19 digits: within Ameyo's 20, too many for a phone number
LONG = "1234567890123456789012345"  # 25 digits: more than Ameyo's 20
GOOD = "9812345678"
ROWS = 50


def secrets() -> list[str]:
    return [f"{SECRET}{i:02d}" for i in range(ROWS)]  # 17 characters each


def write_password_file(path: Path) -> dict[int, str]:
    """A file whose Password column is mapped to phone1: `ROWS` secrets, then a PIN, a card number,
    a too long number and one good row. Returns line → the description its refusal should give."""
    rows = [*secrets(), PIN, CARD, LONG]
    path.write_text(
        "Password,name\n" + "".join(f"{p},Name {i}\n" for i, p in enumerate(rows)) + f"{GOOD},Good\n",
        encoding="utf-8",
    )
    expected = {line: "phone1 has letters and symbols, 17 characters" for line in range(2, ROWS + 2)}
    expected[ROWS + 2] = "phone1 has 6 digits and is not a complete phone number"
    expected[ROWS + 3] = "phone1 has 19 digits and is not a phone number"
    expected[ROWS + 4] = "phone1 has 25 digits, more than the 20 Ameyo allows"
    return expected


def assert_nothing_quoted(text: str) -> None:
    for value in (SECRET, "S3cret", PIN, CARD, LONG):
        assert value not in text, f"{value!r} leaked into: {text[:2000]}"


def files_text(folder: Path, *skip: Path) -> str:
    """Everything the upload wrote: result or check file, journal, audit trail, index."""
    written = [p for p in sorted(folder.rglob("*")) if p.is_file() and p not in skip]
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in written)


def assert_refusals_described(result_file: Path, expected: dict[int, str]) -> None:
    rows = read_result(result_file)
    for line, description in expected.items():
        row = rows[line]
        assert row["result"] == "REFUSED" and description in row["reason"], row
        assert row["phone1"] == ""  # not a phone number: not shown
    good = rows[max(rows)]
    assert good["phone1"] == GOOD and good["result"] != "REFUSED"


async def test_file_tool_describes_a_password_column_and_never_quotes_it(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    source = folder / "contacts.csv"
    expected = write_password_file(source)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args: dict[str, Any] = {
        "file": "contacts.csv",
        "campaign": 1,
        "lead_id": 1,
        "column_map": {"Password": "phone1"},
    }
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts_file", args)
        dry_text = text_of(dry)
        assert not dry.is_error, dry_text
        assert "would send 1, refused before sending 53" in dry_text
        assert "line 2: phone1 has letters and symbols, 17 characters" in dry_text
        out = dry.structured_content
        assert out is not None and len(out["failures"]) == 20
        for failure in out["failures"]:
            assert failure.get("phone") is None and expected[failure["line"]] in failure["reason"]
        assert_nothing_quoted(dry_text + json.dumps(out))
        check_file = Path(out["result_file"])
        assert_refusals_described(check_file, expected)
        assert_nothing_quoted(files_text(tmp_path, source))

        real = await client.call_tool("ameyo_upload_contacts_file", {**args, "dry_run": False})
    text = text_of(real)
    assert not real.is_error, text
    assert "refused before sending 53; sent in this run 1" in text and "added 1," in text
    assert real.structured_content is not None
    assert_nothing_quoted(text + json.dumps(real.structured_content))
    assert_refusals_described(Path(real.structured_content["result_file"]), expected)
    assert_nothing_quoted(files_text(tmp_path, source))
    assert GOOD in {c.phone1 for c in simulator.state.contacts(1)}


def test_cli_upload_describes_a_password_column_and_never_quotes_it(tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    expected = write_password_file(source)
    command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]
    command += ["--map", "Password=phone1"]
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)
        for extra, result_name in (
            (["--dry-run"], "contacts.csv.lead-1.ameyo-check.csv"),
            ([], "contacts.csv.lead-1.ameyo-result.csv"),
        ):
            done = subprocess.run(
                [*command, *extra], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 1, done.stderr  # rows were refused
            assert "refused before sending 53" in done.stdout, done.stdout
            assert "line 2: phone1 has letters and symbols, 17 characters" in done.stdout
            assert f"line {ROWS + 4}: phone1 has 25 digits" not in done.stdout  # past the first 20
            assert_nothing_quoted(done.stdout + done.stderr)
            assert_refusals_described(tmp_path / result_name, expected)
        assert GOOD in {c.phone1 for c in sim.state.contacts(1)}
    assert_nothing_quoted(files_text(tmp_path, source))


async def test_upload_tool_describes_refused_values_and_never_quotes_them(
    client: Client, simulator: SimulatorThread
) -> None:
    records: list[dict[str, Any]] = [
        {"phone1": SECRET, "name": "Mapped wrong"},
        {"phone1": PIN, "name": "A PIN"},
        {"phone1": LONG, "name": "Too long"},
        {"phone1": GOOD, "name": "Good"},
    ]
    args: dict[str, Any] = {"campaign": 1, "lead_id": 1, "records": records}
    for dry_run in (True, False):
        result = await client.call_tool("ameyo_upload_contacts", {**args, "dry_run": dry_run})
        text = text_of(result)
        assert not result.is_error, text
        assert "record 1: phone1 has letters and symbols, 15 characters" in text
        assert "record 2: phone1 has 6 digits and is not a complete phone number" in text
        assert "record 3: phone1 has 25 digits, more than the 20 Ameyo allows" in text
        out = result.structured_content
        assert out is not None and out["refused"] == 3
        refused = {r["position"]: r for r in out["records"] if r["result"] == "REFUSED"}
        assert sorted(refused) == [1, 2, 3] and all(r.get("phone") is None for r in refused.values())
        assert "phone1 has letters and symbols, 15 characters" in refused[1]["reason"]
        assert_nothing_quoted(text + json.dumps(out))
    assert GOOD in {c.phone1 for c in simulator.state.contacts(1)}

    # Every record refused: nothing is sent, and the error names each one without quoting it.
    none = await client.call_tool("ameyo_upload_contacts", {**args, "records": records[:3]})
    assert none.is_error and "record 1: phone1 has letters and symbols, 15 characters" in text_of(none)
    assert_nothing_quoted(text_of(none))


async def test_callback_uploads_describe_refused_values_and_never_quote_them(
    client: Client, simulator: SimulatorThread, tmp_path: Path
) -> None:
    callbacks = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {
            "campaign": 1,
            "lead_id": 21,
            "records": [
                {"customer": {"phone1": SECRET}, "callback_time": "2031-03-03T10:00:00"},
                {"customer": {"phone1": "9000022231"}, "callback_time": SECRET},
                {
                    "customer": {"phone1": "9000022232"},
                    "callback_time": "2031-03-03T10:00:00",
                    "callback_phone": SECRET,
                },
                {"customer": {"phone1": "9000022233"}, "callback_time": "2031-03-03T10:00:00"},
            ],
        },
    )
    text = text_of(callbacks)
    assert not callbacks.is_error, text
    assert "record 1: phone1 has letters and symbols, 15 characters" in text
    assert "record 2: 9000022231: callback_time is not an ISO 8601 time" in text
    assert "record 3: 9000022232: callback_phone has letters and symbols, 15 characters" in text
    assert "Callbacks scheduled: 1" in text
    assert_nothing_quoted(text + json.dumps(callbacks.structured_content))
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1

    # A file's callback_phone column and phone2 holding a partial number (phone2 is checked by the
    # phone rule as phone1 is, so the row is refused for it first): described the same way.
    folder = tmp_path / "uploads"
    folder.mkdir()
    row = {"phone1": "9000022241", "phone2": PIN, "callback_time": "2031-03-03T10:00:00"}
    (folder / "callbacks.jsonl").write_text(json.dumps({**row, "callback_phone": PIN}) + "\n")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as file_client:
        dry = await file_client.call_tool(
            "ameyo_upload_contacts_file", {"file": "callbacks.jsonl", "campaign": 1, "lead_id": 21}
        )
    text = text_of(dry)
    assert not dry.is_error, text
    assert "line 1: 9000022241: phone2 has 6 digits and is not a complete phone number" in text
    assert_nothing_quoted(text + json.dumps(dry.structured_content))
    assert_nothing_quoted(files_text(folder, folder / "callbacks.jsonl"))
