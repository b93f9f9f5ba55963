"""A read of the customers added since the sync that gets down to the index's bound keeps them in the
index and raises the bound over them (`index.catch_up`). The customers this server uploads go into
the index but sat above the bound: after a file upload every `ameyo_add_callback`, every check and
every lookup the index answers with nothing read all its pages again until the next sync (20 pages
and a note to sync again after 10,000 rows), and a file run that added more than 10,000 rows between
two of its reads ended with a false note that rows were not checked. The index must not drop or miss
a customer for it, whatever a sync pass does meanwhile."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.index.added import ADDED_CAP
from ameyo_mcp.index.held import NEWEST_AGAIN_S
from ameyo_mcp.index.sync import sync_all
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig
from ameyo_mcp.simulator.state import SimulatorState, UploadOptions, UploadOutcome
from ameyo_mcp.store import open_store
from ameyo_mcp.writes.callback_rules import DISPOSITION_COLUMNS
from tests.conftest import InProcessSimulator, server_of, settings_for, synced, text_of
from tests.test_added_since_sync import LATER, OTHERS, others_added, said
from tests.test_file_do_not_call import added_after_the_sync
from tests.test_newest_reads import ZUBIN

pytestmark = pytest.mark.anyio

FILE = "ameyo_upload_contacts_file"
UNCHECKED = ("not checked", "were not looked at")  # (what a read stopped at a cap says)


class ZubinAmongThem(SimulatorState):
    """A simulated Ameyo where someone else adds Zubin, do-not-call, while a file upload is halfway
    (after its `after`th request): among the file's customers."""

    after = 2
    uploads = 0
    zubin: int | None = None

    def upload_contacts(
        self, campaign_id: int, lead_id: int, options: UploadOptions, records: list[object]
    ) -> list[UploadOutcome]:
        answer = super().upload_contacts(campaign_id, lead_id, options, records)
        self.uploads += 1
        if self.uploads == self.after:
            [added] = super().upload_contacts(1, 1, UploadOptions(), [{"phone1": ZUBIN, "name": "Zubin"}])
            assert added.customer_id is not None
            self.change_columns(added.customer_id, disposition="DNC", status="CALLED")
            self.zubin = added.customer_id
        return answer


def people(folder: Path, rows: int) -> str:
    """A file of `rows` new people; its name in `folder`."""
    folder.mkdir(exist_ok=True)
    lines = "".join(f"97{i:08d},Person {i}\n" for i in range(rows))
    (folder / "people.csv").write_text("phone1,name\n" + lines, encoding="utf-8")
    return "people.csv"


def index_covers(settings: Settings, sim: InProcessSimulator) -> int | None:
    """That every customer of campaign 1 up to the index's bound is in the index, as the reads of
    those added since take it to be; the bound."""
    store = open_store(settings)
    try:
        index = store.campaign(1)
        assert index is not None and index.synced_through is not None
        held = {c.customer_id for c in store.contacts(1, limit=100_000)}
    finally:
        store.close()
    below = {c.customer_id for c in sim.state.contacts(1) if c.customer_id <= index.synced_through}
    assert below <= held, sorted(below - held)[:10]
    return index.synced_through


async def file_upload(client: Client, folder: Path, rows: int) -> str:
    """A file of `rows` new people sent to lead 1 through the file tool, as the person confirmed it."""
    args = {"campaign": 1, "lead_id": 1, "file": people(folder, rows), "batch_size": 500, "concurrency": 1}
    dry = await client.call_tool(FILE, args)
    token = (dry.structured_content or {}).get("confirm_token")
    sent = await client.call_tool(FILE, {**args, "dry_run": False, "confirm": token})
    assert not sent.is_error, text_of(sent)
    return text_of(sent)


async def getcontacts(
    sim: InProcessSimulator, client: Client, tool: str, args: dict[str, object]
) -> tuple[int, str]:
    before = sim.state.commands["getContacts"]
    result = await client.call_tool(tool, args)
    return sim.state.commands["getContacts"] - before, text_of(result)


async def test_after_a_file_upload_a_check_reads_its_pages_once(tmp_path: Path, database_url: str) -> None:
    config = SimulatorConfig(password="pw-5ec2e7-simulated")
    sim = InProcessSimulator(config, ZubinAmongThem(config))
    folder = tmp_path / "uploads"
    settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(sim, settings)
    to_zubin = {"campaign": 1, "phone": ZUBIN, "callback_time": LATER}
    to_person = {"campaign": 1, "phone": "9700000007", "callback_time": LATER}  # one of the file's
    nobody = {"campaign": 1, "phone": "9000000001"}
    async with Client(server_of(sim, settings)) as client:
        sent = await file_upload(client, folder, 2000)
        assert "added 2,000" in sent and not any(u in sent for u in UNCHECKED), sent
        zubin = sim.state.zubin
        assert zubin is not None
        reads, text = await getcontacts(sim, client, "ameyo_add_callback", to_zubin)
        assert said(zubin) in text and not any(u in text for u in UNCHECKED), text
        # The six pages down to the bound (2,001 customers above it: a small first page, then on to
        # 500, 1,000, ...), once: Zubin found among them.
        assert reads == 6, reads
        reads, text = await getcontacts(sim, client, "ameyo_add_callback", to_person)
        assert "Person 7" in text and not any(u in text for u in UNCHECKED), text
        # Them by id (the lookup, then the check of their line), and one page down to the bound,
        # raised over the six: not the six again for the check of the others on their line.
        assert reads == 3, reads
        reads, text = await getcontacts(sim, client, "ameyo_get_contacts", nobody)
        assert "0 contacts match" in text and reads == 1, (reads, text)
    assert [cb for cb in sim.state.callbacks(1) if cb.phone.endswith(ZUBIN)] == []
    raised = index_covers(settings, sim)
    assert raised is not None and raised >= zubin


class PassHeldAtItsEnd(httpx.AsyncBaseTransport):
    """The simulator reached as a sync reaches it, the answers to its pages held back once read
    until `go`: a pass that read its last page, not yet ended, meets what happens meanwhile."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reached = anyio.Event()
        self.go = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        form = parse_qs(request.content.decode())
        if form.get("command") == ["getContacts"] and '"orderBy":"customer_id"' in form["data"][0].replace(
            " ", ""
        ):
            self.reached.set()
            await self.go.wait()
        return response


async def test_a_sync_pass_under_way_keeps_what_a_check_kept(tmp_path: Path, database_url: str) -> None:
    """A check raises the bound over customers added while a sync pass was at its end, which that
    pass does not see: its end keeps them (they count as seen by it) and sets the bound to what it
    read, and the next pass keeps every customer too."""
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    # One page in flight: the pass reads nothing while the check's reads are counted.
    settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url, AMEYO_SYNC_PAGES_IN_FLIGHT="1")
    await synced(sim, settings)
    held = PassHeldAtItsEnd(sim.transport)
    to_zubin = {"campaign": 1, "phone": ZUBIN, "callback_time": LATER}

    async def sync_pass() -> None:
        ameyo, store = Ameyo(settings, transport=held), open_store(settings)
        try:
            await sync_all(ameyo, store, [1])
        finally:
            await ameyo.aclose()
            store.close()

    async with Client(server_of(sim, settings)) as client, anyio.create_task_group() as passes:
        passes.start_soon(sync_pass)
        await held.reached.wait()
        zubin = added_after_the_sync(
            sim, {"phone1": ZUBIN, "name": "Zubin"}, disposition="DNC", status="CALLED"
        )
        others_added(sim, OTHERS)
        reads, text = await getcontacts(sim, client, "ameyo_add_callback", to_zubin)
        assert said(zubin) in text and reads == 3, (reads, text)  # the three pages
        raised = index_covers(settings, sim)
        held.go.set()
    assert raised is not None and raised > zubin
    assert index_covers(settings, sim) < zubin  # the pass's own
    nobody = {"campaign": 1, "phone": "9000000001"}
    async with Client(server_of(sim, settings)) as client:
        # The lookup of Zubin reads the three pages down to the pass's bound again (Zubin among
        # them, his line's check takes them), and raises it again; a number nobody holds then reads
        # the small first page alone.
        reads, text = await getcontacts(sim, client, "ameyo_add_callback", to_zubin)
        # Zubin is in the index now: he is asked for by id beside the pages too.
        assert said(zubin) in text and reads == 4, (reads, text)
        reads, text = await getcontacts(sim, client, "ameyo_get_contacts", nobody)
        assert "0 contacts match" in text and reads == 1, (reads, text)
    assert index_covers(settings, sim) == raised
    await synced(sim, settings)
    assert index_covers(settings, sim) == raised


class ClockAfter(SimulatorState):
    """A simulated Ameyo that moves the write path's clock (`writes_ahead`) past NEWEST_AGAIN_S once
    it has answered `after` uploads: a file run's next check reads the newest contacts again, its
    own additions since its last read among them, as a run that adds rows faster does."""

    after = 20
    uploads = 0
    ahead: ClassVar[list[float]] = []

    def upload_contacts(
        self, campaign_id: int, lead_id: int, options: UploadOptions, records: list[object]
    ) -> list[UploadOutcome]:
        self.uploads += 1
        if self.uploads == self.after:
            self.ahead[0] += NEWEST_AGAIN_S + 1
        return super().upload_contacts(campaign_id, lead_id, options, records)


async def test_a_run_that_adds_more_than_the_cap_between_its_reads_says_nothing_unchecked(
    tmp_path: Path, writes_ahead: list[float]
) -> None:
    """A run's read of the newest contacts went through its own additions since its last read: past
    ADDED_CAP of them it stopped, and the run ended saying that rows were not checked against the
    customers added since the sync beyond the newest 10,000 contacts, sync again: false, and every
    check after the run stopped there too, with the same note."""
    config = SimulatorConfig(password="pw-5ec2e7-simulated")
    state = ClockAfter(config)
    state.ahead = writes_ahead
    sim = InProcessSimulator(config, state)
    folder = tmp_path / "uploads"
    settings = settings_for(sim, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(sim, settings)
    # 24 batches: the clock moves as the 20th is sent, 10,000 rows; the checks of the last batches
    # come after it (those of the next two may come before: a run checks ahead of what it sends).
    rows = ADDED_CAP + 2000
    async with Client(server_of(sim, settings)) as client:
        sent = await file_upload(client, folder, rows)
        assert f"added {rows:,}" in sent and not any(u in sent for u in UNCHECKED), sent
        assert state.uploads == 24
        reads, text = await getcontacts(
            sim, client, "ameyo_get_contacts", {"campaign": 1, "phone": "9000000001"}
        )
    # Down to the run's last read, which raised the bound over what it read: the pages of the rows
    # sent after it (at most the last four batches, and the small first page), not the twenty to the
    # cap.
    assert "0 contacts match" in text and not any(u in text for u in UNCHECKED), text
    assert reads <= 6, reads


class CheckHeldOnTheLine(httpx.AsyncBaseTransport):
    """The simulator as one server reaches it, the do-not-call check's read by id of the customers
    the index found on a line held back until `go`: a check that asked the index, and not yet Ameyo
    for the customers added since the sync, meets what another server does meanwhile."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reached = anyio.Event()
        self.go = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        data = parse_qs(request.content.decode()).get("data", [""])[0]
        column = next(iter(DISPOSITION_COLUMNS))
        if not self.go.is_set() and '"customerIds"' in data and column in data:
            self.reached.set()
            await self.go.wait()
        return await self.inner.handle_async_request(request)


async def test_a_check_reads_down_to_the_bound_it_had_when_it_asked_the_index(
    tmp_path: Path, database_url: str
) -> None:
    """A check asks the index for the customers on its numbers, then reads those added since the
    sync down to the bound: read after the index was asked, the bound another server raised
    meanwhile (its lookup kept Zubin, added since the sync with a do-not-call disposition, and 600
    after him) was taken as covering him, so the check read the 500 newest alone, found nobody on
    his number, and his update went ahead: requeued, dialled without the person's yes."""
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    # Someone on Zubin's line already indexed (his family's phone2): the check reads them by id.
    family = {"phone1": "9811100001", "phone2": ZUBIN, "name": "Zubin's family"}
    assert sim.state.upload_contacts(1, 1, UploadOptions(), [family])[0].customer_id
    settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url)
    await synced(sim, settings)
    zubin = added_after_the_sync(sim, {"phone1": ZUBIN, "name": "Zubin"}, disposition="DNC", status="CALLED")
    others_added(sim, OTHERS)
    held = CheckHeldOnTheLine(sim.transport)
    checking = create_server(settings, ameyo_factory=partial(Ameyo, transport=held))
    requeue = {"campaign": 1, "lead_id": 1, "records": [{"phone1": ZUBIN}], "update_existing": True}
    nobody = {"campaign": 1, "phone": "9000000001"}
    answer: list[str] = []

    async def update_zubin(client: Client) -> None:
        answer.append(text_of(await client.call_tool("ameyo_upload_contacts", requeue)))

    async with (
        Client(checking) as one,
        Client(server_of(sim, settings)) as other,
        anyio.create_task_group() as calls,
    ):
        calls.start_soon(update_zubin, one)
        await held.reached.wait()
        found = text_of(await other.call_tool("ameyo_get_contacts", nobody))
        assert "0 contacts match" in found, found
        assert index_covers(settings, sim) > zubin  # the other server's lookup kept him
        held.go.set()
    assert said(zubin) in answer[0], answer[0]
    after = sim.state.contact(zubin)
    assert after is not None and after.columns["status"] == "CALLED", after.columns
