"""A call pushed while the index was writing what it had just read of Ameyo: a sync's page, or a read
of the customers added since the sync that the index keeps (`index.catch_up`), carries the status
and disposition Ameyo had when it was read. Written after the push, it put the customer back as they
were before the call, in the listings by status and disposition and their counts, until the next
sync. On a real SQLite file and a real PostgreSQL, through the receiver and a real MCP session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.index.sync import sync_all
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig
from ameyo_mcp.store import open_store
from tests.conftest import InProcessSimulator, server_of, settings_for, synced, text_of
from tests.test_fences import IST, TOKEN, receiver
from tests.test_index_follows_calls import listed, truth
from tests.test_store import rows_by_status

pytestmark = pytest.mark.anyio

SYNC_PAGE = '"orderBy":"customer_id"'
NEWEST_FIRST = '"orderBy":"customerIddesc"'


class HeldOnceRead(httpx.AsyncBaseTransport):
    """The simulator as the index reaches it, once `armed`: the first getContacts whose data holds
    `wanted` (spaces aside) answered only at `go`, Ameyo having read it already."""

    def __init__(self, inner: httpx.AsyncBaseTransport, wanted: str, *, armed: bool = True) -> None:
        self.inner = inner
        self.wanted = wanted
        self.armed = armed
        self.reached = anyio.Event()
        self.go = anyio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        form = parse_qs(request.content.decode())
        data = form.get("data", [""])[0].replace(" ", "")
        if (
            self.armed
            and not self.reached.is_set()
            and form.get("command") == ["getContacts"]
            and self.wanted in data
        ):
            self.reached.set()
            await self.go.wait()
        return response


@asynccontextmanager
async def meanwhile(held: HeldOnceRead) -> AsyncIterator[None]:
    """The body runs while `held`'s read waits to be answered; the read goes on after it, whatever
    happened."""
    with anyio.fail_after(30):
        await held.reached.wait()
    try:
        yield
    finally:
        held.go.set()


async def called(sim: InProcessSimulator, settings: Settings, customer_id: int) -> None:
    """A call to the customer that an agent dispositions Sale: recorded in Ameyo, then pushed."""
    sim.state.change_columns(customer_id, status="CONNECTED", disposition="Sale")
    contact = sim.state.contact(customer_id)
    assert contact is not None
    async with receiver(settings) as push:
        await push(
            customerId=str(customer_id),
            campaignId="1",
            phone=contact.phone1,
            dispositionName="Sale",
            systemDisposition="CONNECTED",
            lastStatus="CONNECTED",
            callType="auto.dial.customer",
        )


async def listed_as_ameyo_holds_them(sim: InProcessSimulator, settings: Settings, customer_id: int) -> None:
    """The listings by the call's status and disposition show whom Ameyo holds so, the customer
    among them, and the counts by status agree with the rows."""
    async with Client(server_of(sim, settings)) as client:
        for column, value, criteria in (
            ("status", "CONNECTED", {"status": ["CONNECTED"]}),
            ("disposition", "Sale", {"disposition": ["Sale"]}),
        ):
            holding = truth(sim, column, value)
            matched, shown, text = await listed(client, **criteria)
            assert customer_id in holding and (matched, shown) == (len(holding), holding), (column, text)
    store = open_store(settings)
    try:
        assert store.status_counts(1) == rows_by_status(store, 1)
    finally:
        store.close()


async def sync_pass(settings: Settings, transport: httpx.AsyncBaseTransport) -> None:
    """One sync of campaign 1, reaching Ameyo through `transport`."""
    ameyo, store = Ameyo(settings, transport=transport), open_store(settings)
    try:
        await sync_all(ameyo, store, [1])
    finally:
        await ameyo.aclose()
        store.close()


async def test_a_sync_page_read_before_a_push_keeps_the_pushed_outcome(
    tmp_path: Path, database_url: str
) -> None:
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    settings = settings_for(
        sim, tmp_path, AMEYO_DATABASE_URL=database_url, AMEYO_PUSH_TOKEN=TOKEN, AMEYO_SYNC_PAGES_IN_FLIGHT="1"
    )
    await synced(sim, settings)
    first = next(c for c in sim.state.contacts(1) if c.columns.get("status") != "CONNECTED")
    held = HeldOnceRead(sim.transport, SYNC_PAGE)
    async with anyio.create_task_group() as passes:
        passes.start_soon(sync_pass, settings, held)
        async with meanwhile(held):  # the pass's first page, read: the customer's call
            await called(sim, settings, first.customer_id)
    await listed_as_ameyo_holds_them(sim, settings, first.customer_id)


async def test_a_read_of_those_added_since_the_sync_keeps_a_push_recorded_meanwhile(
    tmp_path: Path, database_url: str
) -> None:
    """A customer this server uploaded is in the index at once, above the sync's bound: the next
    lookup reads them again with those added since, and keeps what it read."""
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url, AMEYO_PUSH_TOKEN=TOKEN)
    await synced(sim, settings)
    held = HeldOnceRead(sim.transport, NEWEST_FIRST, armed=False)
    server = create_server(settings, ameyo_factory=partial(Ameyo, transport=held))
    upload = {"campaign": 1, "lead_id": 1, "records": [{"phone1": "9812300400", "name": "Nila Menon"}]}
    async with Client(server) as client:
        sent = text_of(await client.call_tool("ameyo_upload_contacts", upload))
        assert "added 1" in sent, sent
        [nila] = [c.customer_id for c in sim.state.contacts(1) if c.phone1 == "9812300400"]
        held.armed = True
        found: list[str] = []

        async def lookup() -> None:
            nobody = {"campaign": 1, "phone": "9000000001"}
            found.append(text_of(await client.call_tool("ameyo_get_contacts", nobody)))

        async with anyio.create_task_group() as calls:
            calls.start_soon(lookup)
            async with meanwhile(held):  # the newest contacts, read: Nila's first call
                await called(sim, settings, nila)
        assert "0 contacts match" in found[0], found[0]
    await listed_as_ameyo_holds_them(sim, settings, nila)


async def test_a_late_push_of_an_earlier_call_leaves_the_later_call_the_page_read(
    tmp_path: Path, database_url: str
) -> None:
    """Ameyo held the customer's second call (Sale) when the page was read; the push of their first
    call, unanswered twenty minutes before it, came only then. The index took the first call over the
    page's second: the push is newer to the index, not to Ameyo."""
    sim = InProcessSimulator(SimulatorConfig(password="pw-5ec2e7-simulated"))
    settings = settings_for(
        sim, tmp_path, AMEYO_DATABASE_URL=database_url, AMEYO_PUSH_TOKEN=TOKEN, AMEYO_SYNC_PAGES_IN_FLIGHT="1"
    )
    await synced(sim, settings)
    first = next(c for c in sim.state.contacts(1) if c.columns.get("status") != "CONNECTED")
    now = datetime.now(IST)
    sim.state.change_columns(
        first.customer_id, status="CONNECTED", disposition="Sale", last_dialed_time=now - timedelta(minutes=5)
    )
    held = HeldOnceRead(sim.transport, SYNC_PAGE)
    async with anyio.create_task_group() as passes:
        passes.start_soon(sync_pass, settings, held)
        async with meanwhile(held), receiver(settings) as push:  # the page, read: the first call's push
            await push(
                customerId=str(first.customer_id),
                campaignId="1",
                phone=first.phone1,
                systemDisposition="NO_ANSWER",
                lastStatus="NOT_CONNECTED",
                callType="auto.dial.customer",
                callStartTime=(now - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M:%S"),
            )
    await listed_as_ameyo_holds_them(sim, settings, first.customer_id)
