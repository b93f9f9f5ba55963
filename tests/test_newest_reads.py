"""A file upload judges every row that dials its customer (here: every row, with --update) against
do-not-call a batch at a time, and looks for the numbers its index does not know among the
campaign's newest contacts, read live (customers added since the sync). It read those 500 newest
again for every batch: a file of new people paid a 500-contact getContacts a batch, while its own
additions soon filled them. A run reads them once (again only after `NEWEST_AGAIN_S`), and reads
live by id the customers of those reads whose number a later batch holds. The count of requests is
what is pinned, not a time (bench/bench_upload_checks.py measures the time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.writes.bulk.engine import upload_file
from ameyo_mcp.writes.bulk.options import BulkOptions
from tests.conftest import InProcessSimulator, ameyo_of, cli_writes, process_env, settings_for, synced
from tests.test_bulk_upload import read_result
from tests.test_file_do_not_call import added_after_the_sync

pytestmark = [pytest.mark.anyio, pytest.mark.network]  # the CLI is a process of its own

ROWS, BATCH = 2000, 250  # eight batches, each judged on its own
ZUBIN = "9812300077"  # added in Ameyo after the sync, and marked do-not-call


def new_people(path: Path, last: str) -> Path:
    """ROWS new numbers; the last row is `last`'s, so that the last batch is the one that meets it."""
    lines = [f"98{i:08d},Customer {i}" for i in range(ROWS - 1)] + [f"{last},Zubin"]
    path.write_text("phone1,name\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


async def test_a_files_check_reads_the_newest_contacts_once_a_run_and_still_holds_back(
    tmp_path: Path,
) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        settings = settings_for(sim, tmp_path)
        await synced(sim, settings)
        zubin_id = added_after_the_sync(
            sim, {"phone1": ZUBIN, "name": "Zubin"}, disposition="DNC", status="CALLED"
        )
        status = "CALLED"
        source = new_people(tmp_path / "people.csv", ZUBIN)
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": str(tmp_path / "index.db")}
        command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]
        command += ["--update", "--batch-size", str(BATCH)]
        said = f"customer {zubin_id}'s last disposition is 'DNC'"
        for extra, name in ((("--dry-run",), "check"), ((), "result")):
            before = sim.state.commands["getContacts"]
            done = run([*command, *extra], env, tmp_path)
            assert "Traceback" not in done.stderr, done.stderr
            rows = read_result(tmp_path / f"people.csv.lead-1.ameyo-{name}.csv")
            # The dry run judges as the run does: Zubin's row, in the last batch, is held back.
            assert rows[ROWS + 1]["result"] == "REFUSED" and said in rows[ROWS + 1]["reason"], done.stdout
            assert sum(r["result"] in ("WOULD_SEND", "ADDED") for r in rows.values()) == ROWS - 1
            # One read of the newest contacts for the run, and one of Zubin by id for the batch that
            # holds his number: not eight 500-contact reads.
            assert sim.state.commands["getContacts"] - before == 2, done.stdout
        zubin = sim.state.contact(zubin_id)
        assert zubin is not None and zubin.columns["status"] == status, zubin.columns  # not requeued


async def test_a_files_customers_are_read_once_a_batch_for_the_check_and_their_spelling(
    tmp_path: Path,
) -> None:
    """A plain file's rows are judged against do-not-call (a new customer on a do-not-call line is
    held back), which reads live the customers the index finds by their numbers; the spelling each
    row goes out in (Ameyo's, for a number it holds) read them again, a second getContacts a batch
    for a file of existing customers. One read a batch serves both, in the dry run and the run."""
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    settings = settings_for(sim, tmp_path)
    await synced(sim, settings)
    known = list({c.phone1: c for c in sim.state.contacts(1) if c.lead_id == 1}.values())  # one a number
    source = tmp_path / "known.csv"
    source.write_text("phone1,name\n" + "".join(f"{c.phone1},Known\n" for c in known[:40]), encoding="utf-8")
    ameyo = ameyo_of(sim, settings)
    reads: dict[bool, int] = {}
    try:
        for dry_run in (True, False):
            before = sim.state.commands["getContacts"]
            options = BulkOptions(campaign=1, lead_id=1, batch_size=20, dry_run=dry_run)
            out = await upload_file(cli_writes(ameyo), source, options)
            assert out.counts == {"WOULD_SEND" if dry_run else "DUPLICATE_NOT_ADDED": 40}, out
            reads[dry_run] = sim.state.commands["getContacts"] - before
    finally:
        await ameyo.aclose()
    # The newest contacts once for the run, and each batch's customers by id once (the run reads
    # too the lead of the customers Ameyo's answer names, once a batch: `lead_of`).
    assert reads == {True: 1 + 2, False: 1 + 2 + 2}, reads
