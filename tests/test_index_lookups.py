"""Lookups through the index: a customer anywhere in a large campaign is found by phone or name with
one live getContacts, every answer says where it looked, and none claims "not found" for a customer
it did not look at (no index yet, or one synced before the customer was added)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.index.sync import sync_all
from ameyo_mcp.rules import phones
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.simulator.state import Contact, UploadOptions
from ameyo_mcp.store import fold_words, open_store
from tests.conftest import server_of, settings_for, text_of

CAMPAIGN = 1
SIZE = 100_000
CALLBACK_AT = "2031-05-02T11:00:00"


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def big() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=SIZE)) as sim:
        yield sim


@pytest.fixture(scope="module")
async def synced(big: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose index holds the whole campaign, synced once for the module."""
    settings = settings_for(big, tmp_path_factory.mktemp("synced"))
    await _sync(settings)
    return settings


async def _sync(settings: Settings) -> None:
    ameyo, store = Ameyo(settings), open_store(settings)
    try:
        await sync_all(ameyo, store, [CAMPAIGN])
    finally:
        await ameyo.aclose()
        store.close()


@pytest.fixture
async def client(synced: Settings) -> AsyncIterator[Client]:
    async with Client(create_server(synced)) as session:
        yield session


def last_indian(sim: SimulatorThread) -> Contact:
    """The last customer of the campaign with a ten-digit Indian mobile number, unique in it."""
    contacts = sim.state.contacts(CAMPAIGN)
    numbers = [str(v) for c in contacts for k, v in c.customer_data.items() if "phone" in k and v]
    for contact in reversed(contacts):
        phone = str(contact.customer_data.get("phone1") or "")
        if re.fullmatch(r"[6-9]\d{9}", phone) and sum(n.endswith(phone) for n in numbers) == 1:
            return contact
    raise AssertionError("the simulator generated no Indian mobile numbers")


async def get_contacts(client: Client, sim: SimulatorThread, **args: object) -> tuple[str, int]:
    """The answer's text and how many getContacts the lookup cost Ameyo."""
    before = sim.state.commands["getContacts"]
    result = await client.call_tool("ameyo_get_contacts", {"campaign": CAMPAIGN, **args})
    assert not result.is_error, text_of(result)
    return text_of(result), sim.state.commands["getContacts"] - before


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_last_customer_is_found_by_any_spelling_with_two_requests_asked_at_once(
    client: Client, big: SimulatorThread
) -> None:
    customer = last_indian(big)
    phone = str(customer.customer_data["phone1"])
    assert customer.customer_id > sorted(c.customer_id for c in big.state.contacts(CAMPAIGN))[SIZE // 2]
    for given in (phone, phone[-6:], f"+91 {phone[:5]} {phone[5:]}", f"0{phone}"):
        text, requests = await get_contacts(client, big, phone=given)
        assert f"{customer.customer_id} " in text, (given, text)
        assert re.search(r"index of 100,0\d\d contacts, synced just now", text), text
        # The newest contacts (the customers added since the sync), and the index's by id, at once.
        assert requests == 2, given
    name = str(customer.customer_data["name"])
    wanted = fold_words(name)
    words = {
        c.customer_id: fold_words(str(c.customer_data.get("name") or ""))
        for c in big.state.contacts(CAMPAIGN)
    }
    matching = [i for i, have in words.items() if all(any(w.startswith(x) for w in have) for x in wanted)]
    assert customer.customer_id in matching
    pages = [await get_contacts(client, big, search=name.lower(), limit=100, offset=o) for o in (0, 100, 200)]
    assert any(f"{customer.customer_id}|{name}|" in text for text, _ in pages), pages
    # The newest contacts (the customers added since the sync), and the page's by id.
    assert all(requests <= 2 for _, requests in pages)
    text, requests = await get_contacts(client, big, search=name)
    assert f": {len(matching)} contact" in text and requests <= 2, text  # the index counts them all
    if len(matching) > 20:
        assert "call again with offset=20" in text, text


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_callback_by_phone_reaches_the_customer_at_the_end(
    client: Client, big: SimulatorThread
) -> None:
    customer = last_indian(big)
    phone = str(customer.customer_data["phone1"])
    result = await client.call_tool(
        "ameyo_add_callback",
        {
            "campaign": CAMPAIGN,
            "phone": f"+91-{phone}",
            "callback_time": CALLBACK_AT,
            "despite_do_not_call": True,
        },
    )
    assert not result.is_error, text_of(result)
    made = [cb for cb in big.state.callbacks(CAMPAIGN) if cb.customer_id == customer.customer_id]
    assert [cb.phone for cb in made] == [phone]  # the stored number in full, as Ameyo holds it


@pytest.mark.slow
@pytest.mark.anyio
async def test_another_customers_number_is_refused_naming_both(client: Client, big: SimulatorThread) -> None:
    customer = last_indian(big)
    other = big.state.contacts(CAMPAIGN)[0]
    result = await client.call_tool(
        "ameyo_add_callback",
        {
            "campaign": CAMPAIGN,
            "customer_id": other.customer_id,
            "phone": str(customer.customer_data["phone1"]),
            "callback_time": CALLBACK_AT,
        },
    )
    text = text_of(result)
    assert result.is_error and f"belongs to customer {customer.customer_id}" in text, text
    assert f"not to customer {other.customer_id}" in text


@pytest.mark.slow
@pytest.mark.anyio
async def test_counts_by_status_of_the_whole_campaign_say_as_of(client: Client, big: SimulatorThread) -> None:
    text, _ = await get_contacts(client, big, limit=1)
    line = next(x for x in text.splitlines() if x.startswith("By status as the index holds them"))
    assert "(synced just now, with the calls and uploads since)" in line
    counts = [int(n.replace(",", "")) for n in re.findall(r" ([\d,]+)(?:,|$)", line.split(": ", 1)[1])]
    assert sum(counts) >= SIZE  # every contact counted, not the first 5,000


@pytest.mark.slow
@pytest.mark.anyio
async def test_without_an_index_the_answer_says_how_far_it_looked(
    big: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(big, tmp_path)  # a fresh store: never synced
    customer = last_indian(big)
    phone = str(customer.customer_data["phone1"])
    async with Client(server_of(big, settings)) as session:
        result = await session.call_tool("ameyo_get_contacts", {"campaign": CAMPAIGN, "phone": phone})
        text = text_of(result)
        assert "0 contacts match" in text
        assert "the first 5,000 contacts" in text and "run ameyo-mcp sync" in text, text
        assert "not a 'not found'" in text, text
        result = await session.call_tool(
            "ameyo_add_callback", {"campaign": CAMPAIGN, "phone": phone, "callback_time": CALLBACK_AT}
        )
        text = text_of(result)
        assert result.is_error and "the first 5,000 contacts" in text and "run ameyo-mcp sync" in text, text


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_customer_added_after_the_sync_is_found_among_the_newest(
    client: Client, synced: Settings, big: SimulatorThread
) -> None:
    phone = "9812300077"
    [outcome] = big.state.upload_contacts(
        CAMPAIGN, 21, UploadOptions(), [{"phone1": phone, "name": "Zubin Latecomer"}]
    )
    added = outcome.customer_id
    assert added is not None
    store = open_store(synced)
    try:
        assert await anyio.to_thread.run_sync(lambda: store.contact(CAMPAIGN, added)) is None
    finally:
        store.close()
    text, requests = await get_contacts(client, big, phone=phone[-6:])
    assert f"{added} " in text and "newest contacts in Ameyo" in text, text
    assert requests == 1  # no candidate in the index: only the newest contacts were read
    result = await client.call_tool(
        "ameyo_add_callback", {"campaign": CAMPAIGN, "phone": phone, "callback_time": CALLBACK_AT}
    )
    assert not result.is_error, text_of(result)
    # A number nobody has: the answer says what it could not rule out (every customer added since
    # the sync was read: only a number changed since).
    text, _ = await get_contacts(client, big, phone="9000011111")
    assert "0 contacts match" in text and "number or name changed in Ameyo since the sync" in text, text


@pytest.mark.slow
@pytest.mark.anyio
async def test_an_upload_adds_its_customers_to_the_index_at_once(
    client: Client, synced: Settings, big: SimulatorThread
) -> None:
    phone = "9876012345"
    result = await client.call_tool(
        "ameyo_upload_contacts",
        {"campaign": CAMPAIGN, "lead_id": 21, "records": [{"phone1": phone, "name": "Nila Fresh"}]},
    )
    assert not result.is_error, text_of(result)
    added = next(c for c in big.state.contacts(CAMPAIGN) if c.customer_data.get("phone1") == phone)
    store = open_store(synced)
    try:
        indexed = await anyio.to_thread.run_sync(lambda: store.find_by_phone(CAMPAIGN, phone))
    finally:
        store.close()
    assert [(c.customer_id, c.names, c.status) for c in indexed] == [
        (added.customer_id, "nila fresh", "NOT_TRIED")
    ]
    text, requests = await get_contacts(client, big, search="nila fre")
    # The newest contacts, Nila among them: not read again by id.
    assert f"{added.customer_id} " in text and ": 1 contact matches" in text and requests == 1, text


@pytest.mark.anyio
async def test_lookups_and_upload_updates_on_either_backend(database_url: str, tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=3000)) as sim:
        settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url)
        await _sync(settings)
        customer = last_indian(sim)
        phone = str(customer.customer_data["phone1"])
        async with Client(create_server(settings)) as session:
            text, requests = await get_contacts(session, sim, phone=phone[-6:])
            # The newest contacts, and the index's customer by id, asked at once.
            assert f"{customer.customer_id} " in text and "index of 3,0" in text and requests == 2, text
            result = await session.call_tool(
                "ameyo_upload_contacts",
                {"campaign": CAMPAIGN, "lead_id": 21, "records": [{"phone1": "9876012399", "name": "Ila"}]},
            )
            assert not result.is_error, text_of(result)
            text, requests = await get_contacts(session, sim, phone="+91 98760 12399")
            # The newest contacts, Ila among them (the index holds her already), and Ila by id: one
            # answer from Ameyo waited for, as the two are asked at once.
            assert "1 contact match" in text and requests == 2, text
            result = await session.call_tool(
                "ameyo_add_callback",
                {"campaign": CAMPAIGN, "phone": "9876012399", "callback_time": CALLBACK_AT},
            )
            assert not result.is_error, text_of(result)


@pytest.mark.anyio
async def test_a_store_that_cannot_be_opened_refuses_writes_and_is_said(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=str(tmp_path / "not-a-folder" / "index.db"))
        async with Client(create_server(settings)) as session:
            result = await session.call_tool(
                "ameyo_upload_contacts",
                {"campaign": CAMPAIGN, "lead_id": 21, "records": [{"phone1": "9876012388", "name": "Ila"}]},
            )
            # The write ledger is in the store: a write it cannot record is not sent at all.
            assert result.is_error, text_of(result)
            assert "Nothing was sent: the write ledger cannot be used" in text_of(result), text_of(result)
            assert "not-a-folder" in text_of(result) and "Traceback" not in text_of(result)
            assert sim.state.executed["uploadContacts"] == 0
            text, _ = await get_contacts(session, sim, phone="9876000001")
            assert "the local index could not be read" in text and "searched Ameyo directly" in text, text


@pytest.mark.anyio
async def test_uploads_with_callbacks_and_updates_reach_the_index(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=2000)) as sim:
        settings = settings_for(sim, tmp_path)
        await _sync(settings)
        known = last_indian(sim)
        async with Client(create_server(settings)) as session:
            result = await session.call_tool(
                "ameyo_upload_contacts_with_callbacks",
                {
                    "campaign": CAMPAIGN,
                    "lead_id": 21,
                    "records": [
                        {
                            "customer": {"phone1": "9876012377", "name": "Ravi Nuevo"},
                            "callback_time": CALLBACK_AT,
                        }
                    ],
                },
            )
            assert not result.is_error, text_of(result)
            result = await session.call_tool(
                "ameyo_upload_contacts",
                {
                    "campaign": CAMPAIGN,
                    "lead_id": known.lead_id,
                    "records": [{"phone1": str(known.customer_data["phone1"]), "name": "Renamed Person"}],
                    "update_existing": True,
                },
            )
            assert not result.is_error and "updated 1" in text_of(result), text_of(result)
        store = open_store(settings)
        try:
            [new] = store.find_by_phone(CAMPAIGN, "9876012377")
            updated = store.contact(CAMPAIGN, known.customer_id)
        finally:
            store.close()
        assert new.names == "ravi nuevo"
        # As Ameyo holds a customer a callback upload added: not "UNKNOWN", which no listing asks for.
        assert (new.status, new.attempts) == ("NOT_TRIED", 0)
        assert sim.state.contact(new.customer_id).columns["status"] == "NOT_TRIED"  # type: ignore[union-attr]
        assert updated is not None and updated.names == "renamed person"
        # The other numbers Ameyo keeps for the customer stay in the index.
        numbers = [str(v) for k, v in known.customer_data.items() if "phone" in k and v]
        assert set(updated.phones) == {phones.key(n, settings.phone_region) for n in numbers}
        live = sim.state.contact(known.customer_id)
        assert live is not None and live.customer_data["name"] == "Renamed Person"


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["tool", "cli"])
async def test_a_file_upload_adds_its_customers_to_the_index_at_once(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "list.csv").write_text("phone1,name\n9876012401,Asha Filed\n9876012402,Ravi Filed\n")
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=200)) as sim:
        settings = settings_for(sim, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
        await _sync(settings)
        if path == "tool":
            async with Client(create_server(settings)) as session:
                result = await session.call_tool(
                    "ameyo_upload_contacts_file",
                    {"file": "list.csv", "campaign": CAMPAIGN, "lead_id": 21, "dry_run": False},
                )
                assert "added 2," in text_of(result), text_of(result)
        else:
            from ameyo_mcp.writes.bulk.engine import upload_file
            from ameyo_mcp.writes.bulk.options import BulkOptions
            from ameyo_mcp.writes.path import WritePath

            ameyo = Ameyo(settings)
            try:
                options = BulkOptions(campaign=CAMPAIGN, lead_id=21)
                out = await upload_file(
                    WritePath.for_settings(ameyo, confirm=False), folder / "list.csv", options
                )
            finally:
                await ameyo.aclose()
            assert out.ok == 2
        store = open_store(settings)
        try:
            found = [store.find_by_phone(CAMPAIGN, p) for p in ("9876012401", "9876012402")]
        finally:
            store.close()
    assert [[c.names for c in f] for f in found] == [["asha filed"], ["ravi filed"]]


@pytest.mark.anyio
async def test_uploads_into_a_campaign_never_synced_leave_the_index_alone(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated", contacts=200)) as sim:
        settings = settings_for(sim, tmp_path)
        async with Client(create_server(settings)) as session:
            result = await session.call_tool(
                "ameyo_upload_contacts",
                {"campaign": CAMPAIGN, "lead_id": 21, "records": [{"phone1": "9876012501"}]},
            )
            assert "added 1," in text_of(result), text_of(result)
        store = open_store(settings)
        try:
            # Lookups scan live until a first sync, which brings every contact: nothing to keep.
            assert store.find_by_phone(CAMPAIGN, "9876012501") == []
            assert store.campaign(CAMPAIGN) is None
        finally:
            store.close()
