"""One sync per campaign at a time, across processes: a second one says who is syncing and skips, a
syncer that stopped lets go (at once on its host, when its lease runs out elsewhere) and the next sync
resumes, and a completed pass counts the campaign's contacts from its rows.

Real `ameyo-mcp sync` processes (and a server's background sync) on one SQLite file or one PostgreSQL
database, against the simulator on a loopback port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ameyo_mcp.errors import SyncBusy, SyncLeaseLost
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.store import ContactRow, Store, SyncLease

CAMPAIGN = 1  # MoviStarSurvey
CONTACTS = 4000  # and the vendor document's own customer 112
NOW = datetime.now(UTC)


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(contacts=CONTACTS)) as running:
        yield running


def sync_env(sim: SimulatorThread, database_url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    return env | {
        "AMEYO_BASE_URL": sim.base_url,
        "AMEYO_USER_ID": sim.state.config.user_id,
        "AMEYO_PASSWORD": sim.state.config.password,
        "AMEYO_TIMEZONE": sim.state.config.timezone,
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_DATABASE_URL": database_url,
        "AMEYO_SYNC_PAGE_SIZE": "100",
        # Slow enough that the syncs started together overlap: about eight seconds a pass.
        "AMEYO_SYNC_RATE": "5",
        **more,
    }


def start_sync(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "MoviStarSurvey"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows_of(store: Store, campaign_id: int) -> int:
    count, after = 0, None
    while page := store.contacts(campaign_id, after=after, limit=1000):
        count += len(page)
        after = page[-1].customer_id
    return count


SKIPPED = re.compile(
    r"MoviStarSurvey \(1\): another process \([^:()]+:(\d+)\) is syncing it since "
    r"\d{4}-\d\d-\d\d \d\d:\d\d Asia/Kolkata \(just now\); skipped"
)


@pytest.mark.slow
@pytest.mark.network
def test_two_syncs_at_once_read_one_pass_and_the_second_says_who_syncs(
    sim: SimulatorThread, database_url: str, tmp_path: Path
) -> None:
    env = sync_env(sim, database_url)
    first = start_sync(env, tmp_path)
    time.sleep(0.3)
    second = start_sync(env, tmp_path)
    outs = [p.communicate(timeout=120) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    texts = [out for out, _ in outs]
    synced = [t for t in texts if "synced, 4,001 contacts indexed" in t]
    skipped = [SKIPPED.search(t) for t in texts if SKIPPED.search(t)]
    assert len(synced) == 1 and len(skipped) == 1, texts
    syncer = first if synced[0] is texts[0] else second
    assert skipped[0] is not None and int(skipped[0][1]) == syncer.pid  # it names the one syncing
    requests = int(re.search(r"([\d,]+) requests", synced[0])[1].replace(",", ""))  # type: ignore[index]
    # One pass, read once: the simulator answered the syncing process alone.
    assert sim.state.commands["getContacts"] == requests <= CONTACTS // 100 + 2
    with Store(database_url) as store:
        indexed = store.campaign(CAMPAIGN)
        assert indexed is not None and indexed.contacts == rows_of(store, CAMPAIGN) == CONTACTS + 1
        assert store.sync_lease(CAMPAIGN) is None  # let go at the end


@pytest.mark.network
def test_a_killed_syncer_lets_go_at_once_on_its_host_and_the_next_sync_resumes(
    sim: SimulatorThread, database_url: str, tmp_path: Path
) -> None:
    env = sync_env(sim, database_url, AMEYO_SYNC_RATE="15")
    killed = start_sync(env, tmp_path)
    with Store(database_url) as store:
        seen = 0
        deadline = time.monotonic() + 60
        while seen < 600 and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.05)
            try:
                cursor = store.load_cursor(CAMPAIGN)
            except Exception:  # not created yet
                continue
            seen = json.loads(cursor)["seen"] if cursor else 0
        held = store.sync_lease(CAMPAIGN)
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
        assert 600 <= seen < CONTACTS, "the kill should land mid-pass"
        assert held is not None and f":{killed.pid}:" in held.holder
        # Its lease runs for minutes yet (4 × AMEYO_TIMEOUT_S + 30 s): on its host, its process is gone.
        assert held.until > time.time() + 60
        env["AMEYO_SYNC_RATE"] = "0"
        resumed = subprocess.run(
            [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "MoviStarSurvey"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert "MoviStarSurvey (1): resumed and completed, 4,001 contacts indexed" in resumed.stdout
        indexed = store.campaign(CAMPAIGN)
        assert indexed is not None and indexed.contacts == rows_of(store, CAMPAIGN) == CONTACTS + 1


@pytest.mark.network
def test_a_server_syncing_in_the_background_skips_what_a_cli_sync_holds_and_says_so(
    sim: SimulatorThread, database_url: str, tmp_path: Path
) -> None:
    env = sync_env(sim, database_url, AMEYO_SYNC_RATE="3")  # about 14 s a pass
    cli = start_sync(env, tmp_path)
    with Store(database_url) as store:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if store.sync_lease(CAMPAIGN) is not None:
                    break
            except Exception:  # not created yet
                pass
            time.sleep(0.05)
    server_env = env | {"AMEYO_SYNC_INTERVAL_S": "1", "AMEYO_LOG_LEVEL": "INFO"}
    log = tmp_path / "server.log"
    with log.open("wb") as err:
        server = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "--transport", "http", "--port", "0"],
            env=server_env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 30
        while "skipped" not in log.read_text() and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        running = cli.poll() is None  # the server looked while the CLI was syncing
    finally:
        cli.terminate()
        cli.communicate(timeout=30)
        server.terminate()
        server.wait(timeout=10)
    said = log.read_text()
    assert running
    assert "background sync: MoviStarSurvey (1): another process (" in said, said
    assert f":{cli.pid}) is syncing it since" in said and "; skipped" in said, said


def lease(holder: str, clock: list[float], *, alive: bool = True) -> SyncLease:
    return SyncLease(holder, 60.0, alive=lambda _: alive, clock=lambda: clock[0])


def test_a_lease_of_another_host_holds_until_it_runs_out_then_the_pass_resumes(database_url: str) -> None:
    clock = [1_000_000.0]
    elsewhere = lease("otherhost/1a2b3c4d/5e6f7a8b:4242:c0ffee00", clock)
    here = lease("thishost/1a2b3c4d/5e6f7a8b:77:0badf00d", clock)
    with Store(database_url) as store:
        opened = store.begin_pass(CAMPAIGN, name="MoviStarSurvey", now=NOW, lease=elsewhere)
        store.upsert_contacts(
            CAMPAIGN, [ContactRow(1), ContactRow(2)], pass_number=opened.number, lease=elsewhere
        )
        clock[0] += 50  # renewed by that page: held until 110 s after the start
        with pytest.raises(SyncBusy) as busy:
            store.begin_pass(CAMPAIGN, now=NOW, lease=here)
        assert (busy.value.holder, busy.value.since) == ("otherhost:4242", 1_000_000.0)
        clock[0] += 61  # no page for 61 s: its lease has run out
        taken = store.begin_pass(CAMPAIGN, now=NOW, lease=here)
        assert taken.resumed and taken.number == opened.number  # the pass goes on where it was
        with pytest.raises(SyncLeaseLost, match=r"another process \(thishost:77\) took it over"):
            store.upsert_contacts(CAMPAIGN, [ContactRow(3)], pass_number=opened.number, lease=elsewhere)
        with pytest.raises(SyncLeaseLost):
            store.finish_pass(CAMPAIGN, opened.number, now=NOW, lease=elsewhere)
        assert store.contact(CAMPAIGN, 3) is None  # the page of the one that lost it was not written
        store.upsert_contacts(CAMPAIGN, [ContactRow(3)], pass_number=opened.number, lease=here)
        store.finish_pass(CAMPAIGN, opened.number, now=NOW, lease=here)
        store.release_sync_lease(CAMPAIGN, here.holder)
        assert store.sync_lease(CAMPAIGN) is None
        # A holder whose process is gone (seen on its host) lets go before its lease runs out.
        store.begin_pass(CAMPAIGN, now=NOW, lease=lease("thishost/x:78:aa", clock))
        with pytest.raises(SyncBusy):
            store.begin_pass(CAMPAIGN, now=NOW, lease=here)
        store.begin_pass(CAMPAIGN, now=NOW, lease=lease(here.holder, clock, alive=False))


def test_a_completed_pass_counts_the_campaigns_contacts_from_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    with Store(str(path)) as store:
        opened = store.begin_pass(CAMPAIGN, name="MoviStarSurvey", now=NOW)
        store.upsert_contacts(CAMPAIGN, [ContactRow(i) for i in range(1, 101)], pass_number=opened.number)
        # The count kept page by page drifted, as two writers at once each counting a contact new left
        # it (26,402 for 20,001 contacts once).
        with sqlite3.connect(path) as raw:
            raw.execute("UPDATE campaigns SET contacts = 132")
        store.finish_pass(CAMPAIGN, opened.number, now=NOW)
        indexed = store.campaign(CAMPAIGN)
        assert indexed is not None and indexed.contacts == indexed.synced_contacts == 100
