"""Issue #9, the bulk side: an upload runs alone, its journal is exact, and its outputs destroy nothing.

Real boundaries throughout: CLI runs are real processes (two at once, SIGTERM, a file size limit),
the tool goes through a real MCP client session, and every request reaches the simulator over
loopback HTTP.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.errors import UploadRefused
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.writes.bulk.engine import upload_file
from ameyo_mcp.writes.bulk.options import BulkOptions
from ameyo_mcp.writes.bulk.report import bulk_text
from tests.conftest import ameyo_of, cli_writes, process_env, server_of, settings_for, synced, text_of
from tests.test_bulk_upload import EXISTING, phone, read_result

pytestmark = pytest.mark.anyio

TOOL = "ameyo_upload_contacts_file"


def plain_file(path: Path, rows: int, first: int = 0) -> Path:
    path.write_text(
        "phone1,name\n" + "".join(f"{phone(i)},Name {i}\n" for i in range(first, first + rows)),
        encoding="utf-8",
    )
    return path


def entries(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines() if line]


def unsettled(journal: Path) -> set[str]:
    """Batches whose last word in the journal is "sent": neither answered nor marked unknown."""
    open_: set[str] = set()
    for entry in entries(journal):
        if entry["t"] == "sent":
            open_.add(entry["batch"])
        elif entry["t"] in ("answer", "unknown", "failed"):
            open_.discard(entry["batch"])
    return open_


def in_flight(journal: Path) -> bool:
    """Some batch answered, and another sent and not answered yet."""
    text = journal.read_text(encoding="utf-8") if journal.exists() else ""
    return text.count('"t":"answer"') >= 1 and text.count('"t":"sent"') > text.count('"t":"answer"')


def lock_free(journal: Path) -> bool:
    """No run holds the journal any more."""
    fd = os.open(journal, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def wait_for(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


async def await_for(check: Callable[[], bool], seconds: float = 20) -> None:
    with anyio.fail_after(seconds):
        while not check():  # noqa: ASYNC110 - the condition is a file another task writes
            await anyio.sleep(0.02)


def cli_env(tmp_path: Path) -> dict[str, str]:
    """No AMEYO_* settings of this shell's, and a HOME of the test's own (the store's default folder)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")} | {"HOME": str(tmp_path)}


def cli(source: Path, *extra: str, lead: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ameyo_mcp",
        "upload",
        str(source),
        "--campaign",
        "1",
        "--lead",
        str(lead),
        *extra,
    ]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ameyo-mcp upload:")]


# -- (3) one run at a time ------------------------------------------------------------------------


def test_a_second_cli_run_of_the_same_upload_is_refused_naming_the_first(tmp_path: Path) -> None:
    rows, batch = 1000, 100
    source = plain_file(tmp_path / "list.csv", rows)
    journal = tmp_path / "list.csv.ameyo-journal"
    command = cli(source, "--batch-size", str(batch), "--concurrency", "1")
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)
        sim.state.faults.commands = {"uploadContacts"}
        sim.state.faults.delay_s = 0.6  # ten batches, one at a time: six seconds at least
        first = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            wait_for(lambda: journal.exists() and '"t":"sent"' in journal.read_text())
            second = subprocess.run(
                command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
            )
            assert first.poll() is None, "the second run should be refused while the first runs"
        finally:
            _, err = first.communicate(timeout=60)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        (line,) = error_lines(second.stderr)
        assert f"process {first.pid}" in line and "nothing was sent" in line, line
        assert first.returncode == 0, err
        # Every batch went out once: the refused run sent nothing.
        # Every batch ran once: the refused run sent nothing. (Its logout on the way out may cost the
        # first run one "invalid session" answer, which Ameyo did not run, hence `executed`.)
        assert sim.state.executed["uploadContacts"] == rows // batch
        written = [w.customer_id for w in sim.state.records_written if w.command == "uploadContacts"]
        assert len(written) == len(set(written)) == rows


async def test_a_second_tool_call_is_refused_while_the_first_runs(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    plain_file(folder / "list.csv", 300)
    journal = folder / "list.csv.ameyo-journal"
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_CONFIRM_OVER="100000")
    args: dict[str, Any] = {"file": "list.csv", "campaign": 1, "lead_id": 1, "dry_run": False}
    args |= {"batch_size": 50, "concurrency": 1}
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.delay_s = 0.3
    answers: dict[str, Any] = {}
    async with Client(server_of(simulator, settings)) as client:

        async def first() -> None:
            answers["first"] = await client.call_tool(TOOL, args)

        async with anyio.create_task_group() as group:
            group.start_soon(first)
            await await_for(lambda: journal.exists() and '"t":"sent"' in journal.read_text())
            second = await client.call_tool(TOOL, args)
            assert "first" not in answers
    assert second.is_error and f"process {os.getpid()}, this server" in text_of(second), text_of(second)
    assert not answers["first"].is_error, text_of(answers["first"])
    assert simulator.state.commands["uploadContacts"] == 6


# -- (4) journal lines whole, or counted as sent --------------------------------------------------


async def test_a_journal_line_cut_short_counts_its_batch_as_sent_with_unknown_outcome(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = plain_file(tmp_path / "list.csv", 50)
    journal = tmp_path / "list.csv.ameyo-journal"
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.ok == 50 and simulator.state.commands["uploadContacts"] == 5
    # As a full disk left it before: batch p4 was sent, its "sent" line cut short, no answer line.
    lines = journal.read_bytes().splitlines(keepends=True)
    sent = next(i for i, line in enumerate(lines) if b'"t":"sent","batch":"p4"' in line)
    cut = lines[sent][: lines[sent].index(b'"batch":"p4"') + len(b'"batch":"p4"') + 5]
    journal.write_bytes(b"".join(lines[:sent]) + cut)
    # The write ledger holds p4 answered: it, not the journal, says what became of its rows.
    dry_options = BulkOptions(**{**options.__dict__, "dry_run": True})
    known = await upload_file(cli_writes(ameyo), source, dry_options)
    assert known.counts == {"SENT_EARLIER": 50}, known.counts
    # A store that does not hold it (another one, or the entry pruned): the journal alone says.
    ameyo = ameyo_of(
        simulator, settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "other.db"))
    )

    # The dry run says what the run will do: it had said "would send 10", and the run sent none.
    dry = await upload_file(cli_writes(ameyo), source, dry_options)
    assert dry.counts == {"SENT_EARLIER": 40, "OUTCOME_UNKNOWN": 10}, dry.counts
    assert "would send 0, " in bulk_text(
        dry
    ) and "without learning the outcome (not sent again) 10." in bulk_text(dry)
    assert "retry_unknown (--retry-unknown) resends them" in bulk_text(dry), bulk_text(dry)
    again = await upload_file(cli_writes(ameyo), source, options)
    assert simulator.state.commands["uploadContacts"] == 5, "batch p4 was sent again"
    assert again.counts == {"ADDED": 40, "OUTCOME_UNKNOWN": 10} and again.from_earlier_runs == 40
    assert any("batch p4 was cut short" in note for note in again.notes)
    rows = read_result(Path(again.result_file))
    assert all("cut short" in rows[line]["reason"] for line in range(42, 52))

    # Resent on request: Ameyo's "already there" is the earlier run's save, and counts as saved.
    resent = await upload_file(
        cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "retry_unknown": True})
    )
    assert resent.counts == {"ADDED": 40, "DUPLICATE_NOT_ADDED": 10} and resent.ok == 50
    assert simulator.state.commands["uploadContacts"] == 6
    assert sum(1 for w in simulator.state.records_written if w.detail == "ADDED") == 50
    await ameyo.aclose()


async def test_a_dry_run_of_a_copy_of_rows_of_unknown_outcome_says_they_will_not_be_sent(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """The copy's journal knows nothing of them, but the ledger holds their outcome unknown: the
    run refuses them, and so must the dry run say (it had said "would send 10")."""
    source = plain_file(tmp_path / "list.csv", 10)
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.empty_list = 1
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"OUTCOME_UNKNOWN": 10}, first.counts
    copy = tmp_path / "copy.csv"
    copy.write_bytes(source.read_bytes())
    dry = await upload_file(cli_writes(ameyo), copy, BulkOptions(**{**options.__dict__, "dry_run": True}))
    real = await upload_file(cli_writes(ameyo), copy, options)
    assert real.counts == {"OUTCOME_UNKNOWN": 10} and real.sent_now == 0, real.counts
    assert dry.counts == {"OUTCOME_UNKNOWN": 10}, dry.counts
    assert "would send 0, " in bulk_text(dry), bulk_text(dry)
    assert "no run of this file sends them, retry_unknown included" in bulk_text(dry), bulk_text(dry)
    reason = read_result(Path(dry.result_file))[2]["reason"]
    assert "by the upload of list.csv" in reason and "unknown" in reason, reason
    assert simulator.state.commands["uploadContacts"] == 1


async def test_a_line_cut_before_its_batch_is_named_stops_the_resume(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = plain_file(tmp_path / "list.csv", 30)
    journal = tmp_path / "list.csv.ameyo-journal"
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    await upload_file(cli_writes(ameyo), source, options)
    lines = journal.read_bytes().splitlines(keepends=True)
    sent = next(i for i, line in enumerate(lines) if b'"batch":"p2"' in line)
    journal.write_bytes(b"".join(lines[:sent]) + lines[sent][:20])  # inside the upload's key
    with pytest.raises(UploadRefused, match=r"cut short .* cannot tell"):
        await upload_file(cli_writes(ameyo), source, options)
    assert simulator.state.commands["uploadContacts"] == 3


def test_a_full_disk_ends_the_cli_with_one_line_and_a_resumable_journal(
    tmp_path: Path, postgres_url: str
) -> None:
    # The write ledger is in PostgreSQL here, off the full disk: the journal and result file are
    # what fills it (with the store on that disk too, the ledger refuses the writes first).
    rows, batch = 2000, 100
    source = plain_file(tmp_path / "big.csv", rows)
    journal = tmp_path / "big.csv.ameyo-journal"
    command = cli(source, "--batch-size", str(batch), "--concurrency", "2")

    def small_disk() -> None:  # every file this process writes stops growing at 30 kB
        resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))

    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": postgres_url}
        full = subprocess.run(
            command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, preexec_fn=small_disk
        )
        assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
        (line,) = error_lines(full.stderr)
        assert "could not write" in line and "File too large" in line, line
        assert str(journal) in line or "big.csv.lead-1.ameyo-result.csv" in line, line
        assert "Sent in this run:" in line and "run the same upload again" in line, line
        sent_first = sim.state.commands["uploadContacts"]
        assert 0 < sent_first < rows // batch
        # Whole lines only. A batch answered once the journal was full keeps its "sent" line alone,
        # which the resume reads as an unknown outcome: not resent.
        assert journal.read_bytes().endswith(b"\n")
        open_batches = unsettled(journal)
        open_lines = {
            line
            for e in entries(journal)
            if e["t"] == "sent" and e["batch"] in open_batches
            for line in range(e["first"], e["last"] + 1)
        }

        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        result = read_result(tmp_path / "big.csv.lead-1.ameyo-result.csv")
        assert sorted(result) == list(range(2, rows + 2)), again.stderr
        written = [w.customer_id for w in sim.state.records_written if w.command == "uploadContacts"]
        assert len(written) == len(set(written))
        assert sim.state.commands["uploadContacts"] <= rows // batch
        assert {r["result"] for r in result.values()} <= {"ADDED", "OUTCOME_UNKNOWN"}
        assert {line for line, r in result.items() if r["result"] == "OUTCOME_UNKNOWN"} == open_lines


# -- (7) resending rows of unknown outcome ------------------------------------------------------


@pytest.mark.network
async def test_retry_unknown_never_schedules_a_second_callback_silently(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    source = tmp_path / "calls.csv"
    source.write_text(
        "phone1,name,callback_time\n"
        + "".join(f"{phone(500 + i)},Name {i},2031-03-0{1 + i % 5}T10:00:00\n" for i in range(10)),
        encoding="utf-8",
    )
    command = "uploadContactAndAddCallback"
    options = BulkOptions(campaign=1, lead_id=1, batch_size=5, concurrency=1)
    simulator.state.faults.commands = {command}
    simulator.state.faults.drop_after = 1  # batch c0 runs, its answer is lost
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"OUTCOME_UNKNOWN": 5, "NOT_SENT": 5}
    simulator.state.faults.reset()

    def callbacks() -> Counter[str]:
        mine = {phone(500 + i) for i in range(10)}
        return Counter(c.phone for c in simulator.state.callbacks(1) if c.phone in mine)

    retry = await upload_file(
        cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "retry_unknown": True})
    )
    assert retry.counts == {"OUTCOME_UNKNOWN": 5, "ADDED": 5}
    assert simulator.state.commands[command] == 2 and set(callbacks().values()) == {1}
    assert any(
        "resend_callbacks_may_duplicate" in n and "--resend-callbacks-may-duplicate" in n for n in retry.notes
    )

    # Only the person's explicit acceptance resends them, and the report names every such row.
    with anyio.fail_after(60):
        done = await anyio.run_process(
            cli(source, "--batch-size", "5", "--retry-unknown", "--resend-callbacks-may-duplicate"),
            env=process_env(simulator, tmp_path),
            check=False,
        )
    stdout = done.stdout.decode()
    assert done.returncode == 0, stdout + done.stderr.decode()
    assert "a callback may now be scheduled twice: lines 2, 3, 4, 5, 6 " in stdout, stdout
    rows = read_result(tmp_path / "calls.csv.lead-1.ameyo-result.csv")
    for line in range(2, 7):
        assert rows[line]["ok"] == "yes" and "scheduled twice" in rows[line]["reason"]
    assert simulator.state.commands[command] == 3 and sorted(callbacks().values()) == [1] * 5 + [2] * 5


def test_the_callback_resend_flag_alone_is_refused(tmp_path: Path) -> None:
    source = plain_file(tmp_path / "list.csv", 3)
    # Refused before Ameyo is asked anything: settings of an Ameyo no one answers at.
    unanswered = {"AMEYO_BASE_URL": "http://127.0.0.1:9", "AMEYO_USER_ID": "u", "AMEYO_PASSWORD": "p-123456"}
    done = subprocess.run(
        cli(source, "--resend-callbacks-may-duplicate"),
        env=cli_env(tmp_path) | unanswered,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "only applies together with retry_unknown" in done.stderr
    assert not (tmp_path / "list.csv.ameyo-journal").exists()


# -- (8) output files ---------------------------------------------------------------------------


async def test_output_paths_never_overwrite_what_is_not_theirs(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    source = plain_file(folder / "contacts.csv", 5)
    other = plain_file(folder / "other.csv", 5, first=100)
    unrelated = folder / "unrelated.csv"
    unrelated.write_text("keep,me\n1,2\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    base: dict[str, Any] = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        made = await client.call_tool(TOOL, {**base, "file": "other.csv", "dry_run": False})
        assert not made.is_error, text_of(made)
        other_journal = folder / "other.csv.ameyo-journal"
        kept = {p: p.read_bytes() for p in (source, other, other_journal, unrelated)}
        for target in ("contacts.csv", str(source), "other.csv.ameyo-journal", "unrelated.csv", "other.csv"):
            for dry in (True, False):
                refused = await client.call_tool(
                    TOOL, {**base, "file": "contacts.csv", "result_file": target, "dry_run": dry}
                )
                assert refused.is_error, (target, dry, text_of(refused))
        assert {p: p.read_bytes() for p in kept} == kept
        assert simulator.state.commands["uploadContacts"] == 1  # other.csv's own upload

        # A relative result file is written beside the contact file, owner-only; it is ours to replace.
        for _ in range(2):
            mine = await client.call_tool(TOOL, {**base, "file": "contacts.csv", "result_file": "mine.csv"})
            assert not mine.is_error, text_of(mine)
    for written in ("mine.csv", "other.csv.lead-1.ameyo-result.csv", "other.csv.ameyo-journal"):
        assert stat.S_IMODE((folder / written).stat().st_mode) == 0o600, written


def test_cli_outputs_beside_the_file_and_refusals_in_one_line(tmp_path: Path) -> None:
    folder, elsewhere = tmp_path / "lists", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    source = plain_file(folder / "today.csv", 3)
    unrelated = folder / "notes.csv"
    unrelated.write_text("not,a,journal\n", encoding="utf-8")

    def no_room() -> None:  # no file may grow at all: the journal cannot take its first line
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    with SimulatorThread(SimulatorConfig(contacts=5)) as sim:
        env = process_env(sim, tmp_path) | cli_env(tmp_path)

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cli(source, *extra), env=env, cwd=elsewhere, capture_output=True, text=True, timeout=60
            )

        checked = run("--dry-run", "--result", "check.csv")
        assert checked.returncode == 0, checked.stderr
        assert (folder / "check.csv").exists() and not (elsewhere / "check.csv").exists()
        assert stat.S_IMODE((folder / "check.csv").stat().st_mode) == 0o600
        for extra in (("--journal", "notes.csv"), ("--result", "notes.csv"), ("--result", "today.csv")):
            refused = run(*extra)
            assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
            (line,) = error_lines(refused.stderr)
            assert "notes.csv" in line or "contact file itself" in line, line
        assert unrelated.read_text() == "not,a,journal\n" and source.read_text().startswith("phone1,name\n")
        assert not (folder / "today.csv.ameyo-journal").exists()
        full = subprocess.run(
            cli(source),
            env=process_env(sim, tmp_path),
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=no_room,
        )
    assert full.returncode == 1 and "Traceback" not in full.stderr, full.stderr
    (line,) = error_lines(full.stderr)
    assert "could not write" in line and "today.csv.ameyo-journal" in line, line
    assert "Nothing was sent" in line and sim.state.commands["uploadContacts"] == 0, line


# -- the file tool reads contact files only ------------------------------------------------------


async def test_the_file_tool_reads_contact_files_only(simulator: SimulatorThread, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    (folder / ".git").mkdir(parents=True)
    secret = "AMEYO_PASSWORD=hunter2"
    (folder / ".env").write_text(f"phone1\n{secret}\n", encoding="utf-8")
    (folder / "notes.md").write_text("phone1\n9811111111\n", encoding="utf-8")
    (folder / ".hidden.csv").write_text("phone1\n9811111111\n", encoding="utf-8")
    (folder / ".git" / "config.csv").write_text("phone1\n9811111111\n", encoding="utf-8")
    (folder / "link.csv").symlink_to(folder / ".env")
    (folder / "keys.csv").write_text(f"{secret},token\n1,2\n", encoding="utf-8")
    (folder / "list.txt").write_text("Mobile\tname\n9811111111\tAsha\n", encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    base: dict[str, Any] = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        for name in (".env", "notes.md", ".hidden.csv", ".git/config.csv", "link.csv"):
            refused = await client.call_tool(TOOL, {**base, "file": name})
            assert refused.is_error and "not a contact file" in text_of(refused), (name, text_of(refused))
            assert "hunter2" not in text_of(refused)
        header = await client.call_tool(TOOL, {**base, "file": "keys.csv"})
        assert header.is_error and "no phone1 column among its 2 columns" in text_of(header)
        assert "hunter2" not in text_of(header)
        tsv = await client.call_tool(TOOL, {**base, "file": "list.txt", "column_map": {"Mobile": "phone1"}})
        assert not tsv.is_error and "would send 1, refused before sending 0" in text_of(tsv), text_of(tsv)


async def test_the_demo_offers_a_throwaway_folder_not_the_current_one(tmp_path: Path) -> None:
    (tmp_path / "mine.csv").write_text("phone1\n9811111111\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")} | {"HOME": str(tmp_path)}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "ameyo_mcp", "--demo"], env=env, cwd=str(tmp_path)
    )
    base: dict[str, Any] = {"campaign": 1, "lead_id": 21}
    async with Client(params) as client:
        sample = await client.call_tool(TOOL, {**base, "file": "sample-contacts.csv"})
        said = text_of(sample)
        assert (
            not sample.is_error
            and "would send 3 (with 1 callback to schedule), refused before sending 1" in said
        ), said
        assert sample.structured_content is not None and sample.structured_content["callbacks"] == 1
        mine = await client.call_tool(TOOL, {**base, "file": "mine.csv"})
        assert mine.is_error and "not a file in AMEYO_UPLOAD_DIRS" in text_of(mine), text_of(mine)
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, "-m", "ameyo_mcp", "check", "--demo"], env=env, cwd=tmp_path, check=False
        )
    said = done.stderr.decode()
    assert "throwaway folder" in said and "sample-contacts.csv" in said, said


# -- (2) every ending settles what was sent ------------------------------------------------------


def test_sigterm_leaves_every_sent_batch_answered_or_marked_unknown(tmp_path: Path) -> None:
    rows, batch = 1200, 100
    source = plain_file(tmp_path / "big.csv", rows)
    journal = tmp_path / "big.csv.ameyo-journal"
    command = cli(source, "--batch-size", str(batch), "--concurrency", "2")
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)
        sim.state.faults.commands = {"uploadContacts"}
        sim.state.faults.delay_s = 0.5
        process = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: in_flight(journal))
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 143 and "Traceback" not in err, err
        (line,) = error_lines(err)
        assert line.startswith("ameyo-mcp upload: stopped by SIGTERM. Sent in this run:"), line
        assert not unsettled(journal)  # (an answer that came in the meantime was journaled instead)

        sim.state.faults.reset()
        again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert "OUTCOME_UNKNOWN" in again.stdout, again.stdout + again.stderr
        assert sim.state.commands["uploadContacts"] <= rows // batch


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_a_tool_call_given_up_marks_its_batches_in_flight_unknown(
    simulator: SimulatorThread, tmp_path: Path, how: str
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    plain_file(folder / "list.csv", 400)
    journal = folder / "list.csv.ameyo-journal"
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_CONFIRM_OVER="100000")
    args: dict[str, Any] = {"file": "list.csv", "campaign": 1, "lead_id": 1, "dry_run": False}
    args |= {"batch_size": 50, "concurrency": 2}
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.delay_s = 0.8
    async with Client(server_of(simulator, settings)) as client:
        if how == "cancel":
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, TOOL, args)
                await await_for(lambda: in_flight(journal))
                group.cancel_scope.cancel()
        else:
            with pytest.raises(Exception):  # noqa: B017 - whatever the client raises on its timeout
                await client.call_tool(TOOL, args, read_timeout_seconds=1.5)
        # The server learns of it, and settles what it had sent before it lets go of the journal.
        await await_for(lambda: lock_free(journal))
        assert not unsettled(journal)
        assert sum(e["t"] == "answer" for e in entries(journal)) < 8, "the call should have ended early"
        # (Usually a batch was out and is marked; an answer that came first was journaled instead.)
        marked = any(e["t"] == "unknown" for e in entries(journal))
        simulator.state.faults.reset()
        again = await client.call_tool(TOOL, args)
    assert ("OUTCOME_UNKNOWN" in text_of(again)) == marked, text_of(again)
    assert simulator.state.executed["uploadContacts"] <= 8
    written = [w.customer_id for w in simulator.state.records_written if w.command == "uploadContacts"]
    assert len(written) == len(set(written))


def test_the_demos_sample_callback_is_always_ahead() -> None:
    """A fixed 2031 date would be refused as past one day: the sample's callback is a week ahead."""
    from datetime import date

    from ameyo_mcp.cli.demo import sample_contacts

    assert "9123400002,Ravi Kumar,Mumbai,2040-01-08T10:00:00" in sample_contacts(date(2040, 1, 1))


# -- (8) rows refused before sending that a later run sends ------------------------------------


def callback_file(path: Path, times: list[str], first: int = 700) -> Path:
    rows = "".join(f"{phone(first + i)},Name {i},{at}\n" for i, at in enumerate(times))
    path.write_text("phone1,name,callback_time\n" + rows, encoding="utf-8")
    return path


async def test_a_row_refused_outside_calling_hours_is_sent_once_the_person_allows_it(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """The file's own advice ("pass outside_calling_hours if meant") led to a dead end: the rows
    refused before sending had changed, batch c0 no longer matched its journal, and nothing more
    was sent; the dry run had counted the new row as answered by the earlier run."""
    source = callback_file(
        tmp_path / "calls.csv",
        ["2031-05-01 11:00", "2031-05-01 02:00", "2031-05-01 12:00", "2031-05-01 14:00"],
    )
    command = "uploadContactAndAddCallback"
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"ADDED": 3, "REFUSED": 1}, first.counts
    allowed = BulkOptions(**{**options.__dict__, "outside_calling_hours": True})
    dry = await upload_file(cli_writes(ameyo), source, BulkOptions(**{**allowed.__dict__, "dry_run": True}))
    assert dry.counts == {"SENT_EARLIER": 3, "WOULD_SEND": 1} and dry.from_earlier_runs == 3, dry.counts
    second = await upload_file(cli_writes(ameyo), source, allowed)
    assert second.counts == {"ADDED": 4} and second.sent_now == 1 and second.from_earlier_runs == 3, second
    assert simulator.state.commands[command] == 2
    rows = read_result(tmp_path / "calls.csv.lead-1.ameyo-result.csv")
    assert rows[3]["ok"] == "yes" and "02:00" in rows[3]["callback_time"], rows[3]
    # Either way again: everything is in the journal, nothing goes out, and the answers are said
    # to be the earlier runs' too.
    for again in (allowed, options):
        done = await upload_file(cli_writes(ameyo), source, again)
        assert done.sent_now == 0 and done.counts.get("ADDED", 0) >= 3, done.counts
        assert "Ameyo's answers (in this run and earlier ones): added " in bulk_text(done), bulk_text(done)
    assert simulator.state.commands[command] == 2
    callbacks = Counter(c.phone for c in simulator.state.callbacks(1))
    assert [callbacks[phone(700 + i)] for i in range(4)] == [1, 1, 1, 1]


async def test_a_corrected_file_sends_its_corrected_rows_and_sets_aside_those_already_scheduled(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A callback file with a bad number, corrected and uploaded again (a new upload: its content
    changed): its batch held callbacks the first run scheduled, and the whole batch was refused,
    the corrected row with it, on every run."""
    times = ["2031-05-02 11:00", "2031-05-02 12:00", "2031-05-02 13:00"]
    source = callback_file(tmp_path / "calls.csv", times, first=800)
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace(phone(801), "98765"), encoding="utf-8")
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"ADDED": 2, "REFUSED": 1}, first.counts
    source.write_text(text, encoding="utf-8")  # corrected
    dry = await upload_file(cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "dry_run": True}))
    assert dry.counts == {"SENT_EARLIER": 2, "WOULD_SEND": 1}, dry.counts
    second = await upload_file(cli_writes(ameyo), source, options)
    assert second.counts == {"SENT_EARLIER": 2, "ADDED": 1} and second.sent_now == 1, second.counts
    said = bulk_text(second)
    assert "Not sent again: 2 rows that an earlier upload already sent" in said, said
    rows = read_result(tmp_path / "calls.csv.lead-1.ameyo-result.csv")
    # Told as the same row sent earlier, as the upload tools tell a record whose row and callback
    # the same write holds (`plans.sent_earlier_first`).
    reason = rows[2]["reason"]
    assert "not sent again: these same rows went" in reason and "by the upload of calls.csv" in reason, rows
    assert rows[3]["result"] == "ADDED", rows
    third = await upload_file(cli_writes(ameyo), source, options)
    assert third.sent_now == 0 and third.counts == {"SENT_EARLIER": 2, "ADDED": 1}, third.counts
    callbacks = Counter(c.phone for c in simulator.state.callbacks(1))
    assert [callbacks[phone(800 + i)] for i in range(3)] == [1, 1, 1]
    assert simulator.state.commands["uploadContactAndAddCallback"] == 2


@pytest.mark.network
async def test_rows_an_earlier_batch_sent_without_an_answer_stay_held_when_the_batches_change(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Judged row by row, a row of a batch whose answer was lost is still not resent; a row that
    batch never held (refused then) is sent."""
    source = callback_file(
        tmp_path / "calls.csv",
        ["2031-05-03 11:00", "2031-05-03 02:00", "2031-05-03 12:00", "2031-05-03 14:00"],
    )
    command = "uploadContactAndAddCallback"
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    simulator.state.faults.commands = {command}
    simulator.state.faults.drop_after = 1  # batch c0 (lines 2, 4, 5) runs, its answer is lost
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"OUTCOME_UNKNOWN": 3, "REFUSED": 1}, first.counts
    simulator.state.faults.reset()
    allowed = BulkOptions(**{**options.__dict__, "outside_calling_hours": True})
    second = await upload_file(cli_writes(ameyo), source, allowed)
    assert second.counts == {"OUTCOME_UNKNOWN": 3, "ADDED": 1} and second.sent_now == 1, second.counts
    rows = read_result(tmp_path / "calls.csv.lead-1.ameyo-result.csv")
    assert rows[3]["result"] == "ADDED" and all(rows[n]["result"] == "OUTCOME_UNKNOWN" for n in (2, 4, 5))
    assert simulator.state.commands[command] == 2


async def test_rows_an_earlier_run_answered_are_not_sent_again_when_the_batches_shift(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A limit raised between runs lets a refused row in, and the rows after it move into batches
    (p2) that no run journaled: they were sent whole, answered rows again among them."""
    source = tmp_path / "plain.csv"
    numbers = [phone(950), "9712345678901", phone(952), phone(953), phone(954)]
    source.write_text(
        "phone1,name\n" + "".join(f"{n},N{i}\n" for i, n in enumerate(numbers)), encoding="utf-8"
    )
    options = BulkOptions(campaign=1, lead_id=1, batch_size=2, concurrency=1)
    simulator.state.config.max_phone_length = 12
    first = await upload_file(
        cli_writes(ameyo_of(simulator, settings_for(simulator, tmp_path))), source, options
    )
    assert first.counts == {"ADDED": 4, "REFUSED": 1}, first.counts
    simulator.state.config.max_phone_length = 20  # read at the next sign-in
    settings = settings_for(simulator, tmp_path / "later")
    dry_options = BulkOptions(**{**options.__dict__, "dry_run": True})
    dry = await upload_file(cli_writes(ameyo_of(simulator, settings)), source, dry_options)
    assert dry.counts == {"SENT_EARLIER": 4, "WOULD_SEND": 1}, dry.counts
    second = await upload_file(cli_writes(ameyo_of(simulator, settings)), source, options)
    assert second.counts == {"ADDED": 5} and (second.sent_now, second.from_earlier_runs) == (1, 4), second
    assert simulator.state.executed["uploadContacts"] == 3


async def test_a_batch_of_the_same_extent_and_other_rows_is_judged_row_by_row(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Other calling hours refuse line 4 for line 3: batch c0 spans lines 2-5 with three rows either
    way, and was taken for the one journaled (a KeyError, and a dry run counting line 4 as sent)."""
    source = callback_file(
        tmp_path / "calls.csv",
        ["2031-05-04 11:00", "2031-05-04 20:00", "2031-05-04 07:00", "2031-05-04 12:00"],
    )
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    day = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="09:00-21:00"))
    first = await upload_file(cli_writes(day), source, options)
    assert first.counts == {"ADDED": 3, "REFUSED": 1}, first.counts
    early = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="06:00-18:00"))
    dry = await upload_file(cli_writes(early), source, BulkOptions(**{**options.__dict__, "dry_run": True}))
    # Line 3, refused now, went out in the first run: said so, not "refused".
    assert dry.counts == {"SENT_EARLIER": 3, "WOULD_SEND": 1}, dry.counts
    second = await upload_file(cli_writes(early), source, options)
    assert second.counts == {"ADDED": 4} and (second.sent_now, second.from_earlier_runs) == (1, 3), second
    callbacks = Counter(c.phone for c in simulator.state.callbacks(1))
    assert [callbacks[phone(700 + i)] for i in range(4)] == [1, 1, 1, 1]


async def test_a_files_dry_run_says_which_rows_are_customers_the_index_holds(
    ameyo: Ameyo, simulator: SimulatorThread, settings: Settings, tmp_path: Path
) -> None:
    """ "Would send 3", then "customer 12521 already in the campaign, left as it was": the upload
    tools' dry runs said so beforehand, the file's did not."""
    await synced(simulator, settings)
    source = tmp_path / "mixed.csv"
    source.write_text(
        f"phone1,name\n{EXISTING},Known\n{phone(960)},New\n{phone(961)},New\n", encoding="utf-8"
    )
    options = BulkOptions(campaign=1, lead_id=1, dry_run=True)
    dry = await upload_file(cli_writes(ameyo), source, options)
    assert dry.counts == {"WOULD_SEND": 3}, dry.counts
    said = bulk_text(dry)
    assert "Note: 1 of these numbers is a customer the campaign's index holds (synced " in said, said
    assert "Ameyo would leave them as they are (update_existing=true (--update) updates them" in said, said
    real = await upload_file(cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "dry_run": False}))
    assert real.counts == {"ADDED": 2, "DUPLICATE_NOT_ADDED": 1}, real.counts


async def test_a_dry_run_tells_a_row_an_earlier_answer_left_out_as_the_real_run_does(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A row Ameyo's answer left out is of unknown outcome: the dry run after it said "answered in
    an earlier run" (SENT_EARLIER), the real run OUTCOME_UNKNOWN."""
    source = plain_file(tmp_path / "few.csv", 3, first=970)
    options = BulkOptions(campaign=1, lead_id=1, batch_size=10, concurrency=1)
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.short_list = 1
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"ADDED": 2, "OUTCOME_UNKNOWN": 1}, first.counts
    dry = await upload_file(cli_writes(ameyo), source, BulkOptions(**{**options.__dict__, "dry_run": True}))
    real = await upload_file(cli_writes(ameyo), source, options)
    assert dry.counts == {"SENT_EARLIER": 2, "OUTCOME_UNKNOWN": 1}, dry.counts
    assert real.counts == {"ADDED": 2, "OUTCOME_UNKNOWN": 1} and real.sent_now == 0, real.counts
    # A copy of the file holds it back too, as of unknown outcome (it had been told answered), and
    # says how to send it.
    copy = tmp_path / "few-copy.csv"
    copy.write_bytes(source.read_bytes())
    again = await upload_file(cli_writes(ameyo), copy, options)
    assert again.counts == {"SENT_EARLIER": 2, "OUTCOME_UNKNOWN": 1} and again.sent_now == 0, again.counts
    assert any("ameyo_upload_contacts and allow_repeat=true" in note for note in first.notes), first.notes
    assert any("ameyo_upload_contacts and allow_repeat=true" in note for note in again.notes), again.notes
    copy_dry = await upload_file(
        cli_writes(ameyo), copy, BulkOptions(**{**options.__dict__, "dry_run": True})
    )
    assert copy_dry.counts == {"SENT_EARLIER": 2, "OUTCOME_UNKNOWN": 1}, copy_dry.counts


async def test_a_copy_cut_into_other_batches_updates_no_customer_twice(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A copy of the file is its rows: run with another batch size, its batches were new writes to
    the ledger, and every customer was updated (and put back to NOT_TRIED) a second time."""
    source = plain_file(tmp_path / "list.csv", 6, first=980)
    options = BulkOptions(campaign=1, lead_id=1, batch_size=2, concurrency=1, update_existing=True)
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"ADDED": 6}, first.counts
    copy = tmp_path / "list-copy.csv"
    copy.write_bytes(source.read_bytes())
    other = BulkOptions(**{**options.__dict__, "batch_size": 4})
    dry = await upload_file(cli_writes(ameyo), copy, BulkOptions(**{**other.__dict__, "dry_run": True}))
    again = await upload_file(cli_writes(ameyo), copy, other)
    assert dry.counts == {"SENT_EARLIER": 6} and again.counts == {"SENT_EARLIER": 6}, (
        dry.counts,
        again.counts,
    )
    assert again.sent_now == 0 and simulator.state.executed["uploadContacts"] == 3
    assert (
        "by the upload of list.csv (its batch p"
        in read_result(copy.with_name("list-copy.csv.lead-1.ameyo-result.csv"))[2]["reason"]
    )
    # A row changed in the copy is another row, and goes.
    copy.write_text(copy.read_text(encoding="utf-8").replace("Name 980", "Name Zero"), encoding="utf-8")
    changed = await upload_file(cli_writes(ameyo), copy, other)
    assert changed.counts == {"UPDATED": 1, "SENT_EARLIER": 5}, changed.counts


async def test_rows_of_unknown_outcome_are_not_resent_by_an_upload_with_other_options(
    ameyo: Ameyo, simulator: SimulatorThread, tmp_path: Path
) -> None:
    """update_existing makes another upload of the file (its own journal lines): the rows whose
    answer was lost went out again without retry_unknown, and their customers were written twice."""
    source = plain_file(tmp_path / "list.csv", 6, first=990)
    options = BulkOptions(campaign=1, lead_id=1, batch_size=2, concurrency=1)
    simulator.state.faults.commands = {"uploadContacts"}
    simulator.state.faults.truncated = 1  # batch p0 runs, its answer is unreadable
    first = await upload_file(cli_writes(ameyo), source, options)
    assert first.counts == {"OUTCOME_UNKNOWN": 2, "NOT_SENT": 4}, first.counts
    simulator.state.faults.reset()
    updating = BulkOptions(**{**options.__dict__, "update_existing": True})
    dry = await upload_file(cli_writes(ameyo), source, BulkOptions(**{**updating.__dict__, "dry_run": True}))
    second = await upload_file(cli_writes(ameyo), source, updating)
    assert dry.counts == {"OUTCOME_UNKNOWN": 2, "WOULD_SEND": 4}, dry.counts
    assert second.counts == {"OUTCOME_UNKNOWN": 2, "ADDED": 4}, second.counts
    assert simulator.state.executed["uploadContacts"] == 3


def test_the_progress_line_of_a_stopped_upload_says_how_many_rows_were_not_sent(tmp_path: Path) -> None:
    """A failure that stops an upload settles its rows left as not sent: the progress line said
    '30 of 30 rows settled (100%)', read as all of them sent, when 25 never left."""
    source = plain_file(tmp_path / "stops.csv", 30)
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        sim.state.faults.commands = {"uploadContacts"}
        sim.state.faults.drop_after = 1  # the first batch runs, its answer is lost: the run stops
        env = process_env(sim, tmp_path) | {
            "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
            "AMEYO_PROGRESS_EVERY_S": "0",  # a line for every step
        }
        done = subprocess.run(
            cli(source, "--batch-size", "5", "--concurrency", "1"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sim.state.commands["uploadContacts"] == 1
    assert done.returncode == 1, done.stderr
    shown = [line for line in done.stderr.splitlines() if line.startswith("stops.csv: ")]
    assert shown[-1] == "stops.csv: 30 of 30 rows settled: 5 sent, 25 not sent (100%)", done.stderr
    assert "sent in this run 5; answered in earlier runs (not resent) 0; not sent 25" in done.stdout
