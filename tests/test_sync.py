"""Sync: the index of a campaign equals Ameyo's contacts after a pass, whatever happens during it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings, load_settings
from ameyo_mcp.index.sync import SyncProgress, page_request, sync_all, sync_campaign
from ameyo_mcp.rules import phones
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.simulator.state import ContactQuery, ContactRow, SimulatorState
from ameyo_mcp.store import Store, fold_words, open_store
from tests.conftest import Simulator, ameyo_of, logged_port, server_of, settings_for

CAMPAIGN = 1  # MoviStarSurvey: the simulator's large campaign


class Shrinking(SimulatorState):
    """A simulated Ameyo whose contacts can vanish (deleted by an administrator) at any time."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.gone: set[int] = set()
        # Called before each page is served; `served` holds the positions of the pages served so
        # far, so a test can act on what a pass has read rather than on the order requests arrive.
        self.before_page: Callable[[], None] | None = None
        self.served: list[range] = []

    def get_contacts(self, query: ContactQuery) -> list[ContactRow]:
        paged = re.fullmatch(r"LIMIT (\d+) OFFSET (\d+)", str(query.limit_offset or ""))
        if self.before_page is not None:
            self.before_page()
        rows = super().get_contacts(replace(query, limit_offset=None))
        rows = [r for r in rows if r.contact.customer_id not in self.gone]
        if paged:
            count, start = int(paged[1]), int(paged[2])
            rows = rows[start : start + count]
            self.served.append(range(start, start + count))
        return rows


async def assert_index_holds_ameyo(
    sim: Simulator | None, settings: Settings, store: Store, campaign_id: int
) -> None:
    """Every contact Ameyo has (`sim`, or the simulator at the settings' address) is in the index,
    as Ameyo has it, and nothing else."""
    ameyo = Ameyo(settings) if sim is None else ameyo_of(sim, settings)
    try:
        contacts = await ameyo.get_contacts(page_request(campaign_id))
    finally:
        await ameyo.aclose()
    assert len(contacts) > 100
    indexed = []
    after = None
    while page := store.contacts(campaign_id, after=after, limit=700):
        indexed += page
        after = page[-1].customer_id
    assert [c.customer_id for c in indexed] == sorted(c.customer_id for c in contacts)
    by_id = {c.customer_id: c for c in indexed}
    zone = settings.zone
    for contact in contacts:
        data, extra = contact.customer_data, contact.extra_data
        got = by_id[contact.customer_id]
        keys = [phones.key(str(v), settings.phone_region) for k, v in data.items() if "phone" in k and v]
        assert got.phones == tuple(dict.fromkeys(k for k in keys if k)), data
        assert got.names == " ".join(fold_words(*(str(v) for k, v in data.items() if "name" in k)))
        assert (got.lead_id, got.status, got.disposition) == (
            contact.lead_id,
            extra.get("status"),
            extra.get("disposition"),
        )
        assert got.attempts == (int(extra["attempts"]) if "attempts" in extra else None)
        when = extra.get("last_dialed_time")
        assert got.dialled_at == (datetime.fromisoformat(when).replace(tzinfo=zone) if when else None)
    stats = store.campaign(campaign_id)
    assert stats is not None and stats.contacts == len(contacts)


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "Europe/Madrid", "UTC"])
def test_a_last_dial_time_is_the_zones_wall_time_in_seconds(zone: str) -> None:
    from zoneinfo import ZoneInfo

    from ameyo_mcp.index.sync import _when

    where = ZoneInfo(zone)
    # Ordinary times, both sides of a DST change, a time that happens twice, one that never does.
    for text in (
        "2026-11-17 08:34:06",
        "2026-03-08 01:59:59",
        "2026-03-08 03:00:00",
        "2026-11-01 01:30:00",
        "2026-03-08 02:30:00",
        "2026-10-25 02:30:00",
        "2026-03-29 02:30:00",
        "1999-12-31 23:59:59.750000",
    ):
        aware = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
        assert _when(text, where) == int(aware.timestamp()), text
    utc = datetime(2026, 11, 17, 3, 4, 6, tzinfo=UTC)
    assert _when("2026-11-17T08:34:06+05:30", where) == int(utc.timestamp())
    assert _when("not a time", where) is None


@pytest.fixture
def shrinking() -> Iterator[SimulatorThread]:
    state = Shrinking(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=600))
    with SimulatorThread(state=state) as sim:
        yield sim


@pytest.mark.anyio
@pytest.mark.parametrize("on_loop", [False, True], ids=["worker thread", "on the loop"])
async def test_contacts_deleted_during_a_pass_are_never_skipped(
    shrinking: SimulatorThread, tmp_path: Path, on_loop: bool
) -> None:
    state = shrinking.state
    assert isinstance(state, Shrinking)
    settings = settings_for(
        shrinking, tmp_path, AMEYO_SYNC_PAGE_SIZE="50", AMEYO_SYNC_RATE="0", AMEYO_SYNC_PAGES_IN_FLIGHT="3"
    )
    ids = sorted(c.customer_id for c in state.contacts(CAMPAIGN))

    def delete_behind() -> None:
        # Once the pass has read ids[100:130], those 30 and 5 ahead are deleted: every offset after
        # them moves back by 35. (Keyed on what was served: with three pages in flight, requests
        # reach Ameyo in any order.)
        if not state.gone and any(p.start <= 100 and p.stop >= 130 for p in state.served):
            state.gone |= set(ids[100:130]) | set(ids[400:405])

    state.before_page = delete_behind
    seen: list[SyncProgress] = []
    ameyo = ameyo_of(shrinking, settings)
    with open_store(settings) as store:
        try:
            campaign = await ameyo.campaign(CAMPAIGN)
            report = await sync_campaign(ameyo, store, campaign, progress=seen.append, on_loop=on_loop)
            # Nothing Ameyo still has was skipped; what vanished behind the pass goes at the next one.
            indexed = {c.customer_id for c in store.contacts(CAMPAIGN, limit=10_000)}
            assert set(ids) - state.gone <= indexed
            assert indexed - (set(ids) - state.gone) == set(ids[100:130])
            assert report.removed == 0 and seen[-1].done
            assert report.requests > len(ids) // 50  # it stepped back and read again

            state.before_page = None
            again = await sync_campaign(ameyo, store, campaign, on_loop=on_loop)
            assert again.removed == 30 and again.new == 0
            await assert_index_holds_ameyo(shrinking, settings, store, CAMPAIGN)
            assert store.find_by_phone(CAMPAIGN, "0000") == []
        finally:
            await ameyo.aclose()


@pytest.mark.anyio
async def test_sync_all_indexes_every_campaign_findable_by_phone_and_name(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_SYNC_PAGE_SIZE="40", AMEYO_SYNC_RATE="0")
    ameyo = ameyo_of(simulator, settings)
    with open_store(settings) as store:
        try:
            reports = await sync_all(ameyo, store)
        finally:
            await ameyo.aclose()
        assert {r.campaign.campaign_name for r in reports} == {
            "MoviStarSurvey",
            "MOSL_Frenchise",
            "TestInbound",
        }
        await assert_index_holds_ameyo(simulator, settings, store, CAMPAIGN)
        last = max(simulator.state.contacts(CAMPAIGN), key=lambda c: c.customer_id)
        key = contact_row_for(last, settings)
        assert [c.customer_id for c in store.find_by_phone(CAMPAIGN, key)] == [last.customer_id]
        assert last.customer_id in [c.customer_id for c in store.find_by_tail(CAMPAIGN, key[-6:])]
        named = max(
            (c for c in simulator.state.contacts(CAMPAIGN) if c.customer_data.get("name")),
            key=lambda c: c.customer_id,
        )
        found = store.search_names(CAMPAIGN, str(named.customer_data["name"]).upper(), limit=50)
        assert named.customer_id in [c.customer_id for c in found]


def contact_row_for(contact: object, settings: Settings) -> str:
    return phones.key(str(contact.customer_data["phone1"]), settings.phone_region) or ""  # type: ignore[attr-defined]


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[str]:
    """`ameyo-mcp simulator` as its own process, with a few thousand contacts; its base URL."""
    log = tmp_path / "simulator.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "simulator", "--port", "0", "--contacts", "3000"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        # It listens before it says so: connections queue until it serves.
        port = logged_port(log, proc, b"Ameyo simulator listening on http://127.0.0.1:", within=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sync_killed_mid_pass_resumes_and_the_index_equals_ameyo(
    simulator_process: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env |= {
        "AMEYO_BASE_URL": simulator_process,
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": "simulator",
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
        "AMEYO_SYNC_PAGE_SIZE": "100",
        "AMEYO_SYNC_RATE": "15",
    }
    command = [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "MoviStarSurvey"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = Store(env["AMEYO_DATABASE_URL"])
    read = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if Path(env["AMEYO_DATABASE_URL"]).exists():
            cursor = store.load_cursor(CAMPAIGN)
            read = json.loads(cursor)["seen"] if cursor else 0
            if read >= 600:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert 600 <= read < 3000, "the kill should land mid-pass"
    killed = store.campaign(CAMPAIGN)
    assert killed is not None and killed.pass_in_progress == 1 and killed.synced_at is None
    assert 600 <= killed.contacts < 3000

    env["AMEYO_SYNC_RATE"] = "0"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    # 3,000 generated customers and the vendor document's own customer 112.
    assert "MoviStarSurvey (1): resumed and completed, 3,001 contacts indexed" in resumed.stdout
    requests = int(re.search(r"([\d,]+) requests", resumed.stdout)[1])  # type: ignore[index]
    assert requests <= (3000 - killed.contacts) // 100 + 3  # it did not start over

    settings = load_settings(env, env_file=None)
    anyio.run(assert_index_holds_ameyo, None, settings, store, CAMPAIGN)
    store.close()

    check = subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert "MoviStarSurvey (1): 3,001 contacts, last synced just now" in check.stdout, check.stdout


@pytest.mark.anyio
async def test_the_server_keeps_the_index_fresh_in_the_background(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_SYNC_INTERVAL_S="1", AMEYO_SYNC_RATE="0")
    store = open_store(settings)
    async with Client(server_of(simulator, settings)):
        for _ in range(200):
            synced = {c.campaign_id for c in store.campaigns() if c.synced_at is not None}
            if synced == {1, 5, 10}:
                break
            await anyio.sleep(0.05)
    assert synced == {1, 5, 10}
    store.close()
