"""A batch Ameyo answered and the write ledger settled as answered whose journal lost its answer
line (written after the ledger's commit and fsynced with the next batch or at the run's end, so a
power cut between the two leaves exactly this): the next runs go by the ledger. They had called its
rows "outcome unknown", and --retry-unknown sent them again past the answered entry."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import process_env
from tests.test_bulk_exact import cli, plain_file


def test_retry_unknown_resends_no_batch_the_ledger_holds_answered(tmp_path: Path) -> None:
    source = plain_file(tmp_path / "list.csv", 10)
    journal = tmp_path / "list.csv.ameyo-journal"
    command = cli(source, "--batch-size", "5", "--concurrency", "1", "--update")
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
        first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stdout + first.stderr
        assert sim.state.executed["uploadContacts"] == 2
        # The power cut: the last answer line, written after the ledger's commit and not yet
        # flushed, is lost. (Every other line stays: they were fsynced with the last "sent".)
        lines = journal.read_text(encoding="utf-8").splitlines(keepends=True)
        last_answer = max(i for i, line in enumerate(lines) if json.loads(line)["t"] == "answer")
        journal.write_text("".join(lines[:last_answer] + lines[last_answer + 1 :]), encoding="utf-8")

        dry = subprocess.run(
            [*command, "--dry-run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        again = subprocess.run(
            [*command, "--retry-unknown"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        written = Counter(w.customer_id for w in sim.state.records_written if w.command == "uploadContacts")
    # The ledger knew: Ameyo answered that batch. It had been told unknown and sent again.
    assert sim.state.executed["uploadContacts"] == 2, again.stdout + "\n--- dry run:\n" + dry.stdout
    assert set(written.values()) == {1}, written
    for run in (dry, again):
        assert "outcome unknown" not in run.stdout.lower(), run.stdout
        assert "ot sent again: 5 rows" in run.stdout or "ot be sent again: 5 rows" in run.stdout, run.stdout
    checked = (tmp_path / "list.csv.lead-1.ameyo-check.csv").read_text(encoding="utf-8")
    assert checked.count("Ameyo answered them then") == 5, checked
