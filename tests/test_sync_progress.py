"""A long `ameyo-mcp sync` as a person or a cron log meets it: progress lines with rate and time
left while it runs, `ameyo-mcp check` saying a sync is running (and how far), and Ctrl-C telling
how far it got and that the next sync resumes there."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ameyo_mcp.cli.progress import Progress
from ameyo_mcp.config import load_settings
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.store import ContactRow, Store
from tests.test_config import BASE
from tests.test_sync_lease import CAMPAIGN, sync_env


def wait_until_read(sync: subprocess.Popen[str], database: str, contacts: int) -> None:
    """Until the pass of `sync` has read `contacts` (its cursor, saved with every page, says)."""
    seen = 0
    deadline = time.monotonic() + 30
    while seen < contacts:
        assert time.monotonic() < deadline and sync.poll() is None, f"the sync ended at {seen} contacts"
        time.sleep(0.05)
        with Store(database) as store:
            cursor = store.load_cursor(CAMPAIGN)
        seen = json.loads(cursor)["seen"] if cursor else 0


@pytest.mark.network
def test_a_sync_shows_progress_check_sees_it_running_and_ctrl_c_says_where_it_stopped(
    tmp_path: Path,
) -> None:
    with SimulatorThread(SimulatorConfig(contacts=8000)) as sim:
        database = str(tmp_path / "index.db")
        # Synced before, so that the size of the campaign is known: the time left can be told.
        with Store(database) as store:
            opened = store.begin_pass(CAMPAIGN, name="MoviStarSurvey", now=datetime.now(UTC))
            rows = [ContactRow(customer_id) for customer_id in range(1, 8002)]
            store.upsert_contacts(CAMPAIGN, rows, pass_number=opened.number)
            store.finish_pass(CAMPAIGN, opened.number, now=datetime.now(UTC))
        # stderr is a pipe, not a terminal: plain lines, here every 0.2 s instead of every 10 s. A
        # pass takes about 10 s (800 contacts a second): it is stopped long before its end.
        env = sync_env(sim, database, AMEYO_SYNC_RATE="8", AMEYO_PROGRESS_EVERY_S="0.2")
        sync = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "MoviStarSurvey"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until_read(sync, database, 300)
            check = subprocess.run(
                [sys.executable, "-m", "ameyo_mcp", "check"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            # Long enough for its rate to be told (about 800 contacts a second), well before its end.
            wait_until_read(sync, database, 1300)
            sync.send_signal(signal.SIGINT)
            out, err = sync.communicate(timeout=30)
        finally:
            if sync.poll() is None:
                sync.kill()
    line = next(x for x in check.stdout.splitlines() if x.strip().startswith("MoviStarSurvey (1)"))
    running = rf"a sync is running \(process [^ :]+:{sync.pid} since .+, [\d,]+ of ~8,001 contacts read\)"
    assert re.search(running, line), line
    assert "interrupted" not in line

    assert sync.returncode == 130, err
    assert out == ""  # no campaign was completed
    lines = err.strip().splitlines()
    progress = [x for x in lines if re.fullmatch(r"MoviStarSurvey: [\d,]+ of ~8,001 contacts read.*", x)]
    assert len(progress) >= 2, err
    assert any(re.search(r"[\d,]+ a second, about .+ left", x) for x in progress), err
    stopped = lines[-1]
    assert stopped.startswith("ameyo-mcp sync: stopped by Ctrl-C"), err
    assert "MoviStarSurvey" in stopped and "contacts read" in stopped, stopped
    assert "run `ameyo-mcp sync` again" in stopped and "resume" in stopped, stopped


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_live_line_on_a_terminal_and_a_plain_line_every_ten_seconds_elsewhere() -> None:
    every_s = load_settings(BASE, env_file=None).progress_every_s
    clock = [0.0]
    terminal = _Terminal()
    live = Progress(every_s, stream=terminal, clock=lambda: clock[0])
    for second in range(5):
        clock[0] = float(second)
        live.step("contacts.csv", 100 * second, 1000, "rows settled")
    assert terminal.getvalue().count("\r\033[K") == 5 and "\n" not in terminal.getvalue()
    drawn = terminal.getvalue().rsplit("\r\033[K", 1)[1]
    bar = "[" + "#" * 12 + " " * 18 + "]"
    assert drawn == f"contacts.csv {bar}  40% 400/1,000 rows settled, 100/s, ~6 s left"
    live.clear()
    assert terminal.getvalue().endswith("\r\033[K")

    log = io.StringIO()  # a pipe or a file: whole lines, every AMEYO_PROGRESS_EVERY_S (10 s by default)
    clock[0] = 100.0
    plain = Progress(every_s, stream=log, clock=lambda: clock[0])
    for second in range(0, 25):
        clock[0] = 100.0 + second
        plain.step("MoviStarSurvey", 1000 * second, 200_000, "contacts read", about=True)
    assert log.getvalue().splitlines() == [
        "MoviStarSurvey: 10,000 of ~200,000 contacts read (5%), 1,000 a second, about 3 min left",
        "MoviStarSurvey: 20,000 of ~200,000 contacts read (10%), 1,000 a second, about 3 min left",
    ]
