"""The do-not-call check of an upload's callbacks looks customers up as `ameyo_add_callback` does:
a customer the campaign's index finds by any of their numbers is the one the callback rings, and
when Ameyo cannot be asked for their last disposition the callback is held back, saying why,
rather than scheduled unchecked. Through the upload with callbacks and a contact file alike."""

from __future__ import annotations

import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.rules import phones
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import process_env, server_of, settings_for, synced, text_of, transport_of
from tests.test_bulk_exact import cli
from tests.test_bulk_upload import read_result
from tests.test_file_do_not_call import added_after_the_sync, dnc_file, karthiks_callbacks

pytestmark = pytest.mark.anyio

KARTHIK = 12005  # Karthik Joshi, lead 1: last disposition DNC
LATER = "2031-05-01T11:00:00"
UNREAD = "could not be read from Ameyo"


def priya_on_karthiks_line(simulator: SimulatorThread) -> Any:
    """Priya (12001, no disposition) with Karthik's phone1 as her phone2: a family line, and Karthik
    is do-not-call."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns.get("disposition") == "DNC"
    with simulator.state._lock:
        priya = simulator.state._find(12001)
        assert priya is not None
        priya.customer_data["phone2"] = karthik.phone1
        priya.columns.pop("disposition", None)
    return priya


def calls_to(simulator: SimulatorThread, number: str) -> list[Any]:
    key = phones.key(number, "IN")
    return [cb for cb in simulator.state.callbacks(1) if phones.key(cb.phone, "IN") == key]


def do_not_call_by_phone2(simulator: SimulatorThread) -> tuple[int, str]:
    """A customer whose phone2 is nobody's phone1, marked do-not-call: their id and phone2."""
    contacts = simulator.state.contacts(1)
    firsts = {phones.identity(c.phone1, "IN") for c in contacts}
    contact = next(
        c
        for c in contacts
        if c.customer_data.get("phone2")
        and phones.is_complete(c.customer_data["phone2"], "IN")
        and phones.identity(c.customer_data["phone2"], "IN") not in firsts
    )
    with simulator.state._lock:
        simulator.state._find(contact.customer_id).columns["disposition"] = "DNC"
    return contact.customer_id, contact.customer_data["phone2"]


async def test_a_callback_to_a_do_not_call_customers_other_number_needs_the_persons_yes(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    customer_id, other = do_not_call_by_phone2(simulator)
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "other.csv").write_text(f"phone1,name,callback_time\n{other},Same person,{LATER}\n")
    settings = settings_for(
        simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59", AMEYO_UPLOAD_DIRS=str(folder)
    )
    await synced(simulator, settings)
    said = f"customer {customer_id}'s last disposition is 'DNC' (do not call)"
    async with Client(server_of(simulator, settings)) as client:
        by_tool = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": other, "callback_time": LATER}
        )
        assert by_tool.is_error and "do not call" in text_of(by_tool), text_of(by_tool)
        record = {"customer": {"phone1": other, "name": "Same person"}, "callback_time": LATER}
        upload = {"campaign": 1, "lead_id": 1, "records": [record]}
        sent = await client.call_tool("ameyo_upload_contacts_with_callbacks", upload)
        assert said in text_of(sent) and "despite_do_not_call=true" in text_of(sent), text_of(sent)
        filed = await client.call_tool(
            "ameyo_upload_contacts_file", {"campaign": 1, "lead_id": 1, "file": "other.csv", "dry_run": False}
        )
        rows = read_result(folder / "other.csv.lead-1.ameyo-result.csv")
        assert rows[2]["result"] == "REFUSED" and said in rows[2]["reason"], (rows, text_of(filed))
        assert calls_to(simulator, other) == []
        confirmed = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks", upload | {"despite_do_not_call": True}
        )
    assert not confirmed.is_error and "as the person confirmed" in text_of(confirmed), text_of(confirmed)
    assert len(calls_to(simulator, other)) == 1


async def test_a_callback_whose_customers_disposition_cannot_be_read_is_held_back(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns.get("disposition") == "DNC"
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "karthik.csv").write_text(
        f"phone1,name,callback_time\n{karthik.phone1},Karthik Joshi,{LATER}\n9876500873,Ana,{LATER}\n"
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    faults = simulator.state.faults
    records = [
        {"customer": {"phone1": karthik.phone1, "name": "Karthik Joshi"}, "callback_time": LATER},
        {"customer": {"phone1": "9876500874", "name": "Bo"}, "callback_time": LATER},
    ]
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.html_502 = {"getContacts"}, -1  # Ameyo's reads fail, for a while
        try:
            sent = await client.call_tool(
                "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 1, "records": records}
            )
            filed = await client.call_tool(
                "ameyo_upload_contacts_file",
                {"campaign": 1, "lead_id": 1, "file": "karthik.csv", "dry_run": False},
            )
        finally:
            faults.reset()
    assert calls_to(simulator, karthik.phone1) == []
    text = text_of(sent)
    assert not sent.is_error and UNREAD in text and "despite_do_not_call=true if" in text, text
    # Only the record whose customer the index knows is held back; the new customer's goes.
    assert len(calls_to(simulator, "9876500874")) == 1, text
    rows = read_result(folder / "karthik.csv.lead-1.ameyo-result.csv")
    assert rows[2]["result"] == "REFUSED" and UNREAD in rows[2]["reason"], (rows, text_of(filed))
    assert rows[3]["result"] == "ADDED", rows


@pytest.mark.network  # the CLI is a process of its own
@pytest.mark.parametrize("fault", ["empty_list", "short_list"])
async def test_a_customer_ameyos_answer_leaves_out_is_not_read_either(tmp_path: Path, fault: str) -> None:
    """The index finds Karthik by the number the file's callback dials; Ameyo's getContacts answer
    for him leaves him out (an empty list, or one short of its last row). His disposition was not
    read: his callback is held back, through `ameyo-mcp upload` as a real process, as for an answer
    that could not be read at all. It had been scheduled, unchecked and unsaid."""
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        source = dnc_file(sim, tmp_path / "callbacks.csv")
        await synced(sim, settings_for(sim, tmp_path))
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": str(tmp_path / "index.db")}

        def upload() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cli(source), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )

        sim.state.faults.commands = {"getContacts"}
        setattr(sim.state.faults, fault, -1)
        done = upload()
        called_back = karthiks_callbacks(sim)
    rows = read_result(tmp_path / "callbacks.csv.lead-1.ameyo-result.csv")
    assert called_back == [], (done.stdout, rows[2])
    assert rows[2]["result"] == "REFUSED" and "left the customer out" in rows[2]["reason"], rows
    assert rows[3]["result"] == "ADDED", rows


async def test_a_callback_to_another_of_a_do_not_call_customers_numbers_needs_the_persons_yes(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Karthik's record (phone1 his, do-not-call) with a callback to a new number of his: Ameyo
    matches the record to him by phone1, and the callback rings him there. The check had looked
    only at the number dialled, which no one in the index holds, and scheduled it."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns.get("disposition") == "DNC"
    new = "9876500999"  # nobody's number
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "k.csv").write_text(
        "phone1,phone2,name,callback_time,callback_phone\n"
        f"{karthik.phone1},{new},Karthik Joshi,{LATER},{new}\n"
    )
    settings = settings_for(
        simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59", AMEYO_UPLOAD_DIRS=str(folder)
    )
    await synced(simulator, settings)
    record = {
        "customer": {"phone1": karthik.phone1, "phone2": new, "name": "Karthik Joshi"},
        "callback_time": LATER,
        "callback_phone": new,
    }
    said = f"customer {KARTHIK}'s last disposition is 'DNC' (do not call)"
    async with Client(server_of(simulator, settings)) as client:
        sent = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 1, "records": [record]}
        )
        filed = await client.call_tool(
            "ameyo_upload_contacts_file", {"campaign": 1, "lead_id": 1, "file": "k.csv", "dry_run": False}
        )
    assert said in text_of(sent), text_of(sent)
    rows = read_result(folder / "k.csv.lead-1.ameyo-result.csv")
    assert rows[2]["result"] == "REFUSED" and said in rows[2]["reason"], (rows, text_of(filed))
    assert calls_to(simulator, new) == []


@pytest.mark.parametrize("fault", ["html_502", "empty_list"])
async def test_a_files_answer_names_the_way_past_an_unread_disposition(
    simulator: SimulatorThread, tmp_path: Path, fault: str
) -> None:
    """A row's reason is cut in the answer: the step past a disposition not read (send it later, or
    with despite_do_not_call) had been cut off with it, and said nowhere else a model reads."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "k.csv").write_text(f"phone1,name,callback_time\n{karthik.phone1},Karthik,{LATER}\n")
    settings = settings_for(
        simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_CALLING_HOURS="00:00-23:59"
    )
    await synced(simulator, settings)
    simulator.state.faults.commands = {"getContacts"}
    setattr(simulator.state.faults, fault, -1)
    async with Client(server_of(simulator, settings)) as client:
        for dry_run in (True, False):
            answer = await client.call_tool(
                "ameyo_upload_contacts_file",
                {"campaign": 1, "lead_id": 1, "file": "k.csv", "dry_run": dry_run},
            )
            text = text_of(answer)
            assert "1 row with a callback (lines 2) was held back: whether its customer" in text, text
            assert "or with despite_do_not_call=true (CLI: --despite-do-not-call) if the person" in text, text
    assert calls_to(simulator, karthik.phone1) == []


async def test_a_callback_by_customer_id_to_a_number_a_do_not_call_customer_holds_needs_the_persons_yes(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Priya's phone2 is Karthik's phone1 (a shared family line), and Karthik is do-not-call. A
    callback to Priya on that number rings Karthik's line: the upload with callbacks holds it back
    (it checks the customer the number dials), and ameyo_add_callback by customer_id must too. It
    checked only Priya, and scheduled it."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None
    priya = priya_on_karthiks_line(simulator)
    priya_id, priya_phone1 = priya.customer_id, priya.phone1
    settings = settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59")
    await synced(simulator, settings)
    said = f"customer {KARTHIK}'s last disposition is 'DNC'"
    async with Client(server_of(simulator, settings)) as client:
        record = {
            "customer_id": priya_id,
            "customer": {"phone1": priya_phone1, "phone2": karthik.phone1},
            "callback_time": LATER,
            "callback_phone": karthik.phone1,
        }
        upload = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": priya.lead_id, "records": [record], "update_existing": True},
        )
        assert said in text_of(upload), text_of(upload)
        by_id = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": priya_id, "phone": karthik.phone1, "callback_time": LATER},
        )
    assert calls_to(simulator, karthik.phone1) == [], text_of(by_id)
    assert by_id.is_error and said in text_of(by_id) and "despite_do_not_call=true" in text_of(by_id)


async def test_a_do_not_call_customer_added_after_the_sync_is_checked_as_ameyo_add_callback_checks(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A customer added in Ameyo's own screens after the index's last sync, and marked do-not-call:
    ameyo_add_callback by their number finds them among the newest contacts (read live) and holds
    the callback back. An upload of their record with a callback (update_existing: Ameyo matches it
    to them by phone1) must not schedule it unchecked and unsaid."""
    settings = settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59")
    await synced(simulator, settings)
    phone = "9812300077"
    zubin_id = added_after_the_sync(simulator, {"phone1": phone, "name": "Zubin"}, disposition="DNC")
    said = f"customer {zubin_id}'s last disposition is 'DNC'"
    record = {"customer": {"phone1": phone, "name": "Zubin"}, "callback_time": LATER}
    async with Client(server_of(simulator, settings)) as client:
        by_tool = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": phone, "callback_time": LATER}
        )
        assert by_tool.is_error and "do not call" in text_of(by_tool), text_of(by_tool)
        sent = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 1, "records": [record], "update_existing": True},
        )
    assert calls_to(simulator, phone) == [], text_of(sent)
    assert said in text_of(sent) and "despite_do_not_call=true" in text_of(sent), text_of(sent)


class _ReadsFailAfterTheFirst(httpx.AsyncBaseTransport):
    """Ameyo whose getContacts answers a proxy's 502 after the first: the customer a callback names
    is read, and nothing after."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.reads = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if b"command=getContacts" in await request.aread():
            self.reads += 1
            if self.reads > 1:
                return httpx.Response(
                    502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"}
                )
        return await self.inner.handle_async_request(request)


async def test_a_callback_by_customer_id_to_a_shared_line_not_read_is_held_back(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """The other customer on the line the callback dials could not be read: ameyo_add_callback holds
    it back with the way through, as an upload's callback to that line is held back. It had been
    scheduled, unsaid."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None
    priya_id = priya_on_karthiks_line(simulator).customer_id
    settings = settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59")
    await synced(simulator, settings)
    callback = {"campaign": 1, "customer_id": priya_id, "phone": karthik.phone1, "callback_time": LATER}
    transport = _ReadsFailAfterTheFirst(transport_of(simulator))
    async with Client(create_server(settings, ameyo_factory=partial(Ameyo, transport=transport))) as client:
        held = await client.call_tool("ameyo_add_callback", callback)
        assert calls_to(simulator, karthik.phone1) == [], text_of(held)
        assert held.is_error and UNREAD in text_of(held), text_of(held)
        assert "despite_do_not_call=true if the person confirms" in text_of(held), text_of(held)
        transport.reads = 0
        confirmed = await client.call_tool("ameyo_add_callback", callback | {"despite_do_not_call": True})
    assert not confirmed.is_error and "scheduled as the person confirmed" in text_of(confirmed)
    assert len(calls_to(simulator, karthik.phone1)) == 1


async def test_a_do_not_call_customer_added_after_the_sync_on_an_indexed_customers_line_is_checked(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """Zed, added in Ameyo after the index's sync and marked do-not-call, has Priya's number as his
    phone2 (a family line). A callback to Priya on that number rings his line: the index finds
    Priya by it, and the newest contacts were read only for the numbers the index found nobody by,
    so Zed was never looked at and the callback was scheduled, by ameyo_add_callback and the
    upload with callbacks alike."""
    priya = simulator.state.contact(12001)
    assert priya is not None
    with simulator.state._lock:
        simulator.state._find(12001).columns.pop("disposition", None)  # type: ignore[union-attr]
    settings = settings_for(simulator, tmp_path, AMEYO_CALLING_HOURS="00:00-23:59")
    await synced(simulator, settings)
    zed = {"phone1": "9812300079", "phone2": priya.phone1, "name": "Zed"}
    said = f"customer {added_after_the_sync(simulator, zed, disposition='DNC')}'s last disposition is 'DNC'"
    record = {
        "customer_id": 12001,
        "customer": {"phone1": priya.phone1},
        "callback_time": LATER,
        "callback_phone": priya.phone1,
    }
    async with Client(server_of(simulator, settings)) as client:
        by_id = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": 12001, "phone": priya.phone1, "callback_time": LATER},
        )
        upload = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": priya.lead_id, "records": [record], "update_existing": True},
        )
    assert calls_to(simulator, priya.phone1) == [], (text_of(by_id), text_of(upload))
    assert by_id.is_error and said in text_of(by_id), text_of(by_id)
    assert said in text_of(upload), text_of(upload)
