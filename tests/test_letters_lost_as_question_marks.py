"""A contact file saved by Excel as plain "CSV" (not "CSV UTF-8") holds every Hindi, Bengali, Tamil
or Gujarati letter as "?": "प्रिया शर्मा" is "?????? ?????" on disk, plain ASCII that reads as valid
UTF-8. The upload sent such rows without a word, and Ameyo kept the question marks as the customers'
names, which no search by name finds again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import Simulator, process_env, server_of, settings_for, text_of
from tests.test_bulk_upload import read_result

pytestmark = pytest.mark.anyio

SAID = "question marks where letters were"
ROWS = [
    ("+91-98111-20001", "प्रिया शर्मा", "Pune"),
    ("098111 20002", "মৌমিতা দাস", "Kolkata"),
    ("91 9811120003", "Priya शर्मा", "Chennai"),
    ("9811120004", "Asha Rao", "Mumbai"),
    ("9811120005", "Ravi Kumar", "Thane?"),  # a question mark of its own: a value, not lost letters
]


def excel_csv(path: Path) -> Path:
    """The rows as Excel's "CSV (Comma delimited)" saves them on an English Windows."""
    text = "".join(f"{','.join(row)}\r\n" for row in [("phone1", "name", "city"), *ROWS])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("cp1252", errors="replace"))
    return path


@pytest.mark.network  # the CLI is a process of its own
def test_the_cli_sends_no_name_whose_letters_became_question_marks(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        source = excel_csv(tmp_path / "contacts.csv")
        command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1"]
        command += ["--lead", "21"]
        done = subprocess.run(
            command, env=process_env(sim, tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert "Traceback" not in done.stderr, done.stderr
        rows = read_result(tmp_path / "contacts.csv.lead-21.ameyo-result.csv")
        assert [rows[line]["result"] for line in (2, 3, 4)] == ["REFUSED"] * 3, rows
        assert all(SAID in rows[line]["reason"] and "CSV UTF-8" in rows[line]["reason"] for line in (2, 3, 4))
        assert rows[5]["result"] == rows[6]["result"] == "ADDED", rows
        assert SAID in done.stdout, done.stdout
        names = [c.columns.get("name", "") for c in sim.state.contacts(1)]
        assert not [name for name in names if "??" in name], names


async def test_the_file_tools_dry_run_names_the_rows_whose_letters_were_lost(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    excel_csv(folder / "contacts.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool(
            "ameyo_upload_contacts_file", {"campaign": 1, "lead_id": 21, "file": "contacts.csv"}
        )
    text = text_of(result)
    assert not result.is_error and "would send 2, refused before sending 3" in text, text
    assert all(f"line {line}: " in text for line in (2, 3, 4)) and SAID in text, text
