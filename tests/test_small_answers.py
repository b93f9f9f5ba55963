"""Small answers that must not mislead: each count counts what it names, an empty look says why it
is empty, and a record is told what became of each of its fields. Through a real MCP client against
the simulator."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.server.calls_today import URI
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import InProcessSimulator, process_env, server_of, settings_for, synced, text_of
from tests.test_bulk_exact import cli
from tests.test_fences import IST, TOKEN, receiver

pytestmark = pytest.mark.anyio
NAMELESS = "a field has no name"


async def test_a_customer_id_given_twice_is_counted_once(client: Client) -> None:
    """[12001, 12001, 12001] answered "1 contact matches 3 customer ids": read as two customers
    missing."""
    once = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001] * 3})
    text = text_of(once)
    assert "1 contact matches 1 customer id (2 repeats taken once)" in text, text
    two = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001, 12002, 12001]})
    assert "2 contacts match 2 customer ids (1 repeat taken once)" in text_of(two), text_of(two)
    plain = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [12001, 12002]})
    assert "2 contacts match 2 customer ids (looked in" in text_of(plain), text_of(plain)


async def test_a_disabled_lead_skipped_by_enabled_leads_only_is_not_called_empty(
    client: Client, simulator: InProcessSimulator
) -> None:
    """Lead 35 is disabled: with enabled_leads_only the answer said it "looked in: all 0 contacts of
    lead 35", an empty lead, and with lead 21 beside it "all 97 contacts of leads 35, 21", though
    none of them was lead 35's. It is said to be skipped, and not named among the leads read."""
    assert not next(lead for lead in simulator.state.leads(1) if lead.lead_id == 35).enabled
    alone = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "lead_ids": [35], "enabled_leads_only": True}
    )
    text = text_of(alone)
    assert not alone.is_error, text
    assert "0 contacts of lead 35" not in text, text
    assert "(looked in: nothing: lead 35 is disabled, and enabled_leads_only skips it)" in text, text
    assert "Lead 35 is disabled, and enabled_leads_only leaves disabled leads out" in text, text
    assert alone.structured_content is not None and alone.structured_content["scanned"] == 0
    beside = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "lead_ids": [35, 21], "enabled_leads_only": True}
    )
    text = text_of(beside)
    in_21 = sum(1 for c in simulator.state.contacts(1) if c.lead_id == 21)
    assert f"looked in: all {in_21} contacts of lead 21, read live" in text, text
    assert "leads 35, 21" not in text and "Lead 35 is disabled" in text, text


async def test_a_field_without_a_name_is_refused_with_its_record(
    client: Client, simulator: InProcessSimulator, tmp_path: Path
) -> None:
    """A record's field named "" (or " ") was dropped without a word by the record tools, and sent
    to Ameyo as a column named "" from a JSON-lines file: its value kept nowhere, and the answer
    said every record went as given. The record is refused, and told why."""
    records = [
        {"phone1": "9876012301", "name": "Named Right"},
        {"phone1": "9876012302", "": "VIP", "name": "Blank Key"},
        {"phone1": "9876012303", " ": "x"},
    ]
    sent = await client.call_tool("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records})
    text = text_of(sent)
    assert not sent.is_error and sent.structured_content is not None, text
    assert sent.structured_content["added"] == 1 and sent.structured_content["refused"] == 2, text
    for position in (2, 3):
        assert f"record {position}: 98760123{position:02d}: {NAMELESS}" in text, text
    held = {c.phone1 for c in simulator.state.contacts(1)}
    assert "9876012301" in held and not {"9876012302", "9876012303"} & held
    folder = tmp_path / "uploads"
    folder.mkdir()
    rows = [{"phone1": "9876012304", "name": "Row"}, {"phone1": "9876012305", "": "VIP"}]
    (folder / "f.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as files:
        run = await files.call_tool(
            "ameyo_upload_contacts_file", {"campaign": 1, "lead_id": 21, "file": "f.jsonl", "dry_run": False}
        )
    text = text_of(run)
    assert "refused before sending 1; sent in this run 1" in text, text
    assert f"line 2: 9876012305: {NAMELESS}" in text, text
    assert all("" not in c.customer_data for c in simulator.state.contacts(1))


async def test_a_customer_id_among_a_records_fields_is_said_to_choose_no_customer(
    client: Client, simulator: InProcessSimulator, settings: Settings
) -> None:
    """A model correcting customer 12001's number uploaded {"customerId": 12001, "phone1": <new>}:
    Ameyo matches by phone1, so it added a second customer, and the answer said only "added 1" (with
    an index, that customerId is not a field the campaign's customers have, and to rename it). Each
    such record is told that the field chose no customer, and what Ameyo did with it instead."""
    await synced(simulator, settings)
    held = next(c.phone1 for c in simulator.state.contacts(1) if c.customer_id == 12001)
    records = [
        {"phone1": "9876012311", "customerId": "12001", "name": "Priya Sharma"},
        {"phone1": held, "customer_id": 12001, "name": "Priya Sharma"},
        {"phone1": "9876012312", "name": "Nobody Else"},
    ]
    args = {"campaign": 1, "lead_id": 21, "records": records, "update_existing": True}
    dry = await client.call_tool("ameyo_upload_contacts", args | {"dry_run": True})
    sent = await client.call_tool("ameyo_upload_contacts", args)
    said = (
        "records 1, 2 give a customer id among their fields (customerId 12001; customer_id 12001), but "
        "Ameyo matches an uploaded customer by phone1 (by default), and its uploads take no customer id "
        "to match on: those fields {} no customer"
    )
    assert said.format("would choose") in text_of(dry), text_of(dry)
    text = text_of(sent)
    assert said.format("chose") in text, text
    added = next(c.customer_id for c in simulator.state.contacts(1) if c.phone1 == "9876012311")
    assert f"record 1 ADDED customer {added}, not customer 12001; record 2 UPDATED customer 12001." in text
    assert sent.structured_content is not None and any(
        "customerId 12001" in n for n in sent.structured_content["notes"]
    )
    assert "rename" not in text_of(dry) and "names corrected" not in text, text  # not a misspelt field
    plain = await client.call_tool("ameyo_upload_contacts", args | {"records": records[2:], "dry_run": True})
    assert "customer id among" not in text_of(plain), text_of(plain)


def ids_file(path: Path) -> Path:
    """Line 2 gives customer 12001's id beside a new number (meant to correct theirs); line 3 none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "phone1,customerId,name\n9876012341,12001,Priya Sharma\n9876012342,,Nobody Else\n", encoding="utf-8"
    )
    return path


FILE_SAID = (
    "line 2 gives a customer id among its fields (customerId 12001), but Ameyo matches an uploaded "
    "customer by phone1 (by default), and its uploads take no customer id to match on: that field {} no "
    "customer"
)


def added_as(simulator: InProcessSimulator | SimulatorThread, phone1: str) -> int:
    return next(c.customer_id for c in simulator.state.contacts(1) if c.phone1 == phone1)


async def test_a_files_customer_id_column_is_told_it_chose_no_customer(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    """The records tools tell a record's customerId that it chose no customer; a contact file with a
    customerId column said "added 1" (with an index: that customerId is not a field the campaign's
    customers have, rename it), though Ameyo had added a second customer beside 12001. The file
    tool's dry run and run say what the records tools say, by line."""
    folder = tmp_path / "uploads"
    ids_file(folder / "ids.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    args = {"campaign": 1, "lead_id": 21, "file": "ids.csv"}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts_file", args)
        sent = await client.call_tool("ameyo_upload_contacts_file", args | {"dry_run": False})
    assert FILE_SAID.format("would choose") in text_of(dry), text_of(dry)
    text = text_of(sent)
    assert FILE_SAID.format("chose") in text, text
    added = added_as(simulator, "9876012341")
    assert f"Ameyo's answer: line 2 ADDED customer {added}, not customer 12001." in text, text
    assert "and update_existing=true (--update)." in text, text
    assert "rename" not in text_of(dry) and "names corrected" not in text, text  # not a misspelt field


@pytest.mark.network  # the CLI is a process of its own
async def test_the_cli_tells_a_files_customer_id_column_it_chose_no_customer(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        source = ids_file(tmp_path / "ids.csv")
        await synced(sim, settings_for(sim, tmp_path))
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": str(tmp_path / "index.db")}

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cli(source, *extra, lead=21),
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )

        for extra, did in ((("--dry-run",), "would choose"), ((), "chose")):
            done = run(*extra)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (done.stdout, done.stderr)
            assert FILE_SAID.format(did) in done.stdout, done.stdout
        added = added_as(sim, "9876012341")
        assert f"line 2 ADDED customer {added}, not customer 12001." in done.stdout, done.stdout


async def test_a_customer_id_field_that_spells_no_id_is_told_after_its_record_went(
    client: Client, simulator: InProcessSimulator
) -> None:
    """A customerId of "²" (isdigit(), though no number int() reads) crashed the answer after the
    record had been sent: Ameyo added the customer, and the model was told that something went
    wrong and the write may or may not have been applied. Such a value names no customer: the note
    names the field alone, and the record's outcome is told."""
    records = [{"phone1": "9876012321", "customerId": "\u00b2", "name": "Odd Id"}]
    sent = await client.call_tool("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records})
    text = text_of(sent)
    assert not sent.is_error and sent.structured_content is not None, text
    assert sent.structured_content["added"] == 1, text
    added = next(c.customer_id for c in simulator.state.contacts(1) if c.phone1 == "9876012321")
    assert "record 1 gives a customer id among its fields (customerId)" in text, text
    assert f"record 1 ADDED customer {added}." in text and "not customer" not in text, text


async def test_todays_calls_say_that_a_call_is_dated_after_now(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    """A call pushed with a callStartTime two days ahead (a clock or a zone off) was left out of
    ameyo://calls/today without a word, where ameyo_call_history says such a call exists: the
    resource says it, in the history's words."""
    settings = settings_for(simulator, tmp_path, AMEYO_PUSH_TOKEN=TOKEN)
    ahead = datetime.now(IST) + timedelta(days=2)
    async with receiver(settings) as push:
        await push(customerId="12001", campaignId="1", systemDisposition="BUSY")
        async with Client(server_of(simulator, settings)) as client:
            before = json.loads((await client.read_resource(URI)).contents[0].text)  # type: ignore[union-attr]
            await push(customerId="12002", campaignId="1", callStartTime=ahead.strftime("%Y-%m-%d %H:%M:%S"))
            after = json.loads((await client.read_resource(URI)).contents[0].text)  # type: ignore[union-attr]
            history = text_of(await client.call_tool("ameyo_call_history", {}))
    assert "dated_after_now" not in before, before
    assert after["calls"] == 1, after
    said = after["dated_after_now"]
    assert said["calls"] == 1 and said["latest"].startswith(ahead.strftime("%Y-%m-%dT%H:%M")), said
    assert said["note"] in history, (said, history)
    assert said["note"].startswith("1 call pushed to this server is dated after now (the latest at"), said
