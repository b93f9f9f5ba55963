"""Issue #6: a whole contact file uploaded in batches, every row accounted for, resumable.

Real loopback HTTP to the simulator throughout; the tool through a real MCP client session; the
resume test kills a real CLI process with SIGKILL in the middle of an upload.
"""

from __future__ import annotations

import csv
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.store import Store
from ameyo_mcp.writes.audit import read_trail
from ameyo_mcp.writes.bulk.engine import upload_file
from ameyo_mcp.writes.bulk.options import BulkOptions
from ameyo_mcp.writes.bulk.report import bulk_text
from ameyo_mcp.writes.path import WritePath
from tests.conftest import ameyo_of, cli_writes, process_env, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

CAMPAIGN, LEAD = 1, 1
EXISTING = "0458681166572"  # a seeded contact of campaign 1


def phone(i: int) -> str:
    return f"97{i:08d}"


def write_mixed_file(path: Path, good: int) -> dict[int, str]:
    """`good` valid rows, then one bad row of each kind; returns line → expected reason fragment."""
    lines = [b"phone1,name,city"]
    lines += [f"{phone(i)},Name {i},Pune".encode() for i in range(good)]
    bad = {
        f"{phone(3)},Again,Pune".encode(): "duplicate: phone1 already on line 5",
        b",No Phone,Pune": "phone1 is missing",
        ("1" * 25 + ",Too Long,Pune").encode(): "phone1 has 25 digits, more than the 20 Ameyo allows",
        b"9812345670,Caf" + b"e" * 70_000 + b",Pune": "line is longer than 65536 bytes",
        b'9812345671,"Open quote,Pune': "malformed CSV",
        b"9812345672,Too,Many,Fields": "malformed CSV: 4 fields where the header has 3",
    }
    expected: dict[int, str] = {}
    for raw, reason in bad.items():
        lines.append(raw)
        expected[len(lines)] = reason
    lines.append(f"{phone(good)},Last,Pune".encode())  # a good row after the bad ones
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected


def read_result(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {int(row["line"]): row for row in csv.DictReader(handle)}


async def test_every_bad_row_is_named_by_line_and_reason(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    expected = write_mixed_file(source, good=40)
    options = BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, batch_size=15, dry_run=True)

    dry = await upload_file(cli_writes(ameyo), source, options)
    assert simulator.state.executed["uploadContacts"] == 0
    assert dry.rows == 47 and dry.counts == {"WOULD_SEND": 41, "REFUSED": 6}
    assert {f.line: f.reason for f in dry.failures}.keys() == expected.keys()
    for failure in dry.failures:
        assert failure.reason is not None and expected[failure.line] in failure.reason

    real = await upload_file(
        cli_writes(ameyo), source, BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, batch_size=15)
    )
    assert real.counts == {"ADDED": 41, "REFUSED": 6} and real.sent_now == 41
    assert simulator.state.executed["uploadContacts"] == 3  # 41 rows in batches of 15
    rows = read_result(Path(real.result_file))
    assert sorted(rows) == list(range(2, 49))  # every input row, by its line
    for line, reason in expected.items():
        assert rows[line]["result"] == "REFUSED" and reason in rows[line]["reason"]
    saved = {c.phone1: c for c in simulator.state.contacts(CAMPAIGN)}
    assert rows[2]["customer_id"] == str(saved[phone(0)].customer_id)
    assert phone(40) in saved and "9812345670" not in saved


async def test_counts_in_a_report_are_written_one_way(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Every count of a report in the digits of its "1,006 rows": "would send 1005" beside it read as
    another kind of number."""
    source = tmp_path / "thousand.csv"
    source.write_text(
        "phone1,name\n" + "".join(f"{phone(5000 + i)},N {i}\n" for i in range(1005)) + "12,Short\n",
        encoding="utf-8",
    )
    dry = await upload_file(
        cli_writes(ameyo), source, BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, dry_run=True)
    )
    assert "1,006 rows" in bulk_text(dry) and "would send 1,005, refused before sending 1." in bulk_text(dry)
    real = await upload_file(cli_writes(ameyo), source, BulkOptions(campaign=CAMPAIGN, lead_id=LEAD))
    text = bulk_text(real)
    assert "sent in this run 1,005;" in text and "added 1,005," in text, text


async def test_json_lines_column_map_and_callback_columns(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "leads.jsonl"
    rows: list[dict[str, Any]] = [
        {"Mobile": phone(100), "name": "Plain"},
        {"Mobile": phone(101), "name": "Call me", "callback_time": "2031-02-10T11:00:00"},
        {"Mobile": phone(102), "callback_time": "next week"},
        {"Mobile": phone(103), "callback_user": "agent"},
        {"Mobile": EXISTING, "name": "Known"},
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n", encoding="utf-8")
    out = await upload_file(
        cli_writes(ameyo),
        source,
        BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, column_map={"Mobile": "phone1"}),
    )
    assert out.counts == {"ADDED": 2, "REFUSED": 3, "DUPLICATE_NOT_ADDED": 1}
    reasons = {f.line: f.reason or "" for f in out.failures}
    assert "not an ISO 8601 time" in reasons[3]
    assert "callback_user or callback_phone given without callback_time" in reasons[4]
    assert "already in lead 1, left as it was" in reasons[5] and "not valid JSON" in reasons[6]
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1
    assert simulator.state.executed["uploadContacts"] == 1
    result = read_result(Path(out.result_file))
    assert result[2]["callback_id"] and "2031-02-10 11:00" in result[2]["callback_time"]


@pytest.mark.network
async def test_batch_without_answer_is_unknown_and_not_resent(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "contacts.csv"
    write_mixed_file(source, good=30)
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.drop_after = 1  # the first batch runs, its answer is lost
    options = BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, batch_size=10, concurrency=1)
    first = await upload_file(cli_writes(ameyo), source, options)
    # Sending stops after a batch whose outcome is unknown, until a person has looked.
    assert first.counts["OUTCOME_UNKNOWN"] == 10 and first.counts["NOT_SENT"] == 21, (
        first.counts,
        first.notes,
    )
    assert any("NOT resent automatically" in n for n in first.notes)
    assert simulator.state.commands["uploadContacts"] == 1

    # Asked to confirm, the person hears of the rows the run would send: not the batch of unknown
    # outcome, which is not resent (it asked "about 37 records", then sent none of those 10).
    asked: list[str] = []

    async def person(question: str, _binding: str) -> bool:
        asked.append(question)
        return True

    confirming = WritePath.for_settings(ameyo)
    confirming.confirm_over = 1
    second = await upload_file(confirming, source, options, ask=person)
    assert len(asked) == 1 and "about 27 records" in asked[0], asked
    assert second.counts == {"ADDED": 21, "OUTCOME_UNKNOWN": 10, "REFUSED": 6}
    assert simulator.state.commands["uploadContacts"] == 4  # only the three unsent batches

    third = await upload_file(
        cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "retry_unknown": True})
    )
    assert third.counts == {"ADDED": 21, "DUPLICATE_NOT_ADDED": 10, "REFUSED": 6}
    assert third.from_earlier_runs == 21 and third.sent_now == 10
    # "Already there" after an unknown outcome is the earlier run's save: counted as saved.
    assert third.ok == 31
    assert sum(1 for w in simulator.state.records_written if w.detail == "ADDED") == 31


async def test_no_batch_leaves_after_one_whose_outcome_is_unknown(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Batches are journaled and claimed ahead of their request; one that fails stops the run before
    any other leaves, and those held back are sent by the next run (the outcome-unknown one is not)."""
    source = tmp_path / "contacts.csv"
    source.write_text(
        "phone1,name\n" + "".join(f"{phone(i)},Name {i}\n" for i in range(100)), encoding="utf-8"
    )
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.empty_list = 1  # run, and answered with nothing: outcome unknown
    simulator.state.faults.delay_s = 0.3  # the first two batches are out together
    options = BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, batch_size=10, concurrency=2)
    first = await upload_file(cli_writes(ameyo), source, options)
    # The second batch was out with the first; if it came back first, a third took its place before
    # the first's answer was in. None left after that.
    sent = simulator.state.commands["uploadContacts"]
    assert sent in (2, 3), sent
    assert first.counts["OUTCOME_UNKNOWN"] == 10 and first.counts["ADDED"] == 10 * (sent - 1), first.counts
    assert first.counts["NOT_SENT"] == 100 - 10 * sent and first.rows == 100, first.counts
    simulator.state.faults.reset()
    second = await upload_file(cli_writes(ameyo), source, options)
    assert second.counts == {"ADDED": 90, "OUTCOME_UNKNOWN": 10}, second.counts
    assert simulator.state.commands["uploadContacts"] == 10  # the unknown batch is not sent again


async def test_a_batch_claimed_on_the_loop_never_makes_it_wait_for_another_thread(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A file's batches are claimed on the event loop, except while another thread has the store
    (a server's sync writing a page): then the claim waits in a worker thread, and the loop (the
    server's other calls) goes on."""
    store = Store(str(tmp_path / "state" / "index.db"))
    source = tmp_path / "contacts.csv"
    source.write_text(
        "phone1,name\n" + "".join(f"{phone(i)},Name {i}\n" for i in range(30)), encoding="utf-8"
    )
    claiming, held = threading.Event(), threading.Event()
    claim_write = store.claim_write

    def claim(*args: Any, **kwargs: Any) -> Any:
        claiming.set()
        held.wait(10)  # the batch's claim comes just as a sync has taken the store
        return claim_write(*args, **kwargs)

    store.claim_write = claim  # type: ignore[method-assign]

    def sync_page() -> None:
        claiming.wait(10)
        with store._lock:  # as a sync's transaction holds it, for a second
            held.set()
            time.sleep(1)

    ticks: list[float] = []

    async def loop_alive() -> None:
        while True:
            ticks.append(time.monotonic())
            await anyio.sleep(0.01)

    writer = threading.Thread(target=sync_page)
    writer.start()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(loop_alive)
            path = WritePath.for_settings(ameyo, confirm=False, store=lambda: store)
            with anyio.fail_after(20):
                out = await upload_file(path, source, BulkOptions(campaign=CAMPAIGN, lead_id=LEAD))
            group.cancel_scope.cancel()
    finally:
        writer.join()
        store.close()
    assert out.ok == 30 and simulator.state.executed["uploadContacts"] == 1
    stalls = [b - a for a, b in itertools.pairwise(ticks)]
    assert claiming.is_set() and max(stalls) < 0.5, max(stalls)  # the loop never waited that second


def test_killed_cli_resumes_without_sending_a_row_twice(tmp_path: Path) -> None:
    rows, batch = 1200, 100
    source = tmp_path / "big.csv"
    source.write_text(
        "phone1,name\n" + "".join(f"{phone(i)},Name {i}\n" for i in range(rows)), encoding="utf-8"
    )
    journal = tmp_path / "big.csv.ameyo-journal"
    command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]
    command += ["--batch-size", str(batch), "--concurrency", "2"]
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)
        sim.state.faults.commands = {"uploadContacts"}
        sim.state.faults.delay_s = 0.4  # each batch runs at once, then its answer takes a while
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            text = journal.read_text() if journal.exists() else ""
            # Kill once some batches are answered and another is out, sent and not yet answered.
            if text.count('"t":"answer"') >= 3 and text.count('"t":"sent"') > text.count('"t":"answer"'):
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        first_sent = sim.state.commands["uploadContacts"]
        assert 3 <= first_sent < rows // batch, "the kill should land mid-upload"

        sim.state.faults.reset()
        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert "Resumed from the journal" in again.stdout, again.stderr
        result = read_result(tmp_path / "big.csv.lead-1.ameyo-result.csv")
        assert sorted(result) == list(range(2, rows + 2))
        unknown = [line for line, row in result.items() if row["result"] == "OUTCOME_UNKNOWN"]
        assert unknown, "the kill should leave a batch sent and unanswered"
        assert all(row["result"] in ("ADDED", "OUTCOME_UNKNOWN") for row in result.values())
        assert "NOT resent automatically" in again.stdout
        assert again.returncode == (1 if unknown else 0)
        # No batch went out twice: one request per batch over both runs, at most.
        assert sim.state.commands["uploadContacts"] <= rows // batch
        written = [w.customer_id for w in sim.state.records_written if w.command == "uploadContacts"]
        assert len(written) == len(set(written))
        saved = [c.phone1 for c in sim.state.contacts(1) if c.phone1.startswith("97")]
        assert len(saved) == len(set(saved))
        # Every row Ameyo answered is there once; unanswered ones are there at most once.
        answered = {phone(line - 2) for line, row in result.items() if row["result"] == "ADDED"}
        assert answered <= set(saved) and len(saved) <= rows


def test_the_cli_refuses_to_upload_a_file_an_upload_wrote(tmp_path: Path) -> None:
    source = tmp_path / "few.csv"
    source.write_text("phone1,name\n9876500201,Ana\n9876500202,Bo\n", encoding="utf-8")
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)
        command = [sys.executable, "-m", "ameyo_mcp", "upload", "--campaign", "1", "--lead", "1"]
        first = subprocess.run([*command, str(source)], env=env, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        sent = sim.state.commands["uploadContacts"]
        result = tmp_path / "few.csv.lead-1.ameyo-result.csv"
        again = subprocess.run([*command, str(result)], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode != 0
        assert "few.csv.lead-1.ameyo-result.csv is a file an upload wrote" in again.stderr, again.stderr
        assert "nothing was sent" in again.stderr
        assert sim.state.commands["uploadContacts"] == sent


async def test_tool_upload_reports_summary_and_progress(simulator: SimulatorThread, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    source = folder / "contacts.csv"
    expected = write_mixed_file(source, good=60)
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_CONFIRM_OVER="50")
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with Client(server_of(simulator, settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        hints = tools["ameyo_upload_contacts_file"].annotations
        assert hints is not None and hints.destructive_hint and not hints.idempotent_hint
        args: dict[str, Any] = {"file": "contacts.csv", "campaign": "MoviStarSurvey", "lead_id": LEAD}
        dry = await client.call_tool("ameyo_upload_contacts_file", args)
        assert not dry.is_error, text_of(dry)
        assert "Dry run, nothing written" in text_of(
            dry
        ) and "would send 61, refused before sending 6" in text_of(dry)
        assert simulator.state.executed["uploadContacts"] == 0

        unconfirmed = await client.call_tool("ameyo_upload_contacts_file", {**args, "dry_run": False})
        assert unconfirmed.is_error and "dry_run=true" in text_of(unconfirmed)
        assert simulator.state.commands["uploadContacts"] == 0
        token = dry.structured_content["confirm_token"]  # type: ignore[index]
        assert f'confirm="{token}"' in text_of(dry)

        real = await client.call_tool(
            "ameyo_upload_contacts_file",
            {**args, "dry_run": False, "confirm": token, "batch_size": 10, "concurrency": 2},
            progress_callback=on_progress,
        )
    text = text_of(real)
    assert not real.is_error, text
    assert "refused before sending 6; sent in this run 61" in text and len(text) < 20_000
    assert "added 61, updated 0, duplicates left unchanged 0, failed 0" in text
    for line in expected:
        assert f"line {line}:" in text
    out = real.structured_content
    assert out is not None and out["ok"] == 61 and out["counts"]["REFUSED"] == 6
    assert Path(out["result_file"]).parent == folder and await anyio.Path(out["result_file"]).exists()
    assert simulator.state.executed["uploadContacts"] == 7
    assert seen and seen[-1][0] == seen[-1][1] == 67
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    # Every batch is in the audit trail: an intent before it was sent and its result after.
    audit = list(read_trail(tmp_path / "audit.jsonl"))
    batches = [e for e in audit if e.get("file", "").endswith("contacts.csv")]
    assert [e["event"] for e in batches].count("intent") == 7
    results = [e for e in batches if e["event"] == "result"]
    assert len(results) == 7 and sum(len(e["customer_ids"]) for e in results) == 61


async def test_paths_outside_the_upload_folders_are_refused(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    outside = tmp_path / "secret.csv"
    outside.write_text("phone1\n9811111111\n", encoding="utf-8")
    (folder / "link.csv").symlink_to(outside)
    args: dict[str, Any] = {"campaign": CAMPAIGN, "lead_id": LEAD}
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        for path in (str(outside), "../secret.csv", str(folder / ".." / "secret.csv"), "link.csv"):
            result = await client.call_tool("ameyo_upload_contacts_file", {**args, "file": path})
            assert result.is_error and "AMEYO_UPLOAD_DIRS" in text_of(result), path
            assert "outside" in text_of(result), path
    bare = settings_for(simulator, tmp_path)
    async with Client(server_of(simulator, bare)) as client:
        result = await client.call_tool("ameyo_upload_contacts_file", {**args, "file": str(outside)})
        assert result.is_error and "set AMEYO_UPLOAD_DIRS" in text_of(result)
    assert simulator.state.commands["uploadContacts"] == 0


async def test_a_journal_from_another_ameyo_server_is_not_resumed(tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text("phone1,name\n9100000001,One\n9100000002,Two\n")
    options = BulkOptions(campaign=1, lead_id=LEAD)
    with SimulatorThread(SimulatorConfig(contacts=10)) as staging:
        ameyo = Ameyo(settings_for(staging, tmp_path))
        try:
            first = await upload_file(cli_writes(ameyo), source, options)
        finally:
            await ameyo.aclose()
    with SimulatorThread(SimulatorConfig(contacts=10)) as production:
        ameyo = Ameyo(settings_for(production, tmp_path))
        try:
            second = await upload_file(cli_writes(ameyo), source, options)
        finally:
            await ameyo.aclose()
        assert production.state.executed["uploadContacts"] == 1
    assert first.sent_now == second.sent_now == 2 and second.from_earlier_runs == 0


async def test_a_file_sends_a_number_as_an_earlier_upload_spelt_it(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    """The ledger's spelling of a number is read in the batch's own claim: the batch goes out with
    it (Ameyo finds its customer), its result shows that spelling, and a copy of the file is still
    the same rows."""
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=database_url)
    first, second = tmp_path / "monday.csv", tmp_path / "tuesday.csv"
    first.write_text("phone1,name\n09876500011,Anil\n9812300301,Asha\n", encoding="utf-8")
    # Anil again, his name corrected: another row of the same number, so it is sent.
    second.write_text("phone1,name\n+91 98765 00011,Anil Kumar\n9812300302,Ravi\n", encoding="utf-8")
    options = BulkOptions(campaign=CAMPAIGN, lead_id=LEAD)
    service = ameyo_of(simulator, settings)
    try:
        await upload_file(cli_writes(service), first, options)
        out = await upload_file(cli_writes(service), second, options)
        (second.parent / "tuesday-copy.csv").write_bytes(second.read_bytes())
        # The dry run of the copy says what its run will do: send nothing (it had said "would send 2").
        dry_options = BulkOptions(campaign=CAMPAIGN, lead_id=LEAD, dry_run=True)
        dry = await upload_file(cli_writes(service), second.parent / "tuesday-copy.csv", dry_options)
        copy = await upload_file(cli_writes(service), second.parent / "tuesday-copy.csv", options)
    finally:
        await service.aclose()
    assert dry.counts == {"SENT_EARLIER": 2}, dry.counts
    assert "would send 0," in bulk_text(dry) and "Would not be sent again: 2 rows" in bulk_text(dry)
    assert out.counts == {"DUPLICATE_NOT_ADDED": 1, "ADDED": 1}, out.counts
    held = "1 number was sent as Ameyo already holds it (e.g. +91 98765 00011 → 09876500011)"
    assert any(held in note for note in out.notes), out.notes
    sent = [w for w in simulator.state.records_written if w.command == "uploadContacts"]
    assert sum(1 for w in sent if w.detail == "ADDED") == 3  # Anil once, Asha, Ravi
    assert read_result(Path(out.result_file))[2]["phone1"] == "09876500011"  # as it went out
    assert copy.counts == {"SENT_EARLIER": 2} and simulator.state.executed["uploadContacts"] == 2


async def test_a_file_that_updates_says_its_customers_are_dialled_again(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    existing = next(c for c in simulator.state.contacts(1) if c.phone1 and c.lead_id == LEAD)
    (folder / "fix.csv").write_text(f"phone1,city\n{existing.phone1},Chennai\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args: dict[str, Any] = {"file": "fix.csv", "campaign": 1, "lead_id": LEAD, "update_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts_file", args)
        real = await client.call_tool("ameyo_upload_contacts_file", args | {"dry_run": False})
    assert "each existing customer Ameyo updates gets this upload's status NOT_TRIED" in text_of(dry)
    assert "updated 1" in text_of(real), text_of(real)
    assert "the 1 updated customer got this upload's status NOT_TRIED and 0 attempts" in text_of(real)
